"""The performance regression checker and the memory budget gate (scripts/, issue 9).

The checker runs in-process on small synthetic bench reports shaped like the real ones, on a
saved older real ``--quick`` ca report, and on the committed baselines (real ``make perf`` runs,
with the checker's arguments read from the Makefile's ``perf`` recipe); no bench runs here. The
memory monitor watches short Python processes that allocate a known amount.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.helpers import assert_fails_in_one_line, run_main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import check_memory_budget  # noqa: E402
import check_performance_regression as checker  # noqa: E402
import memory_monitor  # noqa: E402

THRESHOLDS = ROOT / "tests" / "performance_thresholds.yaml"
SAVED_CA = ROOT / "tests" / "baselines" / "ca-quick.json"
MB = 50  # what the monitored processes allocate, in MiB
ALLOC = f"import time; block = b'x' * ({MB} << 20); time.sleep(1.0)"  # bytes are written: resident


# Synthetic reports, shaped like `cybermesh bench --json` (tests/baselines/<class>/ holds real
# ones), with figures that meet every limit in tests/performance_thresholds.yaml.

CLASS = "x86_64-amd-avx512-2cpu"  # the machine class the synthetic reports say they ran on


def ca_report() -> dict[str, Any]:
    rows = []
    for size, numpy_ms, reference_ms in ((80, 0.1, 0.3), (1024, 0.4, 11.0)):
        for backend, ms in (("numpy", numpy_ms), ("reference", reference_ms)):
            rows.append({"backend": backend, "size": size, "gens": 400, "seconds": 0.2,
                         "ms_per_gen": ms, "cell_updates_per_s": size * size / ms * 1e3,
                         "vs_np_roll": reference_ms / ms})
    return {"scenario": "ca", "seed": 0, "quick": True,
            "machine": {"cpus": 2, "cpu_class": CLASS, "peak_rss_mb": 130.0},
            "result": {"sizes": rows,
                       "tick_80x80": {"p50_ms": 0.04, "p95_ms": 0.06, "mean_ms": 0.042},
                       "gl": "available",
                       "vs_golly": {"size": 1024, "gens": 1000, "cybermesh_s": 0.6,
                                    "bgolly_s": 2.0, "ratio": 0.3, "same_cells": True}}}


def detect_report() -> dict[str, Any]:
    latency = [{"size": 80, "lattice": lattice, "gliders": g, "ticks": 300, "p50_ms": p50,
                "p95_ms": p95, "max_ms": 2 * p95}
               for lattice, g, p50, p95 in (("ash", 0, 1.2, 1.5),
                                            ("gliders in flight", 2, 1.3, 1.6),
                                            ("gliders hitting ash", 5, 13.0, 17.0))]
    return {"scenario": "detect", "seed": 0, "quick": True,
            "machine": {"cpus": 2, "cpu_class": CLASS, "peak_rss_mb": 74.0},
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return str(path)


def table_lines(out: str) -> list[str]:
    """The judged table's lines (before the not-judged list)."""
    return out.split("\nnot judged here")[0].splitlines()


def line_of(out: str, name: str) -> str:
    """The judged table's line of threshold ``name`` (its full dotted name)."""
    found = [line for line in table_lines(out) if re.search(rf"\s{re.escape(name)}(\s|$)", line)
             and not line.startswith(checker.PROG)]
    assert len(found) == 1, out
    return found[0]


def unjudged_line(out: str, name: str) -> str:
    """The line of threshold ``name`` in the list of thresholds not judged here."""
    assert "\nnot judged here" in out, out
    rest = out.split("\nnot judged here", 1)[1].splitlines()
    found = [line for line in rest if re.search(rf"\s{re.escape(name)}\s", line)]
    assert len(found) == 1, out
    return found[0]


TICK_P95 = "phase_1_ca_grid.glider_propagation.tick_80x80_p95"
TICK_P50 = "phase_1_ca_grid.glider_propagation.tick_80x80_p50"
VS_ROLL = "phase_1_ca_grid.lattice_throughput.numpy_1024_vs_np_roll"
VS_GOLLY = "phase_1_ca_grid.lattice_throughput.vs_bgolly"
RATE_4096 = "phase_1_ca_grid.lattice_throughput.numpy_4096_rate"
ROLL_4096 = "phase_1_ca_grid.lattice_throughput.numpy_4096_vs_np_roll"
TRACK_IDS = "phase_1_ca_grid.glider_propagation.track_ids"


# The checker.


@pytest.mark.unit
def test_a_report_within_its_limits_and_its_baseline_passes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path / "base.json", ca_report())
    now = write(tmp_path / "now.json", ca_report())
    assert run_main(checker.main, [now, "--baseline", base, "--fail-missing"]) == 0
    out = capsys.readouterr().out
    for name in (TICK_P50, TICK_P95, VS_ROLL, VS_GOLLY):
        line = line_of(out, name)
        assert line.startswith("PASS") and " 1.00" in line
    # The quick ca bench claims no 4096^2 rows: listed as not judged here, with the bench that
    # judges them, never counted missing.
    for name in (RATE_4096, ROLL_4096):
        assert not [line for line in table_lines(out) if name in line]
        line = unjudged_line(out, name)
        assert "quick is true; judged when quick = false" in line and "make bench" in line
    assert "0 failed, 0 slipped, 0 missing, 0 invalid" in out
    # Every other scenario's thresholds are listed too: none is silently left out.
    thresholds = checker.load_thresholds(THRESHOLDS)
    judged = [t for t in thresholds if t.scenario == "ca" and not t.when]
    assert f"{len(judged)} figures" in out
    assert f"{len(thresholds) - len(judged)} thresholds not judged here" in out
    embed = "phase_2_shard_routing.embedding.batch_32_fp32_p50"
    assert "no embed report" in unjudged_line(out, embed)


@pytest.mark.unit
def test_a_slowed_result_fails_naming_the_slipped_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path / "base.json", ca_report())
    slow = write(tmp_path / "slow.json", slowed(ca_report()))
    assert run_main(checker.main, [slow, "--baseline", base]) == 1
    out = capsys.readouterr().out
    for name in (TICK_P50, TICK_P95):
        # Twice as slow, yet within the absolute limit (0.12 ms <= 0.2 ms): only the comparison
        # with an earlier report of this machine catches it.
        line = line_of(out, name)
        assert line.startswith("SLIP") and "2.00 (> 1.25)" in line
    assert line_of(out, VS_ROLL).startswith("PASS")  # a same-run ratio did not move
    last = out.splitlines()[-1]
    assert last.startswith("check_performance_regression: not ok:")
    assert f"{TICK_P95} (SLIP)" in last and VS_ROLL not in last
    # Allowed a 2.5x slip, the same result passes.
    assert run_main(checker.main, [slow, "--baseline", base, "--max-slip", "2.5"]) == 0


@pytest.mark.unit
def test_the_class_baseline_compares_only_the_same_run_ratios(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "baselines"
    write(folder / CLASS / "ca.json", ca_report())
    argv = ["--baseline-dir", str(folder), "--require-baseline", "--fail-missing"]
    # Absolute times that doubled are the machine's noise, not a slip against another machine
    # of the class: not compared.
    slow = write(tmp_path / "slow.json", slowed(ca_report()))
    assert run_main(checker.main, [slow, *argv]) == 0
    out = capsys.readouterr().out
    assert line_of(out, TICK_P95).startswith("PASS") and " 2.00" not in line_of(out, TICK_P95)
    assert " 1.00" in line_of(out, VS_ROLL) and " 1.00" in line_of(out, VS_GOLLY)
    assert "2 compared with a baseline (max slip 1.25x)" in out
    # A ratio that moved the wrong way fails, named, though it is within its limit.
    report = ca_report()
    report["result"]["vs_golly"]["ratio"] = 0.45  # <= 0.5, but 1.5x the baseline's 0.3
    now = write(tmp_path / "now.json", report)
    assert run_main(checker.main, [now, *argv]) == 1
    out = capsys.readouterr().out
    line = line_of(out, VS_GOLLY)
    assert line.startswith("SLIP") and "1.50 (> 1.25)" in line
    last = out.splitlines()[-1]
    assert last.startswith(f"{checker.PROG}: not ok:") and f"{VS_GOLLY} (SLIP)" in last
    assert VS_ROLL not in last
    # The tolerance is make perf's: within 1.6x, the same report passes.
    assert run_main(checker.main, [now, *argv, "--max-slip", "1.6"]) == 0


@pytest.mark.unit
def test_the_baseline_of_the_reports_machine_class_is_chosen(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "baselines"
    other = "x86_64-intel-amx-8cpu"
    write(folder / CLASS / "ca.json", ca_report())
    faster = ca_report()
    faster["machine"]["cpu_class"] = other
    faster["result"]["vs_golly"]["ratio"] = 0.15  # the other class races bgolly twice as well
    write(folder / other / "ca.json", faster)
    now = write(tmp_path / "now.json", ca_report())
    assert run_main(checker.main, [now, "--baseline-dir", str(folder)]) == 0
    assert " 1.00" in line_of(capsys.readouterr().out, VS_GOLLY)
    report = ca_report()
    report["machine"]["cpu_class"] = other
    now = write(tmp_path / "now.json", report)
    assert run_main(checker.main, [now, "--baseline-dir", str(folder)]) == 1
    assert "2.00 (> 1.25)" in line_of(capsys.readouterr().out, VS_GOLLY)


@pytest.mark.unit
@pytest.mark.parametrize(("cpuinfo", "cpus", "arch", "expected"), [
    ("vendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
     "flags\t\t: fpu sse4_2 avx avx2 avx512f avx512bw avx512_bf16\n\n"
     "vendor_id\t: AuthenticAMD\nflags\t\t: fpu\n", 2, "x86_64", "x86_64-amd-avx512-2cpu"),
    ("vendor_id : GenuineIntel\nflags : avx2 avx512f amx_tile amx_bf16\n", 8, "x86_64",
     "x86_64-intel-amx-8cpu"),
    ("vendor_id : GenuineIntel\nflags : sse4_2 avx avx2 fma\n", 4, "x86_64",
     "x86_64-intel-avx2-4cpu"),
    ("processor : 0\nFeatures : fp asimd sve\nCPU implementer : 0x41\n", 4, "aarch64",
     "aarch64-unknown-sve-4cpu"),
    ("", None, "", "unknown-unknown-base-0cpu"),
])
def test_the_machine_class_comes_from_the_vendor_vector_extensions_and_cores(
        cpuinfo: str, cpus: int | None, arch: str, expected: str) -> None:
    from game.bench.runner import machine_class

    assert machine_class(cpuinfo, cpus, arch) == expected


@pytest.mark.unit
def test_a_class_without_a_baseline_says_the_slip_check_was_not_done(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "baselines"
    folder.mkdir()
    now = write(tmp_path / "now.json", ca_report())
    assert run_main(checker.main, [now, "--baseline-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("slip check not done")]
    assert notes == [f"slip check not done: no baseline for machine class {CLASS} under {folder} "
                     "(write one with `make perf-baseline` on such a machine and commit it)"]
    assert "0 compared with a baseline" in out
    # --require-baseline (PERF_REQUIRE_BASELINE=1 in make perf) turns the note into a failure.
    assert run_main(checker.main, [now, "--baseline-dir", str(folder), "--require-baseline"]) == 1
    assert "slip check not done (--require-baseline)" in capsys.readouterr().out.splitlines()[-1]
    # A report that does not say its class cannot be compared either.
    report = ca_report()
    del report["machine"]["cpu_class"]
    now = write(tmp_path / "old.json", report)
    assert run_main(checker.main, [now, "--baseline-dir", str(folder), "--require-baseline"]) == 1
    assert "does not say its machine class" in capsys.readouterr().out


@pytest.mark.unit
def test_write_baseline_files_the_reports_under_their_class(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "baselines"
    ca = write(tmp_path / "ca.json", ca_report())
    detect = write(tmp_path / "detect.json", detect_report())
    assert run_main(checker.main, [ca, detect, "--write-baseline", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"baseline written: {folder / CLASS / 'ca.json'}" in out
    assert json.loads((folder / CLASS / "ca.json").read_text()) == ca_report()
    assert json.loads((folder / CLASS / "detect.json").read_text()) == detect_report()
    assert run_main(checker.main, [ca, "--baseline-dir", str(folder), "--require-baseline"]) == 0
    assert " 1.00" in line_of(capsys.readouterr().out, VS_ROLL)
    # A run with a figure over its limit is no baseline: nothing is written.
    report = ca_report()
    report["result"]["tick_80x80"]["p95_ms"] = 0.5
    bad = write(tmp_path / "bad.json", report)
    assert run_main(checker.main, [bad, "--write-baseline", str(tmp_path / "other")]) == 1
    assert f"baseline not written to {tmp_path / 'other'}" in capsys.readouterr().out
    assert not (tmp_path / "other").exists()


def all_report(*reports: dict[str, Any] | None) -> dict[str, Any]:
    """A ``--scenario all`` report holding ``reports`` (None: a scenario that failed)."""
    scenarios = {}
    for name, report in zip(("ca", "detect"), reports, strict=False):
        scenarios[name] = {"status": "ok" if report else "error", "seconds": 1.0,
                           "result": report["result"] if report else None,
                           "error": None if report else "RuntimeError: boom"}
    return {"scenario": "all", "seed": 0, "quick": True,
            "machine": {"cpus": 2, "cpu_class": CLASS},
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


@pytest.mark.unit
def test_a_scenario_that_failed_inside_an_all_report_fails_naming_its_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failed = write(tmp_path / "failed.json", all_report(ca_report(), None))
    assert run_main(checker.main, [failed]) == 1
    out = capsys.readouterr().out
    line = line_of(out, "scenario detect")
    assert line.startswith("FAIL") and "failed.json#detect" in line
    assert "the scenario failed in the all run: RuntimeError: boom" in line
    assert line_of(out, TICK_P95).startswith("PASS")  # the scenarios that ran are still judged
    assert "no detect report" in unjudged_line(out, TRACK_IDS)
    assert "scenario detect (FAIL)" in out.splitlines()[-1]


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
def test_a_figure_a_report_claims_is_missing_one_it_does_not_claim_is_not(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A full (not --quick) ca report claims the 4096^2 rows: without them they are missing.
    report = ca_report()
    report["quick"] = False
    full = write(tmp_path / "full.json", report)
    assert run_main(checker.main, [full, "--fail-missing"]) == 1
    out = capsys.readouterr().out
    assert "missing: no row backend=numpy,size=4096" in line_of(out, RATE_4096)
    assert f"{RATE_4096} (missing)" in out.splitlines()[-1]
    # A report that does not say whether it is quick cannot show it need not carry them.
    del report["quick"]
    old = write(tmp_path / "old.json", report)
    assert run_main(checker.main, [old, "--fail-missing"]) == 1
    line = line_of(capsys.readouterr().out, ROLL_4096)
    assert line.startswith("missing") and "does not say quick" in line


WHEN_THRESHOLDS = """
soak:
  growth: {scenario: full, path: result.rss_growth_pct, direction: max, limit: 2, unit: "%",
           when: {result.mode: soak, result.seconds: {min: 600}}, run: the long soak}
  log: {scenario: full, path: result.event_log.problems, direction: max, limit: 0, unit: n,
        when: {result.mode: {in: [ticks, soak]}}, run: make perf}
  small: {scenario: full, path: result.rss_peak_mb, direction: max, limit: 900, unit: MB,
          when: {result.settings.mesh: [5, 5]}, run: make perf}
  rows: {scenario: full, path: "result.rows[mesh=5x5].p95", direction: max, limit: 5, unit: ms,
         when: {result.meshes: {contains: 5x5}, result.ticks: {max: 1000}}}
"""


@pytest.mark.unit
def test_when_conditions_pick_the_reports_that_claim_a_figure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.yaml").write_text(WHEN_THRESHOLDS)
    argv = ["--thresholds", str(tmp_path / "t.yaml"), "--fail-missing"]

    def full(**result: Any) -> str:
        report = {"scenario": "full", "seed": 0, "quick": True, "machine": {}, "result": result}
        return write(tmp_path / "full.json", report)

    short = full(mode="soak", seconds=30, rss_growth_pct=9.0, rss_peak_mb=800.0,
                 event_log={"problems": 0}, settings={"mesh": [5, 5]}, meshes=[], ticks=10)
    assert run_main(checker.main, [short, *argv]) == 0
    out = capsys.readouterr().out
    assert "result.seconds is 30; judged when result.seconds >= 600" in unjudged_line(
        out, "soak.growth")
    assert "the long soak" in unjudged_line(out, "soak.growth")
    assert "result.meshes is []" in unjudged_line(out, "soak.rows")
    assert line_of(out, "soak.log").startswith("PASS")
    assert line_of(out, "soak.small").startswith("PASS")
    long = full(mode="soak", seconds=600, rss_growth_pct=9.0, rss_peak_mb=800.0,
                event_log={"problems": 0}, settings={"mesh": [16, 16]}, meshes=["5x5", "64x64"],
                ticks=1000, rows=[{"mesh": "5x5", "p95": 4.0}])
    assert run_main(checker.main, [long, *argv]) == 1
    out = capsys.readouterr().out
    assert line_of(out, "soak.growth").startswith("FAIL")
    assert line_of(out, "soak.rows").startswith("PASS")
    assert "result.settings.mesh is [16, 16]" in unjudged_line(out, "soak.small")
    # With --run, a threshold of that run that no report claims fails: the run lost its figure.
    scaling = full(mode="scaling", seconds=10, settings={"mesh": [5, 5]}, meshes=[], ticks=5,
                   rss_peak_mb=800.0)
    assert run_main(checker.main, [scaling, *argv, "--run", "make perf"]) == 1
    out = capsys.readouterr().out
    line = line_of(out, "soak.log")
    assert line.startswith("FAIL")
    assert "its run is 'make perf' but no report given claims it" in line
    assert "soak.small" not in out.splitlines()[-1]


@pytest.mark.unit
def test_several_reports_rows_picked_by_fields_with_spaces(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = write(tmp_path / "ca.json", ca_report())
    report = detect_report()
    report["result"]["latency"][1]["p95_ms"] = 2.5  # 80x80 gliders in flight, over its 2 ms
    detect = write(tmp_path / "detect.json", report)
    assert run_main(checker.main, [ca, detect, "--fail-missing"]) == 1
    out = capsys.readouterr().out
    line = line_of(out, "phase_1_ca_grid.pattern_detection.detect_80_in_flight_p95")
    assert line.startswith("FAIL") and "detect.json" in line and " 2.5 " in line
    assert line_of(out, "phase_1_ca_grid.pattern_detection.detect_80_in_flight_p50").startswith(
        "PASS")
    assert line_of(out, "phase_1_ca_grid.pattern_detection.accuracy").startswith("PASS")
    assert "quick is true" in unjudged_line(
        out, "phase_1_ca_grid.pattern_detection.detect_1024_ash_p95")


@pytest.mark.unit
def test_an_older_real_quick_ca_report_cannot_show_it_need_not_carry_the_full_rows(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A real report written before reports said `quick`: the thresholds' paths match its shape;
    the rows only a full run claims are missing, since it does not say it is quick."""
    report = checker.load_report(SAVED_CA)
    assert "quick" not in report
    missing = {t.name for t in checker.load_thresholds(THRESHOLDS) if t.scenario == "ca"
               and (checker.claims(t, report)[0] is None
                    or checker.lookup(report, t.steps).missing)}
    assert missing == {RATE_4096, ROLL_4096, VS_GOLLY}  # it has no race either
    assert run_main(checker.main, [str(SAVED_CA), "--baseline", str(SAVED_CA)]) == 0
    assert "0 failed, 0 slipped, 3 missing" in capsys.readouterr().out


def make_perf_check(perf_dir: Path) -> list[str]:
    """The checker's arguments in `make perf` (its recipe as `make -n` prints it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    text = subprocess.run(["make", "-n", "perf", f"PERF_DIR={perf_dir}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True, timeout=60).stdout
    line = next(line for line in text.replace("\\\n", " ").splitlines()
                if "check_performance_regression.py" in line)
    words = shlex.split(line)
    return words[words.index("scripts/check_performance_regression.py") + 1:]


def committed_runs() -> list[Path]:
    """The committed baselines: one folder per machine class, a whole make perf run each."""
    return sorted(p for p in (ROOT / "tests" / "baselines").iterdir() if p.is_dir())


@pytest.mark.unit
def test_make_perf_fails_on_a_missing_figure_a_broken_limit_and_a_failed_scenario(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The checker as make perf calls it, on a committed real run (one that passed: make
    perf-baseline writes no other), then with one figure missing, one limit broken, and one
    scenario failed inside an all report."""
    monkeypatch.chdir(ROOT)
    argv = make_perf_check(tmp_path)
    assert {"--fail-missing", "--baseline-dir"} <= set(argv)
    assert argv[argv.index("--run") + 1] == "make perf"
    reports = [Path(a) for a in argv if a.startswith(str(tmp_path))]
    scenarios = {p.stem for p in reports}
    assert {"ca", "full"} < scenarios
    run = next(d for d in committed_runs() if (d / "ca.json").exists())

    def put(name: str, report: dict[str, Any]) -> None:
        write(tmp_path / f"{name}.json", report)

    def saved(name: str) -> dict[str, Any]:
        return checker.load_report(run / f"{name}.json")

    for name in scenarios:
        put(name, saved(name))
    assert run_main(checker.main, argv) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "0 failed, 0 slipped, 0 missing, 0 invalid" in out
    assert "slip check not done" not in out

    detect = saved("detect")
    del detect["result"]["tracking"]
    put("detect", detect)
    assert run_main(checker.main, argv) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert f"{TRACK_IDS} (missing)" in last

    put("detect", saved("detect"))
    routing = saved("routing")
    routing["result"]["delivery_rate"] = 0.5
    put("routing", routing)
    assert run_main(checker.main, argv) == 1
    assert "phase_2_shard_routing.burst.delivery_rate (FAIL)" in (
        capsys.readouterr().out.splitlines()[-1])

    put("routing", saved("routing"))
    ca = saved("ca")
    put("ca", {**ca, "scenario": "all", "result": {
        "scenarios": {"ca": {"status": "error", "seconds": 1.0, "result": None,
                             "error": "MemoryError: out of memory"}}, "failed": ["ca"]}})
    assert run_main(checker.main, argv) == 1
    out = capsys.readouterr().out
    assert "the scenario failed in the all run: MemoryError: out of memory" in line_of(
        out, "scenario ca")
    assert "scenario ca (FAIL)" in out.splitlines()[-1]


@pytest.mark.unit
def test_the_committed_baselines_are_whole_quick_runs_of_their_class(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    scenarios = {Path(a).stem for a in make_perf_check(tmp_path) if a.startswith(str(tmp_path))}
    runs = committed_runs()
    assert runs
    for run in runs:
        assert {p.stem for p in run.glob("*.json")} == scenarios, run
        for path in run.glob("*.json"):
            report = checker.load_report(path)
            assert report["scenario"] == path.stem and report["quick"] is True
            assert report["machine"]["cpu_class"] == run.name


@pytest.mark.unit
def test_the_thresholds_file_covers_the_phases_and_names_test_matrix_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    thresholds = checker.load_thresholds(THRESHOLDS)
    phases = {t.name.split(".")[0] for t in thresholds}
    assert {"phase_1_ca_grid", "phase_2_shard_routing", "phase_3_integration",
            "phase_7_dashboard", "phase_8_viewer", "phase_9_full"} <= phases
    matrix = (ROOT / "TEST-MATRIX.md").read_text()
    for t in thresholds:
        assert re.search(rf"^\| {re.escape(t.ident)} \|", matrix, re.M), t.name
        assert t.run, f"{t.name}: no `run` says who judges it"
        assert not t.ratio or t.unit == "x", t.name
    assert len({t.name for t in thresholds}) == len(thresholds)
    # `run: make perf` is what make perf benches: a scenario it judges is one it runs.
    monkeypatch.chdir(ROOT)
    benched = {Path(a).stem for a in make_perf_check(tmp_path) if a.startswith(str(tmp_path))}
    assert {t.scenario for t in thresholds if t.run == "make perf"} == benched


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
    "when list": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: ms, "
                  "when: [quick]}}", "'when' must be a mapping"),
    "when op": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: ms, "
                "when: {quick: {above: 1}}}}", "when quick: expected a value or one of"),
    "when min": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: ms, "
                 "when: {result.n: {min: many}}}}", "'min' needs a number"),
    "when in": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: ms, "
                "when: {result.n: {in: 3}}}}", "'in' needs a list"),
    "when path": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: ms, "
                  "when: {'a[b': 1}}}", "when: bad path"),
    "ratio": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: x, "
              "ratio: yes please}}", "'ratio' must be true or false"),
    "run": ("x: {g: {scenario: ca, path: a, direction: max, limit: 1, unit: x, run: [make]}}",
            "'run' must be text"),
}


@pytest.mark.unit
@pytest.mark.parametrize("case", sorted(BAD_THRESHOLDS))
def test_a_bad_thresholds_file_is_one_line_and_exit_2(
        case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, message = BAD_THRESHOLDS[case]
    (tmp_path / "t.yaml").write_text(text)
    report = write(tmp_path / "ca.json", ca_report())
    assert_fails_in_one_line(checker.main, [report, "--thresholds", str(tmp_path / "t.yaml")],
                             message, capsys)


@pytest.mark.unit
def test_bad_reports_and_arguments_are_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = write(tmp_path / "ca.json", ca_report())
    (tmp_path / "text.json").write_text("not json")
    unknown_in_all = all_report(ca_report())
    unknown_in_all["result"]["scenarios"]["warp"] = unknown_in_all["result"]["scenarios"]["ca"]
    broken_all = all_report(ca_report())
    broken_all["result"]["scenarios"]["ca"] = "ran"
    classless = ca_report()
    del classless["machine"]["cpu_class"]
    cases: list[tuple[list[str], str]] = [
        ([str(tmp_path / "none.json")], "cannot read"),
        ([str(tmp_path / "text.json")], "not JSON"),
        ([write(tmp_path / "list.json", [1, 2])], "not a bench report"),
        ([write(tmp_path / "nores.json", {"scenario": "ca"})], "not a bench report"),
        ([write(tmp_path / "unk.json", {"scenario": "warp", "result": {}})],
         "unknown scenario 'warp'"),
        ([write(tmp_path / "all1.json", unknown_in_all)], "unknown scenario 'warp' in the 'all'"),
        ([write(tmp_path / "all2.json", broken_all)], "scenario 'ca' of the 'all' report is not"),
        ([ca, "--baseline", ca, "--baseline", ca], "two baselines of scenario 'ca'"),
        ([ca, "--baseline", str(tmp_path / "text.json")], "not JSON"),
        ([ca, "--max-slip", "0.5"], "--max-slip must be a number >= 1"),
        ([ca, "--max-slip", "fast"], "invalid float value"),
        ([ca, "--require-baseline"], "--require-baseline needs --baseline-dir"),
        ([ca, "--baseline-dir", str(tmp_path / "nowhere")], "not a folder"),
        ([write(tmp_path / "nocls.json", classless), "--write-baseline", str(tmp_path / "b")],
         "does not say its machine class"),
        ([], "the following arguments are required"),
    ]
    for argv, message in cases:
        assert_fails_in_one_line(checker.main, argv, message, capsys)


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
        assert_fails_in_one_line(memory_monitor.main, argv, message, capsys)


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
        assert_fails_in_one_line(check_memory_budget.main, ["--phase", "x", *argv], message,
                                 capsys)
