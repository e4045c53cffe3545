"""``cybermesh bench --scenario full`` (issue 9): the tick run, scaling, plots, ``all``, bad flags.

The scenario runs for real, in-process, on a tiny mesh for a few ticks (the model loads once per
run); nothing is mocked. ``--scenario all`` is tested through its dispatcher on a subset.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from game.app.cli import SCENARIO_NAMES, build_parser, main
from game.bench.full import GATES, full_config, run_full, scenario_full
from game.bench.registry import ALL_ORDER, SCENARIOS, print_all, run_all
from game.config import Config
from game.engine.schedule import TICK_ORDER
from tests.helpers import assert_one_line_error

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def bench_args(*argv: str) -> argparse.Namespace:
    """The bench flags as the CLI parses them."""
    return build_parser().parse_args(["bench", *argv])


def assert_png(path: Path, width: int = 1200) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), path
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] == width and image.size[1] >= 300, image.size


@pytest.fixture(scope="module")
def tick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One real run: 3x3 mesh of 8x8 tiles, 4 shards kept in flight, 5 + 20 ticks, plots."""
    tmp = tmp_path_factory.mktemp("full")
    args = bench_args("--scenario", "full", "--mesh", "3x3", "--tile", "8", "--shards", "4",
                      "--ticks", "20", "--warmup", "5", "--plot", str(tmp / "plots"),
                      "--events", str(tmp / "events.jsonl"))
    report = scenario_full(args, Config(), lambda _: None)
    return report, tmp


def test_the_tick_run_reports_every_system_rates_shards_rss_and_gates(
    tick_run: tuple[dict[str, Any], Path],
) -> None:
    r, _ = tick_run
    assert r["mode"] == "ticks"
    s = r["settings"]
    assert s["mesh"] == [3, 3] and s["tile"] == 8 and s["cells"] == 24 * 24
    assert s["shards_target"] == 4 and s["traffic_rate"] is None
    assert s["warmup_ticks"] == 5 and s["ticks"] == 20
    for key in ("detect_every", "transport", "pulse_every", "wave_every", "rate", "backend"):
        assert key in s
    assert s["pulse_every"] == 10 and s["wave_every"] == 100 and s["rate"] is None
    assert list(r["systems"]) == list(TICK_ORDER)  # every system on, in tick order
    for row in r["systems"].values():
        assert set(row) == {"p50", "p95", "p99", "max", "mean", "share"}
        assert 0 <= row["p50"] <= row["p95"] <= row["p99"] <= row["max"]
    t = r["tick_ms"]
    assert r["ticks"] == 20 and 0 < t["p50"] <= t["p95"] <= t["p99"] <= t["max"]
    assert t["mean"] >= sum(row["mean"] for row in r["systems"].values()) * 0.999
    assert r["ticks_per_s"] > 0
    assert r["cell_updates_per_s"] == pytest.approx(24 * 24 * r["ticks_per_s"])
    m = r["shards"]["memory"]
    assert m["spawned"] > 0 and m["delivered"] + m["expired"] + m["dropped"] > 0
    assert r["shards"]["in_flight_max"] <= 4 + 1  # topped up to 4, never far over
    assert r["shards_delivered_per_s"] == pytest.approx(m["delivered"] / r["seconds"])
    assert 0 < r["rss_start_mb"] <= r["rss_peak_mb"] and r["rss_samples"] >= 3
    assert r["event_log"]["problems"] == 0, r["event_log"]["first_problems"]
    gates = {g["name"]: g for g in r["gates"]}
    assert set(gates) == {g.name for g in GATES}
    assert gates["rss_peak_mb"]["applies"] and gates["rss_peak_mb"]["pass"] is True
    for name in ("tick_p95_ms", "tick_p99_ms", "ticks_per_s"):  # not the 5x5 or 64x64 mesh
        assert gates[name]["applies"] is False and gates[name]["pass"] is None
    assert len(r["series"]["tick"]) == 20
    assert set(r["series"]) >= set(TICK_ORDER)
    json.dumps(r)  # the report is JSON as it is


def test_the_plots_are_valid_pngs_1200_px_wide(tick_run: tuple[dict[str, Any], Path]) -> None:
    r, tmp = tick_run
    names = sorted(Path(p).name for p in r["plots"])
    assert names == ["bench-full-percentiles.png", "bench-full-systems.png"]
    for p in r["plots"]:
        assert Path(p).parent == tmp / "plots"
        assert_png(Path(p))


def test_the_same_seed_and_flags_run_the_same_ticks(tmp_path: Path,
                                                    tick_run: tuple[dict[str, Any], Path]) -> None:
    """Spawns, top-ups and waves are tick-based and seeded: the event log is byte-identical."""
    _, tmp = tick_run
    args = bench_args("--mesh", "3x3", "--tile", "8", "--shards", "4")
    cfg = full_config(Config(), args)
    logs = []
    for i in range(2):
        events = tmp_path / f"run{i}.jsonl"
        r = run_full(cfg, ticks=12, warmup=3, shards=4, events=str(events),
                     progress=lambda _: None, wave_every=5, series=False)
        assert r["waves"] == 3 and r["shards"]["adapter"]["spawned"] > 0
        logs.append(events.read_bytes())
    assert logs[0] == logs[1]
    assert b'"payload":"adapter"' in logs[0]


def test_scaling_rows_fit_and_plot(tmp_path: Path) -> None:
    args = bench_args("--scenario", "full", "--scaling", "2x2,3x3", "--scaling-shards", "0,6",
                      "--tile", "8", "--ticks", "8", "--warmup", "2", "--plot", str(tmp_path))
    r = scenario_full(args, Config(), lambda _: None)
    assert r["mode"] == "scaling" and r["ticks"] == 8 and r["warmup_ticks"] == 2
    rows = r["rows"]
    assert [(x["mesh"], x["sweep"], x["shards"]) for x in rows] == [
        ("2x2", "mesh", None), ("3x3", "mesh", None), ("3x3", "shards", 0),
        ("3x3", "shards", 6)]
    assert [x["cells"] for x in rows] == [256, 576, 576, 576]
    for x in rows:
        assert x["ticks"] == 8 and x["tick_mean_ms"] > 0 and x["ticks_per_s"] > 0
        assert set(x["systems_mean_ms"]) == set(TICK_ORDER)
    assert rows[2]["in_flight_mean"] == 0  # no memory shards at all
    assert rows[3]["in_flight_mean"] > rows[2]["in_flight_mean"]
    assert isinstance(r["fit"]["ms_vs_cells_loglog_slope"], float)
    assert isinstance(r["fit"]["ms_per_shard_in_flight"], float)
    assert [Path(p).name for p in r["plots"]] == ["bench-full-scaling.png"]
    assert_png(Path(r["plots"][0]))


def test_scenario_all_runs_every_scenario_in_the_order_list() -> None:
    assert "all" in SCENARIOS and "all" in SCENARIO_NAMES
    assert sorted(ALL_ORDER) == sorted(set(SCENARIOS) - {"all"})
    assert build_parser().parse_args(["bench", "--scenario", "all", "--quick"]).scenario == "all"


def test_all_reports_a_failing_scenario_and_runs_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # routing fails for real (a down bot outside the mesh); ca still runs after it
    args = bench_args("--quick", "--ticks", "2", "--mesh", "3x3", "--down", "9,9")
    r = run_all(args, Config(), lambda _: None, names=("routing", "ca"))
    out = capsys.readouterr().out
    assert list(r["scenarios"]) == ["routing", "ca"] and r["failed"] == ["routing"]
    assert r["scenarios"]["routing"]["status"] == "error"
    assert "outside the 3x3 mesh" in r["scenarios"]["routing"]["error"]
    ca = r["scenarios"]["ca"]
    assert ca["status"] == "ok" and ca["error"] is None and ca["result"]["sizes"]
    assert "== routing" in out and "routing: FAILED" in out
    assert "== ca" in out and "G cell-upd/s" in out  # ca's own printer, in turn
    print_all(r)
    summary = capsys.readouterr().out
    assert "1/2 scenarios ran; failed: routing" in summary


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--mesh", "0x3"], ["--mesh", "0x3"]),
        (["--tile", "3"], ["--tile", "at least 8"]),
        (["--tile", "x"], ["--tile"]),
        (["--shards", "-1"], ["--shards", "negative"]),
        (["--rate", "0"], ["--rate"]),
        (["--warmup", "-5"], ["--warmup"]),
        (["--scaling", "5x5,,8x8"], ["--scaling"]),
        (["--scaling", "5x0"], ["--scaling"]),
        (["--scaling-shards", "0,-1"], ["--scaling-shards"]),
    ],
)
def test_bad_full_flags_are_one_line_and_exit_2(argv: list[str], words: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:  # argparse refuses them, before any run
        main(["bench", "--scenario", "full", *argv])
    assert_one_line_error(int(str(exit_.value.code)), capsys.readouterr().err, *words)


def test_an_unwritable_plot_dir_is_one_line_and_exit_2_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["bench", "--scenario", "full", "--plot", str(blocker / "plots")])
    assert_one_line_error(code, capsys.readouterr().err, "--plot", "cannot write plots")
    code = main(["bench", "--scenario", "ca", "--plot", str(tmp_path)])
    assert_one_line_error(code, capsys.readouterr().err, "only --scenario full or all")
