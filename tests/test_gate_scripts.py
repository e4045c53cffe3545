"""The performance regression checker and the memory budget gate (scripts/, issue 9).

The checker runs in-process on small synthetic bench reports shaped like the real ones (and on a
saved real ``--quick`` ca report); no bench runs here. The memory monitor watches short Python
processes that allocate a known amount.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import check_memory_budget  # noqa: E402
import check_performance_regression as checker  # noqa: E402
import memory_monitor  # noqa: E402

THRESHOLDS = ROOT / "tests" / "performance_thresholds.yaml"
SAVED_CA = ROOT / "tests" / "baselines" / "ca-quick.json"
MB = 50  # what the monitored processes allocate, in MiB
ALLOC = f"import time; block = b'x' * ({MB} << 20); time.sleep(1.0)"  # bytes are written: resident


def run_main(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """A script's main in-process; argparse's usage errors exit through SystemExit."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(str(exit_.code))


def fails_in_one_line(main: Callable[[list[str]], int], argv: list[str], message: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 with exactly one line on stderr that contains ``message``, no traceback."""
    code = run_main(main, argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err


# Synthetic reports, shaped like `cybermesh bench --json` (tests/baselines/ca-quick.json is
# a real one), with figures that meet every limit in tests/performance_thresholds.yaml.


def ca_report() -> dict[str, Any]:
    rows = []
    for size, numpy_ms, reference_ms in ((80, 0.1, 0.3), (1024, 0.4, 11.0)):
        for backend, ms in (("numpy", numpy_ms), ("reference", reference_ms)):
            rows.append({"backend": backend, "size": size, "gens": 400, "seconds": 0.2,
                         "ms_per_gen": ms, "cell_updates_per_s": size * size / ms * 1e3,
                         "vs_np_roll": reference_ms / ms})
    return {"scenario": "ca", "seed": 0, "machine": {"cpus": 2, "peak_rss_mb": 130.0},
            "result": {"sizes": rows,
                       "tick_80x80": {"p50_ms": 0.04, "p95_ms": 0.06, "mean_ms": 0.042},
                       "gl": "available"}}


def detect_report() -> dict[str, Any]:
    latency = [{"size": 80, "lattice": lattice, "gliders": g, "ticks": 300, "p50_ms": p50,
                "p95_ms": p95, "max_ms": 2 * p95}
               for lattice, g, p50, p95 in (("ash", 0, 1.2, 1.5),
                                            ("gliders in flight", 2, 1.3, 1.6),
                                            ("gliders hitting ash", 5, 13.0, 17.0))]
    return {"scenario": "detect", "seed": 0, "machine": {"cpus": 2, "peak_rss_mb": 74.0},
            "result": {"latency": latency,
                       "accuracy": {"objects": 42, "placed": 87, "found": 87, "detected": 87,
                                    "accuracy": 1.0, "false_positive_rate": 0.0},
                       "tracking": {"ticks": 1000, "worst_centroid_error": 0.0, "track_ids": 1,
                                    "ticks_without_track": 0}}}


def slowed(report: dict[str, Any], factor: float = 2.0) -> dict[str, Any]:
    """A copy with every timing (``*_ms``, ``ms_per_gen``, ``seconds``) multiplied by ``factor``."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: v * factor if k.endswith("_ms") or k in ("ms_per_gen", "seconds")
                    else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(copy.deepcopy(report))
    return out


def write(path: Path, report: Any) -> str:
    path.write_text(json.dumps(report))
    return str(path)


def line_of(out: str, name: str) -> str:
    """The table line of threshold ``name`` (its full dotted name)."""
    found = [line for line in out.splitlines() if re.search(rf"\s{re.escape(name)}\s", line)
             and not line.startswith(checker.PROG)]
    assert len(found) == 1, out
    return found[0]


TICK_P95 = "phase_1_ca_grid.glider_propagation.tick_80x80_p95"
TICK_P50 = "phase_1_ca_grid.glider_propagation.tick_80x80_p50"
VS_ROLL = "phase_1_ca_grid.lattice_throughput.numpy_1024_vs_np_roll"


# The checker.


@pytest.mark.unit
def test_a_report_within_its_limits_and_its_baseline_passes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path / "base.json", ca_report())
    now = write(tmp_path / "now.json", ca_report())
    assert run_main(checker.main, [now, "--baseline", base]) == 0
    out = capsys.readouterr().out
    for name in (TICK_P50, TICK_P95, VS_ROLL):
        line = line_of(out, name)
        assert line.startswith("PASS") and " 1.00" in line
    # The quick ca bench has no 4096^2 rows and no bgolly race: reported, not failed.
    assert line_of(out, "phase_1_ca_grid.lattice_throughput.vs_bgolly").startswith("missing")
    assert "0 failed, 0 slipped, 3 missing" in out


@pytest.mark.unit
def test_a_slowed_result_fails_naming_the_slipped_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path / "base.json", ca_report())
    slow = write(tmp_path / "slow.json", slowed(ca_report()))
    assert run_main(checker.main, [slow, "--baseline", base]) == 1
    out = capsys.readouterr().out
    for name in (TICK_P50, TICK_P95):
        # Twice as slow, yet within the absolute limit (0.12 ms <= 0.2 ms): only the baseline
        # comparison catches it.
        line = line_of(out, name)
        assert line.startswith("SLIP") and "2.00 (> 1.25)" in line
    assert line_of(out, VS_ROLL).startswith("PASS")  # a same-run ratio did not move
    last = out.splitlines()[-1]
    assert last.startswith("check_performance_regression: not ok:")
    assert f"{TICK_P95} (SLIP)" in last and VS_ROLL not in last
    # Allowed a 2.5x slip, the same result passes.
    assert run_main(checker.main, [slow, "--baseline", base, "--max-slip", "2.5"]) == 0


def all_report(*reports: dict[str, Any] | None) -> dict[str, Any]:
    """A ``--scenario all`` report holding ``reports`` (None: a scenario that failed)."""
    scenarios = {}
    for name, report in zip(("ca", "detect"), reports, strict=False):
        scenarios[name] = {"status": "ok" if report else "error", "seconds": 1.0,
                           "result": report["result"] if report else None,
                           "error": None if report else "RuntimeError: boom"}
    return {"scenario": "all", "seed": 0, "machine": {"cpus": 2},
            "result": {"scenarios": scenarios,
                       "failed": [n for n, e in scenarios.items() if e["status"] != "ok"]}}


@pytest.mark.unit
def test_an_all_report_is_judged_scenario_by_scenario(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path / "base.json", all_report(ca_report(), detect_report()))
    now = write(tmp_path / "now.json", all_report(ca_report(), detect_report()))
    assert run_main(checker.main, [now, "--baseline", base]) == 0
    out = capsys.readouterr().out
    assert line_of(out, TICK_P95).startswith("PASS") and "now.json#ca" in out
    assert "now.json#detect" in out
    # A slowed ca inside an all report slips against the all baseline, and against a plain one.
    slow = write(tmp_path / "slow.json", all_report(slowed(ca_report()), detect_report()))
    assert run_main(checker.main, [slow, "--baseline", base]) == 1
    assert line_of(capsys.readouterr().out, TICK_P95).startswith("SLIP")
    plain = write(tmp_path / "ca.json", ca_report())
    assert run_main(checker.main, [slow, "--baseline", plain]) == 1
    capsys.readouterr()
    # A scenario that failed in the all run has no figures: its thresholds are not judged.
    failed = write(tmp_path / "failed.json", all_report(ca_report(), None))
    assert run_main(checker.main, [failed]) == 0
    out = capsys.readouterr().out
    assert line_of(out, TICK_P95).startswith("PASS")
    assert "track_ids" not in out  # detect's thresholds (D13)


@pytest.mark.unit
def test_a_min_figure_slips_when_it_drops_below_one_over_max_slip(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = ca_report()
    row = next(r for r in report["result"]["sizes"] if r["backend"] == "numpy"
               and r["size"] == 1024)
    base = write(tmp_path / "base.json", report)
    row["vs_np_roll"] /= 2  # 13.75x: still >= 5x, but half the baseline's
    now = write(tmp_path / "now.json", report)
    assert run_main(checker.main, [now, "--baseline", base]) == 1
    assert "0.50 (< 0.80)" in line_of(capsys.readouterr().out, VS_ROLL)


@pytest.mark.unit
def test_limits_fail_without_a_baseline_and_missing_figures_fail_only_when_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = ca_report()
    report["result"]["tick_80x80"]["p95_ms"] = 0.5
    assert run_main(checker.main, [write(tmp_path / "a.json", report)]) == 1
    out = capsys.readouterr().out
    assert line_of(out, TICK_P95).startswith("FAIL")
    assert "ratio" not in out.splitlines()[0]  # no baseline: no baseline columns

    report = ca_report()
    del report["result"]["tick_80x80"]
    path = write(tmp_path / "b.json", report)
    assert run_main(checker.main, [path]) == 0
    out = capsys.readouterr().out
    assert "missing: no 'tick_80x80' in result" in line_of(out, TICK_P95)
    assert run_main(checker.main, [path, "--fail-missing"]) == 1
    assert f"{TICK_P95} (missing)" in capsys.readouterr().out.splitlines()[-1]

    report = ca_report()
    report["result"]["tick_80x80"]["p95_ms"] = "fast"
    assert run_main(checker.main, [write(tmp_path / "c.json", report)]) == 1
    assert "invalid: not a number" in line_of(capsys.readouterr().out, TICK_P95)


@pytest.mark.unit
def test_several_reports_rows_picked_by_fields_with_spaces(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = write(tmp_path / "ca.json", ca_report())
    report = detect_report()
    report["result"]["latency"][1]["p95_ms"] = 2.5  # 80x80 gliders in flight, over its 2 ms
    detect = write(tmp_path / "detect.json", report)
    assert run_main(checker.main, [ca, detect]) == 1
    out = capsys.readouterr().out
    line = line_of(out, "phase_1_ca_grid.pattern_detection.detect_80_in_flight_p95")
    assert line.startswith("FAIL") and "detect.json" in line and " 2.5 " in line
    assert line_of(out, "phase_1_ca_grid.pattern_detection.detect_80_in_flight_p50").startswith(
        "PASS")
    assert line_of(out, "phase_1_ca_grid.pattern_detection.accuracy").startswith("PASS")
    assert "in latency" in line_of(out, "phase_1_ca_grid.pattern_detection.detect_1024_ash_p95")


@pytest.mark.unit
def test_the_saved_real_quick_ca_report_has_every_quick_figure(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The thresholds' paths match the real report's shape: only the full-run rows are absent."""
    report = checker.load_report(str(SAVED_CA))
    missing = {t.name for t in checker.load_thresholds(THRESHOLDS) if t.scenario == "ca"
               and checker.lookup(report, t.steps).missing}
    assert missing == {"phase_1_ca_grid.lattice_throughput.numpy_4096_rate",
                       "phase_1_ca_grid.lattice_throughput.numpy_4096_vs_np_roll",
                       "phase_1_ca_grid.lattice_throughput.vs_bgolly"}
    assert run_main(checker.main, [str(SAVED_CA), "--baseline", str(SAVED_CA)]) == 0
    assert "0 failed, 0 slipped" in capsys.readouterr().out


@pytest.mark.unit
def test_the_thresholds_file_covers_the_phases_and_names_test_matrix_rows() -> None:
    thresholds = checker.load_thresholds(THRESHOLDS)
    phases = {t.name.split(".")[0] for t in thresholds}
    assert {"phase_1_ca_grid", "phase_2_shard_routing", "phase_3_integration",
            "phase_7_dashboard", "phase_8_viewer", "phase_9_full"} <= phases
    matrix = (ROOT / "TEST-MATRIX.md").read_text()
    for t in thresholds:
        assert re.search(rf"^\| {re.escape(t.ident)} \|", matrix, re.M), t.name
    assert len({t.name for t in thresholds}) == len(thresholds)


@pytest.mark.unit
def test_paths_parse_into_keys_indices_and_row_selectors() -> None:
    assert checker.parse_path("result.sizes[backend=numpy,size=80].vs_np_roll") == (
        "result", "sizes", (("backend", "numpy"), ("size", "80")), "vs_np_roll")
    assert checker.parse_path("result.rows[loss=0.05][0].x") == (
        "result", "rows", (("loss", "0.05"),), 0, "x")
    rows = {"rows": [{"hints": False, "k": 16, "v": 1}, {"hints": True, "k": 16.0, "v": 2}]}
    assert checker.lookup(rows, checker.parse_path("rows[hints=true].v")).value == 2
    assert checker.lookup(rows, checker.parse_path("rows[-1].v")).value == 2
    assert checker.lookup(rows, checker.parse_path("rows[k=16].v")).problem.startswith(
        "invalid: 2 rows match")
    for bad in ("a..b", "a[b", "a]b", "a[x]", ".a", "a[=1]"):
        with pytest.raises(checker.InputError):
            checker.parse_path(bad)


BAD_THRESHOLDS = {
    "unknown key": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: ms, "
                    "limt: 2}}", "unknown key 'limt'"),
    "direction": ("x: {g: {scenario: ca, path: a, direction: up, limit: 1, unit: ms}}",
                  "'direction' must be max or min"),
    "limit": ("x: {g: {scenario: ca, path: a, direction: max, limit: 2.0e9, unit: ms}}",
              "'limit' must be a number"),
    "scenario": ("x: {g: {scenario: cafe, path: a, direction: max, limit: 1, unit: ms}}",
                 "unknown scenario 'cafe'"),
    "path": ("x: {g: {scenario: ca, path: 'a[b', direction: max, limit: 1, unit: ms}}",
             "bad path"),
    "missing key": ("x: {g: {scenario: ca, path: a, limit: 1, unit: ms}}",
                    "missing key 'direction'"),
    "yaml": ("x: {g: [", "not valid YAML"),
    "shape": ("- 1\n- 2\n", "expected a mapping"),
}


@pytest.mark.unit
@pytest.mark.parametrize("case", sorted(BAD_THRESHOLDS))
def test_a_bad_thresholds_file_is_one_line_and_exit_2(
        case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, message = BAD_THRESHOLDS[case]
    (tmp_path / "t.yaml").write_text(text)
    report = write(tmp_path / "ca.json", ca_report())
    fails_in_one_line(checker.main, [report, "--thresholds", str(tmp_path / "t.yaml")],
                      message, capsys)


@pytest.mark.unit
def test_bad_reports_and_arguments_are_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = write(tmp_path / "ca.json", ca_report())
    (tmp_path / "text.json").write_text("not json")
    cases: list[tuple[list[str], str]] = [
        ([str(tmp_path / "none.json")], "cannot read"),
        ([str(tmp_path / "text.json")], "not JSON"),
        ([write(tmp_path / "list.json", [1, 2])], "not a bench report"),
        ([write(tmp_path / "nores.json", {"scenario": "ca"})], "not a bench report"),
        ([write(tmp_path / "unk.json", {"scenario": "warp", "result": {}})],
         "unknown scenario 'warp'"),
        ([ca, "--baseline", ca, "--baseline", ca], "two baselines of scenario 'ca'"),
        ([ca, "--baseline", str(tmp_path / "text.json")], "not JSON"),
        ([ca, "--max-slip", "0.5"], "--max-slip must be a number >= 1"),
        ([ca, "--max-slip", "fast"], "invalid float value"),
        ([], "the following arguments are required"),
    ]
    for argv, message in cases:
        fails_in_one_line(checker.main, argv, message, capsys)


# The memory monitor and the budget.


def samples_of(path: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.integration
def test_monitor_a_command_that_allocates_50_mb_then_the_budget(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "samples.jsonl"
    code = memory_monitor.main(["--interval", "0.05", "--out", str(out), "--",
                                sys.executable, "-c", ALLOC])
    assert code == 0
    samples = samples_of(out)
    assert len(samples) >= 3
    times = [s["t"] for s in samples]
    assert times == sorted(times)
    peak = max(s["rss_mb"] for s in samples)
    assert MB <= peak < MB + 100  # the block, plus one interpreter
    capsys.readouterr()
    budget = ["--phase", "test", "--samples", str(out)]
    assert check_memory_budget.main([f"--threshold={MB - 10}MB", *budget]) == 1
    over = capsys.readouterr().out
    assert over.count("\n") == 1 and "over the budget" in over
    assert check_memory_budget.main(["--threshold=1GB", *budget]) == 0
    assert f"peak {peak:.1f} MB" in capsys.readouterr().out


@pytest.mark.integration
def test_monitor_a_pid_counts_its_children_and_stops_when_it_ends(tmp_path: Path) -> None:
    # The parent never holds the block: a peak above it can only come from the child.
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys; subprocess.run([sys.executable, '-c', "
                               f"{ALLOC!r}])"])
    out = tmp_path / "samples.jsonl"
    try:
        code = memory_monitor.main(["--pid", str(parent.pid), "--interval", "0.05",
                                    "--out", str(out)])
    finally:
        assert parent.wait(timeout=60) == 0
    assert code == 0
    assert max(s["rss_mb"] for s in samples_of(out)) >= MB


def _wait_for_samples(path: Path, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} samples in {path} after {timeout} s")


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["pid", "command"])
def test_sigterm_flushes_and_exits_0(mode: str, tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    script = str(ROOT / "scripts" / "memory_monitor.py")
    sleeper = None
    if mode == "pid":
        sleeper = subprocess.Popen(["sleep", "60"])
        target = ["--pid", str(sleeper.pid)]
    else:
        target = ["--", "sleep", "60"]
    monitor = subprocess.Popen([sys.executable, script, "--interval", "0.05", "--out", str(out),
                                *target], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_samples(out, 2)
        children = psutil.Process(monitor.pid).children()
        os.kill(monitor.pid, signal.SIGTERM)
        _, err = monitor.communicate(timeout=30)
        assert monitor.returncode == 0, err
        assert err == ""
        assert all(s["rss_mb"] > 0 for s in samples_of(out))  # every line whole
        if mode == "command":
            assert len(children) == 1
            gone, alive = psutil.wait_procs(children, timeout=10)
            assert not alive  # the command it started was stopped with it
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait()
        if sleeper is not None:
            assert sleeper.poll() is None  # a watched pid is not the monitor's to stop
            sleeper.kill()
            sleeper.wait()


@pytest.mark.integration
def test_monitor_exit_status_and_bad_input(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "s.jsonl")
    assert memory_monitor.main(["--out", out, "--", sys.executable, "-c", "exit(3)"]) == 3
    ended = subprocess.Popen(["true"])
    ended.wait()
    cases: list[tuple[list[str], str]] = [
        (["--out", out], "give either --pid PID or a command after --"),
        (["--out", out, "--pid", "1", "--", "true"], "give either --pid PID or a command"),
        (["--out", out, "--"], "no command after --"),
        (["--out", out, "--pid", str(ended.pid)], f"no process with pid {ended.pid}"),
        (["--out", out, "--pid", "-3"], "--pid must be a process id >= 1"),
        (["--out", out, "--pid", "x"], "invalid int value"),
        (["--out", out, "--interval", "0", "--", "true"], "--interval must be"),
        (["--out", out, "--", str(tmp_path / "no-such-command")], "cannot run"),
        (["--out", str(tmp_path / "no" / "dir" / "s.jsonl"), "--", "true"], "cannot write"),
    ]
    for argv, message in cases:
        fails_in_one_line(memory_monitor.main, argv, message, capsys)


@pytest.mark.unit
@pytest.mark.parametrize(("text", "mb"), [
    ("6GB", 6144.0), ("1.5 GB", 1536.0), ("512MB", 512.0), ("800KB", 800 / 1024),
    ("2GiB", 2048.0), ("10mb", 10.0), (".5GB", 512.0),
])
def test_budget_sizes_take_kb_mb_and_gb(text: str, mb: float) -> None:
    assert check_memory_budget.parse_size(text) == pytest.approx(mb)


@pytest.mark.unit
def test_budget_under_over_and_at_the_peak(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"t": t, "rss_mb": r}) + "\n"
                            for t, r in ((0.0, 100.0), (1.0, 300.0), (2.0, 150.0))) + "\n")
    argv = ["--phase", "3", "--samples", str(path)]
    assert check_memory_budget.main(["--threshold=512MB", *argv]) == 0
    out = capsys.readouterr().out
    assert "peak 300.0 MB at 1.0 s" in out and "growth +50.0 MB (+50.0 %)" in out
    assert "3 samples" in out
    assert check_memory_budget.main(["--threshold=300MB", *argv]) == 0  # at the budget: within
    capsys.readouterr()
    assert check_memory_budget.main(["--threshold=0.25GB", *argv]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "phase 3: peak RSS 300.0 MB at 1.0 s is over the budget (0.25GB = 256.0 MB)" in out


@pytest.mark.unit
def test_budget_bad_input_is_one_line_and_exit_2(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"t": 0, "rss_mb": 10}\n')
    files = {"empty": "", "text": "hello\n", "bool": '{"t": 0, "rss_mb": true}\n',
             "negative": '{"t": 0, "rss_mb": -1}\n',
             "second": '{"t": 0, "rss_mb": 1}\n[1]\n'}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    cases: list[tuple[list[str], str]] = [
        (["--threshold=6", "--samples", str(good)], "'6' is not a size"),
        (["--threshold=6TB", "--samples", str(good)], "'6TB' is not a size"),
        (["--threshold=0MB", "--samples", str(good)], "must be more than 0"),
        (["--samples", str(good)], "required: --threshold"),
        (["--threshold=1GB", "--samples", str(tmp_path / "none")], "cannot read"),
        (["--threshold=1GB", "--samples", str(tmp_path / "empty")], "no samples"),
        (["--threshold=1GB", "--samples", str(tmp_path / "text")], "text:1: not JSON"),
        (["--threshold=1GB", "--samples", str(tmp_path / "bool")], "bool:1: not a sample"),
        (["--threshold=1GB", "--samples", str(tmp_path / "negative")], "negative:1: not a"),
        (["--threshold=1GB", "--samples", str(tmp_path / "second")], "second:2: not a sample"),
    ]
    for argv, message in cases:
        fails_in_one_line(check_memory_budget.main, ["--phase", "x", *argv], message, capsys)
