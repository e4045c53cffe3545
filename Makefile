# CyberMesh — every gate of the development policy, one target each.
#   make run    set up, then run the main job: the viewer with a display, `serve` without one
#   make test   set up, then run every gate: lint, type, docs, security, unit/integration tests,
#               and the performance gate (a short bench and its checks, `make perf`)
#   make security   the security gate alone: config schema (yamale), new secrets (detect-secrets),
#                   known vulnerabilities (pip-audit: AUDITED CLEAN passes, a FINDING fails,
#                   NOT AUDITED is reported with its reason and fails only with AUDIT_STRICT=1)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CODE := game components systems web scripts tests
# Run configs the schema validates, by name (not the folder: config/ holds other YAML too).
CONFIGS := config/default.yaml
PIP_AUDIT ?= $(VENV)/bin/pip-audit
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test lint type docs security schema secrets audit vendor unit matrix bench perf \
	perf-baseline clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/install_system_deps.sh
	bash scripts/install_system_deps.sh
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CyberMesh needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch is pinned to the local CPU wheel; the constraints file pins everything else.
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt "torch==2.13.0" -e ".[dev,ray]"
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
	# The import contracts of .importlinter: the layers, independent systems, no cycles.
	$(VENV)/bin/lint-imports --no-logo --no-cache

type: setup
	$(VENV)/bin/mypy --strict $(CODE)

docs: setup
	$(PY) scripts/check_docstrings.py
	$(PY) scripts/check_spec_drift.py
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir .site

security: schema secrets audit vendor

schema: setup
	$(VENV)/bin/yamale -n 1 -s config/schema.yaml $(CONFIGS)

# Every file git would commit (tracked or new, not ignored); the baseline's own filters drop the
# vendored JS, binary assets, adapters and tests/corpus/ (hostile YAML: a bomb hangs the scanner).
# A finding is audited into .secrets.baseline or removed. The hook runs on a copy: where a known
# false positive only moved, it rewrites its baseline and exits 3, which must neither dirty the
# checkout nor fail the gate.
secrets: setup
	@baseline=$$(mktemp) && cp .secrets.baseline "$$baseline" && \
	out=$$(timeout 300 $(VENV)/bin/detect-secrets-hook --baseline "$$baseline" \
		$$(git ls-files --cached --others --exclude-standard) 2>&1); rc=$$?; rm -f "$$baseline"; \
	if [ $$rc -eq 0 ]; then echo "detect-secrets: no new secret"; \
	elif [ $$rc -eq 3 ]; then rc=0; echo "detect-secrets: no new secret (a known false positive" \
		"moved: refresh with detect-secrets scan --baseline .secrets.baseline)"; \
	elif [ $$rc -eq 1 ] && [[ "$$out" != *Traceback* ]]; then echo "$$out"; \
	else echo "detect-secrets: the scan failed (exit $$rc): $$(echo "$$out" | tail -n 1)" \
		"(a file it cannot parse? exclude it in .secrets.baseline)"; rc=1; fi; exit $$rc

# pip-audit writes JSON; scripts/pip_audit_gate.py judges it: AUDITED CLEAN (exit 0), FINDING
# (1) or NOT AUDITED with the reason (3). No vulnerability database answers from the project's
# machines, so NOT AUDITED is reported, never as a pass, and fails only with AUDIT_STRICT=1 (for
# a machine that reaches one). `timeout` bounds a database that hangs instead of refusing.
AUDIT_STRICT ?= 0
AUDIT_TIMEOUT ?= 300
audit: setup
	@report=$$(mktemp) && \
	timeout $(AUDIT_TIMEOUT) $(PIP_AUDIT) --skip-editable --progress-spinner off -f json \
		-o "$$report" >/dev/null 2>"$$report.err"; \
	rc=$$?; $(PY) scripts/pip_audit_gate.py "$$report" "$$rc" "$$report.err"; status=$$?; \
	rm -f "$$report" "$$report.err"; \
	if [ $$status -eq 3 ] && [ "$(AUDIT_STRICT)" != 1 ]; then status=0; fi; exit $$status

# The JUnit report is what `make matrix` reads: which tests ran, passed, failed or skipped.
# The dashboard's vendored libraries are byte for byte the npm registry's releases they name
# (integrity-checked tarballs; the registry is one this project's machines reach).
vendor: setup
	$(PY) scripts/vendor_js.py --check

unit: setup
	@mkdir -p test-results
	$(VENV)/bin/pytest -q --junit-xml=test-results/junit.xml

# TEST-MATRIX's status column is true: every row marked "passing" names checks that make test
# runs (its tests ran and passed in make unit's report, none skipped; its scripts and commands
# are in make test's recipes; a bench-only row's scenario is one make perf runs). After unit.
matrix: setup
	$(PY) scripts/check_test_matrix.py --junit test-results/junit.xml

# perf last: short benches and the regression checks (the issue's "CI runs a short bench").
test: lint type docs security unit matrix perf

bench: setup
	$(VENV)/bin/cybermesh bench --scenario ca --json bench-ca.json
	$(VENV)/bin/cybermesh bench --scenario detect --json bench-detect.json

# The performance gate: quick benches (the full tick run paced at 30 ticks/s, as serve and view
# run it) against tests/performance_thresholds.yaml. Every threshold a report claims gets PASS or
# FAIL; a missing figure fails, and so does a `run: make perf` threshold no report carries; the
# rest are listed with the bench that judges them. The slip check compares the same-run ratios
# with the committed baseline of this machine's class (tests/baselines/<class>/, written by
# `make perf-baseline`): a class without one is reported as "slip check not done" (the CPU model
# of these machines varies; PERF_REQUIRE_BASELINE=1 makes that a failure).
# BASELINE=OLD.json also compares every figure with an earlier report of this machine (ms figures
# slip by noise on shared CPUs, so opt-in). Then the phase-1 memory budget around the tests of
# tests/test_performance.py. The folder starts empty: no report of an earlier run is judged.
PERF_DIR := test-results/perf
PERF_SCENARIOS := ca detect routing throughput glider energy pulse full
PERF_BENCH := $(VENV)/bin/cybermesh bench --quick
# The slip check's tolerance (current / baseline): docs/gates.md, "The slip check".
PERF_MAX_SLIP ?= 1.25
perf: setup
	@rm -rf $(PERF_DIR) && mkdir -p $(PERF_DIR)
	$(PERF_BENCH) --scenario ca --json $(PERF_DIR)/ca.json
	$(PERF_BENCH) --scenario detect --json $(PERF_DIR)/detect.json
	$(PERF_BENCH) --scenario routing --json $(PERF_DIR)/routing.json
	$(PERF_BENCH) --scenario throughput --json $(PERF_DIR)/throughput.json
	$(PERF_BENCH) --scenario glider --json $(PERF_DIR)/glider.json
	$(PERF_BENCH) --scenario energy --json $(PERF_DIR)/energy.json
	$(PERF_BENCH) --scenario pulse --json $(PERF_DIR)/pulse.json
	$(PERF_BENCH) --scenario full --rate 30 --json $(PERF_DIR)/full.json
	$(PY) scripts/check_performance_regression.py $(PERF_SCENARIOS:%=$(PERF_DIR)/%.json) \
		--thresholds tests/performance_thresholds.yaml --fail-missing --run "make perf" \
		--baseline-dir tests/baselines $(if $(filter 1,$(PERF_REQUIRE_BASELINE)),--require-baseline) \
		--max-slip $(PERF_MAX_SLIP) $(if $(BASELINE),--baseline $(BASELINE)) \
		$(if $(WRITE_BASELINE),--write-baseline tests/baselines)
	$(PY) scripts/memory_monitor.py --interval 0.5 --out test-results/memory-perf.jsonl -- \
		$(VENV)/bin/pytest -q tests/test_performance.py
	$(PY) scripts/check_memory_budget.py --threshold=1GB --phase=1 \
		--samples test-results/memory-perf.jsonl

# make perf, then its reports become the baseline of this machine's class (commit the folder).
perf-baseline:
	$(MAKE) perf WRITE_BASELINE=1

clean:
	rm -rf $(VENV) .site .mypy_cache .ruff_cache .pytest_cache .benchmarks
