"""The TEST-MATRIX gate (scripts/check_test_matrix.py) on small synthetic matrices."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import assert_fails_in_one_line, run_main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import check_test_matrix as gate  # noqa: E402

MAKEFILE = """\
VENV := .venv
PY := $(VENV)/bin/python
CODE := game tests

.PHONY: setup test lint docs unit perf bench

setup:
\ttrue

lint: setup
\t$(VENV)/bin/ruff check .
\t$(VENV)/bin/flake8 $(CODE)

docs: setup
\t$(PY) scripts/check_docstrings.py

unit: setup
\t$(VENV)/bin/pytest -q

test: lint docs unit perf

bench: setup
\t$(VENV)/bin/cybermesh bench --scenario detect --json bench-detect.json
\t$(PY) scripts/only_by_hand.py

perf: setup
\t$(VENV)/bin/cybermesh bench --scenario ca --quick --json bench-ca.json
\t$(VENV)/bin/cybermesh bench --scenario full --quick \\
\t\t--rate 30 --json bench-full.json
"""

HEADER = """\
# Matrix

| id | threshold | command | checked by | marker | status |
|---|---|---|---|---|---|
"""

TESTS = {
    "tests/test_a.py": ["test_one", "test_two", "test_param[1]", "test_param[2]"],
    "tests/test_b.py": ["test_three", "TestGroup::test_four"],
}


def junit(outcomes: dict[str, str]) -> str:
    """A pytest-style JUnit report: node id -> passed / skipped / failed."""
    cases = []
    for node, state in outcomes.items():
        path, *names = node.split("::")
        classname = ".".join([path[:-3].replace("/", "."), *names[:-1]])
        inner = {"passed": "", "skipped": '<skipped message="no"/>',
                 "failed": '<failure message="boom"/>'}[state]
        cases.append(f'<testcase classname="{classname}" name="{names[-1]}" time="0.1">'
                     f"{inner}</testcase>")
    return ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
            + "".join(cases) + "</testsuite></testsuites>")


def project(tmp_path: Path, rows: str, outcomes: dict[str, str] | None = None) -> Path:
    """A checkout with the matrix ``rows``, the Makefile, test files, scripts and a report."""
    (tmp_path / "TEST-MATRIX.md").write_text(HEADER + textwrap.dedent(rows), encoding="utf-8")
    (tmp_path / "Makefile").write_text(MAKEFILE, encoding="utf-8")
    for path in TESTS:
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text("", encoding="utf-8")
    (tmp_path / "scripts").mkdir()
    for name in ("check_docstrings.py", "only_by_hand.py"):
        (tmp_path / "scripts" / name).write_text("", encoding="utf-8")
    every = {f"{p}::{n}": "passed" for p, names in TESTS.items() for n in names}
    (tmp_path / "junit.xml").write_text(junit({**every, **(outcomes or {})}), encoding="utf-8")
    return tmp_path


def check(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    """Run the gate on ``root`` with its JUnit report; exit code and stdout lines."""
    code = run_main(gate.main, ["--root", str(root), "--junit", "junit.xml", *extra])
    return code, capsys.readouterr().out.splitlines()


@pytest.mark.unit
def test_backed_rows_pass_and_shorthand_follows_the_file_before_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, """\
        | A1 | t | `make unit` | `tests/test_a.py::test_one`; `::test_two`; `::test_param` | unit | passing |
        | A2 | t | `make unit` | `tests/test_b.py` (`test_three`, `::TestGroup::test_four`) | unit | **passing** (2 runs) |
        | A3 | t | `make lint` | `ruff check .`; `flake8 game tests` | — | passing |
        | A4 | t | `make docs` | `scripts/check_docstrings.py` | — | passing |
        | A5 | t | — | bench `--scenario full --quick`; `cybermesh bench --scenario ca` | bench | passing |
        | A6 | t | `make unit` | `pyproject.toml` (strict markers) | — | passing |
        | A7 | t | — | A1 (the same run) | unit | passing |
        | A8 | t | — | `tests/test_a.py::test_missing` | unit | met: 3 G/s |
        """)  # noqa: E501
    code, out = check(root, capsys, "--list")
    assert code == 0, out
    listed = dict(line.split(": ", 1) for line in out[:-1])
    assert listed["A1"] == ("tests/test_a.py::test_one; tests/test_a.py::test_two; "
                            "tests/test_a.py::test_param")
    assert listed["A2"] == ("tests/test_b.py; tests/test_b.py::test_three; "
                            "tests/test_b.py::TestGroup::test_four")
    assert listed["A3"] == "`ruff check .`; `flake8 game tests`"
    assert listed["A5"] == "bench full; bench ca"
    assert listed["A6"] == "make unit"  # no check in the cell: the command column's target
    assert listed["A7"] == "row A1"
    assert "A8" not in listed  # not passing: not judged
    assert out[-1].startswith("test matrix: 7 passing rows, 7 backed, 0 not (0 problems)")
    assert "make perf runs ca, full" in out[-1]


@pytest.mark.unit
def test_each_kind_of_unbacked_row_is_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, """\
        | B1 | t | — | `tests/test_a.py::test_gone` | unit | passing |
        | B2 | t | — | `tests/test_a.py::test_param` | unit | passing |
        | B3 | t | — | `tests/test_b.py` | unit | passing |
        | B4 | t | — | `tests/test_a.py::test_one`; `::test_two` | unit | passing |
        | B5 | t | — | bench `--scenario detect` | bench | passing: 1 ms |
        | B6 | t | — | bench `tracking` | bench | passing |
        | B7 | t | — | `scripts/only_by_hand.py --check` | manual | passing |
        | B8 | t | — | `scripts/not_there.py` | — | passing |
        | B9 | t | — | B10 (the same run) | — | passing |
        | B10 | t | — | bench `--scenario ca` | bench | not met |
        | B11 | t | — | `::test_one` | unit | passing |
        | B12 | t | — | a person looks at it | manual | passing |
        | B13 | t | — | `tests/test_c.py::test_x` | unit | passing |
        | B14 | t | `make bench` | `mypy --strict game` | — | passing |
        """, {"tests/test_a.py::test_param[2]": "skipped", "tests/test_a.py::test_two": "failed",
              "tests/test_b.py::TestGroup::test_four": "failed"})
    code, out = check(root, capsys)
    assert code == 1
    problems = {line.split(": ", 2)[1]: line.split(": ", 2)[2] for line in out[:-1]}
    assert problems == {
        "B1": "tests/test_a.py::test_gone: not in the JUnit report (did not run in make unit)",
        "B2": "tests/test_a.py::test_param: 1 of 2 skipped: test_param[2]",
        "B3": "tests/test_b.py: 1 of 2 failed: TestGroup::test_four",
        "B4": "tests/test_a.py::test_two: 1 of 1 failed: test_two",
        "B5": "bench only, and make perf does not run --scenario detect (it runs: ca, full)",
        "B6": "bench tracking: not a bench scenario, and the row has no other check",
        "B7": "scripts/only_by_hand.py: not run by make test",
        "B8": "scripts/not_there.py: no such file",
        "B9": "names row B10, which is not passing",
        "B11": "`::test_one` has no test file before it",
        "B12": "no check that make test runs (no test, script, command or bench named)",
        "B13": "tests/test_c.py::test_x: no such file tests/test_c.py",
        "B14": "`mypy --strict game`: not run by make test",
    }
    assert out[0].startswith("TEST-MATRIX.md:5: B1: ")  # the row's line in the file
    assert out[-1].startswith("test matrix: 13 passing rows, 0 backed, 13 not (13 problems")


@pytest.mark.unit
def test_a_bench_only_row_is_backed_by_the_scenarios_make_perf_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "| C1 | t | — | bench `--scenario detect` | bench | passing |\n")
    assert check(root, capsys)[0] == 1
    assert check(root, capsys, "--perf-scenarios", "ca,detect")[0] == 0
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    (root / "Makefile").write_text(makefile.replace("--scenario ca", "--scenario detect"),
                                   encoding="utf-8")
    code, out = check(root, capsys)
    assert code == 0 and "make perf runs detect, full" in out[-1]


@pytest.mark.unit
def test_skips_count_against_a_row_but_not_against_the_suite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "| D1 | t | `make unit` | every test under `tests/` | unit | passing |\n"
    root = project(tmp_path, rows, {"tests/test_a.py::test_one": "skipped"})
    assert check(root, capsys)[0] == 0
    (tmp_path / "failed").mkdir()
    root = project(tmp_path / "failed", rows, {"tests/test_a.py::test_one": "failed"})
    code, out = check(root, capsys)
    assert code == 1 and out[0].endswith("D1: tests/: 1 failed")


@pytest.mark.unit
def test_collection_alone_confirms_that_tests_exist(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, """\
        | E1 | t | — | `tests/test_a.py::test_one`; `::test_param` | unit | passing |
        | E2 | t | — | `tests/test_a.py::test_nope` | unit | passing |
        """)
    collected = "\n".join(f"{p}::{n}" for p, names in TESTS.items() for n in names)
    (root / "collected.txt").write_text(collected + "\n\n6 tests collected in 0.01s\n",
                                        encoding="utf-8")
    code = run_main(gate.main, ["--root", str(root), "--collected", "collected.txt"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].endswith("E2: tests/test_a.py::test_nope: not collected by pytest "
                           "--collect-only")
    assert "tests collected by collected.txt" in out[-1]


@pytest.mark.integration
def test_without_a_report_it_runs_pytest_collection(tmp_path: Path) -> None:
    root = project(tmp_path, """\
        | F1 | t | — | `tests/test_a.py::test_real` | unit | passing |
        | F2 | t | — | `tests/test_a.py::test_absent` | unit | passing |
        """)
    (root / "tests" / "test_a.py").write_text("def test_real():\n    pass\n", encoding="utf-8")
    (root / "tests" / "test_b.py").write_text("", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_test_matrix.py"), "--root", str(root)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("F2: tests/test_a.py::test_absent: not collected by pytest "
                             "--collect-only")
    assert "1 backed, 1 not" in lines[-1] and "collected by pytest --collect-only" in lines[-1]


@pytest.mark.unit
@pytest.mark.parametrize(("argv", "files", "message"), [
    (["--junit", "junit.xml"], {"TEST-MATRIX.md": None}, "TEST-MATRIX.md: cannot read"),
    (["--junit", "junit.xml"], {"TEST-MATRIX.md": "# no tables\n"},
     "no table with id, checked by and status columns"),
    (["--junit", "junit.xml"],
     {"TEST-MATRIX.md": HEADER + "| G1 | t | — | x | passing |\n"}, "line 5: 5 cells"),
    (["--junit", "junit.xml"], {"TEST-MATRIX.md": HEADER + "| G1 | t | — | x | u | passing |\n"
                                + "| G1 | t | — | x | u | passing |\n"}, "G1 appears twice"),
    (["--junit", "junit.xml"], {"junit.xml": "<testsuites"}, "not a readable JUnit XML"),
    (["--junit", "junit.xml"], {"junit.xml": "<testsuites/>"}, "no test cases"),
    (["--junit", "missing.xml"], {}, "missing.xml"),
    (["--junit", "junit.xml"], {"Makefile": "lint:\n\ttrue\n"}, "no test target"),
    (["--junit", "junit.xml", "--makefile", "GNUmakefile"], {}, "GNUmakefile: cannot read"),
    (["--collected", "junit.xml"], {}, "no test node ids"),
    (["--root", "/nonexistent/checkout"], {}, "not a directory"),
    (["--bogus"], {}, "unrecognized arguments: --bogus"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], files: dict[str, str | None],
                                          message: str) -> None:
    root = project(tmp_path, "| Z1 | t | — | `tests/test_a.py::test_one` | unit | passing |\n")
    for name, text in files.items():
        if text is None:
            (root / name).unlink()
        else:
            (root / name).write_text(text, encoding="utf-8")
    assert_fails_in_one_line(gate.main, ["--root", str(root), *argv], message, capsys)


@pytest.mark.unit
def test_the_scenario_list_is_the_cli_s() -> None:
    from game.app.cli import SCENARIO_NAMES

    assert frozenset(SCENARIO_NAMES) == gate.SCENARIOS


@pytest.mark.unit
def test_make_variables_prerequisites_and_continuations() -> None:
    mk = gate.parse_makefile(MAKEFILE + "\nall: test\n\t$(MAKE) bench\n")
    assert mk.reachable("test") == ["test", "lint", "docs", "unit", "perf", "setup"]
    assert "bench" in mk.reachable("all")
    assert mk.scenarios("perf") == ["ca", "full"]
    loop = gate.parse_makefile("S := web view\ntest: perf\nperf:\n\tfor s in ca $(S); do \\\n"
                               "\t\tcybermesh bench --scenario $$s; done\n")
    assert loop.scenarios("perf") == ["ca", "web", "view"]
    assert "flake8 game tests" in mk.text("test")
    assert "cybermesh bench --scenario full --quick --rate 30" in mk.text("test")
    assert "scripts/only_by_hand.py" not in mk.text("test")


@pytest.mark.unit
def test_cells_split_on_bars_outside_code_spans() -> None:
    assert gate.split_cells("| a | `x | y` | b \\| c |") == ["a", "`x | y`", "b | c"]


@pytest.mark.unit
def test_the_project_makefile_runs_unit_and_perf_benches_in_make_test() -> None:
    mk = gate.parse_makefile((ROOT / "Makefile").read_text(encoding="utf-8"))
    assert {"lint", "type", "docs", "unit", "perf"} <= set(mk.reachable("test"))
    assert mk.scenarios("perf") and set(mk.scenarios("perf")) <= gate.SCENARIOS
