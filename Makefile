# CyberMesh — every gate of the development policy, one target each.
#   make run    set up, then run the main job: the viewer with a display, `serve` without one
#   make test   set up, then run every gate: lint, type, docs, unit/integration tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CODE := game components systems web scripts tests
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test lint type docs unit bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/install_system_deps.sh
	bash scripts/install_system_deps.sh
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CyberMesh needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch is pinned to the local CPU wheel; the constraints file pins everything else.
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt "torch==2.13.0" -e ".[dev]"
	touch $(STAMP)

run: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(VENV)/bin/cybermesh view; \
	else \
		echo "no display: running the headless cybermesh serve (open its URL in a browser)"; \
		$(VENV)/bin/cybermesh serve; \
	fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/flake8 $(CODE)

type: setup
	$(VENV)/bin/mypy --strict $(CODE)

docs: setup
	$(PY) scripts/check_docstrings.py
	$(PY) scripts/check_spec_drift.py
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir .site

unit: setup
	$(VENV)/bin/pytest -q

test: lint type docs unit

bench: setup
	$(VENV)/bin/cybermesh bench --scenario ca --json bench-ca.json
	$(VENV)/bin/cybermesh bench --scenario detect --json bench-detect.json

clean:
	rm -rf $(VENV) .site .mypy_cache .ruff_cache .pytest_cache .benchmarks
