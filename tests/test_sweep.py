"""``cybermesh sweep``: the same table on 1, 2 and Ray workers, lost workers and sweeps, reports.

The runs are the quick spec's bare soups, shrunk (small lattices, few ticks) so that what is
measured is the sweep machinery: worker processes start in seconds (torch's import), the runs
take milliseconds.
"""

from __future__ import annotations

import csv
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from game.errors import BadInput
from game.sweep.report import write_report
from game.sweep.run import run_sweep
from game.sweep.scenarios import SCENARIOS
from game.sweep.spec import load_plan
from tests.conftest import need
from tests.helpers import ENV, assert_cli_fails_in_one_line, cli, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = ROOT / "config" / "sweeps"
#: Columns that say how a run went, not what it computed: they differ between sweeps.
HOW = ("wall_s", "worker", "attempt")


def write_spec(folder: Path, name: str = "small.yaml", **changes: Any) -> Path:
    """The quick spec, shrunk to 4 seeds x 3 densities of 16x16-tile soups for 40 ticks."""
    spec = yaml.safe_load((SWEEPS / "quick.yaml").read_text())
    spec["seeds"] = {"start": 0, "stop": 4}
    spec["set"] = {"mesh.tile": 16, "ticks": 40}
    spec.update(changes)
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def table(folder: Path) -> list[dict[str, Any]]:
    """The rows of a sweep's runs.parquet."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(folder / "runs.parquet").to_pylist()
    return rows


def results(folder: Path) -> list[dict[str, Any]]:
    """What the runs computed, in run order: the table less the columns of :data:`HOW`."""
    return sorted(({k: v for k, v in r.items() if k not in HOW} for r in table(folder)),
                  key=lambda r: r["run"])


def csv_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "runs.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cybermesh sweep SPEC --bench --workers 2 --out D``: the spec on 1 and on 2 workers."""
    folder = tmp_path_factory.mktemp("sweep-bench")
    spec = write_spec(folder)
    result = cli("sweep", str(spec), "--bench", "--workers", "2", "--out", str(folder / "out"),
                 "--quiet", timeout=240)
    assert result.returncode == 0, result.stderr
    assert "ratio, 2 workers against 1" in result.stdout, result.stdout
    return folder


def test_same_table_with_1_and_2_workers(bench: Path) -> None:
    one, two = bench / "out" / "workers-1", bench / "out" / "workers-2"
    assert len(results(one)) == 12
    assert results(one) == results(two)
    assert all(r["status"] == "ok" and r["attempt"] == 1 for r in table(two))
    assert sorted(r["run_id"] for r in table(one)) == sorted(
        r.run_id for r in load_plan(bench / "small.yaml").runs)
    report = yaml.safe_load((bench / "out" / "bench.json").read_text())
    assert [r["workers"] for r in report["rows"]] == [1, 2]
    assert report["ratio"] > 0 and report["warm_ratio"] > 0  # reported, never asserted


def test_same_table_on_a_local_ray_cluster(bench: Path, tmp_path: Path) -> None:
    try:
        import ray
    except ImportError:
        need(False, "ray is not installed (pip install -e '.[ray]')")
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    try:
        result = run_sweep(load_plan(bench / "small.yaml"), tmp_path / "ray", ray="auto",
                           quiet=True)
        assert ray.is_initialized()  # the sweep used the test's Ray and left it running
    finally:
        ray.shutdown()
    assert result.ok == 12 and result.failed == 0
    assert result.pool.startswith("Ray, 2 tasks")
    assert results(tmp_path / "ray") == results(bench / "out" / "workers-1")


def test_a_killed_worker_loses_no_run(bench: Path, tmp_path: Path) -> None:
    # Run 2's first attempt SIGKILLs its own worker; run 4 raises once; run 5 raises every time.
    spec = write_spec(tmp_path, retries=1, faults={"kill": [2], "fail": {4: 1, 5: 9}})
    result = run_sweep(load_plan(spec), tmp_path / "out", workers=2, quiet=True)
    rows = {r["run"]: r for r in table(tmp_path / "out")}
    assert sorted(rows) == list(range(12))
    # An attempt in flight beside run 2's when that worker died is run again without blame,
    # so a run may need one attempt more than its own faults ask for.
    assert rows[2]["status"] == "ok" and rows[2]["attempt"] >= 2
    assert rows[4]["status"] == "ok" and rows[4]["attempt"] >= 2
    assert rows[5]["status"] == "failed" and rows[5]["attempt"] >= 2
    assert f"fault injected into run 5, attempt {rows[5]['attempt']}" in rows[5]["error"]
    assert rows[5]["settled"] is None
    assert result.ok == 11 and result.failed == 1
    assert result.retries >= 3  # runs 2, 4 and 5, and any attempt cut off beside run 2
    clean = {r["run"]: r for r in results(bench / "out" / "workers-1")}
    for run, row in rows.items():
        if run != 5:  # the faults are not part of a run's identity, nor of its result
            assert {k: v for k, v in row.items() if k not in HOW} == clean[run]


def test_a_killed_sweep_resumes_without_repeating_a_run(tmp_path: Path) -> None:
    # Runs of ~0.3 s (the quick spec's lattice), so that the kill lands mid-sweep.
    spec = write_spec(tmp_path, set={"mesh.tile": 32, "ticks": 1500})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "game.app.cli", "sweep", str(spec),
                             "--workers", "2", "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "runs.csv").exists() and len(csv_rows(out)) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.stderr is not None
    proc.stderr.close()
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, "workers outlived their sweep"
    before = {r["run_id"]: r for r in csv_rows(out)}
    assert 3 <= len(before) < 12

    result = cli("sweep", str(spec), "--workers", "2", "--out", str(out), "--resume",
                 timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{len(before)} already in the table" in result.stderr
    assert "running" in result.stderr and "failed 0" in result.stderr  # the progress bar
    after = table(out)
    ids = [r["run_id"] for r in after]
    assert sorted(ids) == sorted(r.run_id for r in load_plan(spec).runs)
    assert len(set(ids)) == len(ids) == 12
    for row in after:
        if row["run_id"] in before:  # finished before the kill: kept, not run again
            old = before[row["run_id"]]
            assert repr(row["wall_s"]) == old["wall_s"] and row["worker"] == old["worker"]
    assert len(csv_rows(out)) == 12  # the CSV beside the Parquet holds the same rows
    # Resuming a complete sweep runs nothing.
    again = run_sweep(load_plan(spec), out, resume=True, quiet=True)
    assert (again.skipped, again.done, again.pool) == (12, 0, "")
    assert [r["wall_s"] for r in table(out)] == [r["wall_s"] for r in after]


def test_report_rebuilds_the_summary_and_plots_from_the_table(
        bench: Path, tmp_path: Path) -> None:
    from scipy import stats

    src = bench / "out" / "workers-2"
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("runs.parquet", "runs.csv", "sweep.json"):
        (folder / name).write_bytes((src / name).read_bytes())
    result = cli("sweep", "--report", str(folder))
    assert result.returncode == 0, result.stderr
    assert "lattice.soup_density" in result.stdout and "4/4" in result.stdout
    assert (folder / "plot-settled.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (folder / "summary.csv").open(newline="") as f:
        summary = list(csv.DictReader(f))
    assert [float(s["lattice.soup_density"]) for s in summary] == [0.25, 0.35, 0.5]
    values = [r["settled"] for r in table(folder) if r["lattice.soup_density"] == 0.35]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values),
                                 scale=stats.sem(values))
    assert float(summary[1]["settled_low"]) == pytest.approx(low)
    assert float(summary[1]["settled_high"]) == pytest.approx(high)
    # A sweep killed before its first Parquet checkpoint: the report reads the CSV.
    (folder / "runs.parquet").unlink()
    (folder / "summary.csv").unlink()
    write_report(folder)
    with (folder / "summary.csv").open(newline="") as f:
        assert list(csv.DictReader(f)) == summary


@pytest.mark.parametrize("case, words", [
    ("unknown scenario", ("scenario 'lifeboat' is not one of", "energy, persistence")),
    ("unknown parameter", ("grid.route.los: unknown parameter",)),
    ("wrong type", ("grid: route.loss: expected float, got str",)),
    ("empty grid", ("grid.lattice.soup_density: empty list of values",)),
    ("missing file", ("no such file",)),
    ("bad YAML", ("not valid YAML",)),
])
def test_a_bad_spec_exits_2_with_one_line(tmp_path: Path, case: str,
                                          words: tuple[str, ...]) -> None:
    grid: dict[str, Any] = {"lattice.soup_density": [0.3]}
    path = tmp_path / "bad.yaml"
    if case == "unknown scenario":
        write_spec(tmp_path, "bad.yaml", scenario="lifeboat")
    elif case == "unknown parameter":
        write_spec(tmp_path, "bad.yaml", grid={**grid, "route.los": [0.1]})
    elif case == "wrong type":
        write_spec(tmp_path, "bad.yaml", grid={**grid, "route.loss": ["lots"]})
    elif case == "empty grid":
        write_spec(tmp_path, "bad.yaml", grid={"lattice.soup_density": []})
    elif case == "bad YAML":
        path.write_text("scenario: soup\nseeds: [0, 1\n")
    else:
        path = tmp_path / "missing.yaml"
    assert_cli_fails_in_one_line(cli("sweep", str(path), "--out", str(tmp_path / "out")),
                                 str(path), *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("changes, words", [
    ({"seeds": {"start": 5, "stop": 5}}, "seeds: empty range 5..5"),
    ({"seeds": []}, "seeds: empty list"),
    ({"seeds": "0:10"}, "seeds: expected int | object | array, got str"),
    ({"grid": {}}, "grid: empty (leave it out"),
    ({"grid": {"lattice.soup_density": 0.3}}, "grid.lattice.soup_density: expected a list"),
    ({"grid": {"seed": [1, 2]}}, "grid.seed: the seeds come from `seeds`"),
    ({"set": {}, "grid": {"ticks": [10, "many"]}}, "grid: ticks: expected int, got str"),
    ({"set": {}, "grid": {"ticks": [2]}}, "grid: ticks: expected int >= 3"),
    ({"grid": {"mesh": ["5by5"]}}, "grid: mesh: expected ROWSxCOLS, e.g. 5x5, got '5by5'"),
    ({"set": {}, "grid": {"mesh.rows": [512], "mesh.tile": [1024]}},
     "grid point mesh.rows=512, mesh.tile=1024: mesh: 512x5 tiles of 1024x1024"),
    ({"set": {"ticks": 40, "route.router": "fastest"}},
     "set: route.router: invalid enum value 'fastest' (expected one of shortest, semantic)"),
    ({"set": {"ticks": 40}, "grid": {"ticks": [10]}}, "ticks is both in set and in grid"),
    ({"metrics": ["settle"]}, "metrics: unknown metric 'settle' (scenario soup has settled"),
    ({"faults": {"kill": [99]}}, "faults: run 99 does not exist (runs are 0..11)"),
    ({"scenario": "persistence", "grid": {"mode": ["rule_sparkle"]}},
     "mode: 'rule_sparkle' is neither none, random nor an adapter"),
    ({"scenario": "routing", "set": {}, "grid": {"shards": [0]}},
     "grid: shards: expected int >= 1"),
    ({"colour": "blue"}, "unknown key 'colour'"),
])
def test_spec_problems_are_named_in_one_line(tmp_path: Path, changes: dict[str, Any],
                                             words: str) -> None:
    with pytest.raises(BadInput) as err:
        load_plan(write_spec(tmp_path, **changes))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_an_existing_table_needs_resume_and_the_same_spec(bench: Path, tmp_path: Path) -> None:
    out = bench / "out" / "workers-1"
    result = cli("sweep", str(bench / "small.yaml"), "--out", str(out))
    assert_cli_fails_in_one_line(result, "holds a sweep already (12 runs)", "--resume")
    other = write_spec(tmp_path, "other.yaml", seeds=3)
    assert_cli_fails_in_one_line(cli("sweep", str(other), "--out", str(out), "--resume"),
                                 "are not runs of this spec")
    assert_cli_fails_in_one_line(cli("sweep"), "name a SPEC.yaml")


def test_an_unreachable_ray_cluster_is_one_line(bench: Path, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there once the probe socket is closed
    result = cli("sweep", str(bench / "small.yaml"), "--ray", f"127.0.0.1:{port}", "--out",
                 str(tmp_path / "out"))
    assert_cli_fails_in_one_line(result, f"--ray 127.0.0.1:{port}: nothing answers there")
    assert not (tmp_path / "out").exists()


def test_the_config_file_is_read_relative_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("route:\n  ttl: 7\nenergy:\n  half_life: 9.0\n")
    plan = load_plan(write_spec(tmp_path, config="base.yaml", grid={"mesh": ["3x4", "2x2"]}))
    first = plan.points[0].config
    assert (first["route"]["ttl"], first["energy"]["half_life"]) == (7, 9.0)
    assert (first["mesh"]["rows"], first["mesh"]["cols"]) == (3, 4)
    assert first["lattice"]["backend"] == "numpy" and first["pulse"]["enabled"] is False
    assert [p.values for p in plan.points] == [{"mesh": "3x4"}, {"mesh": "2x2"}]
    with pytest.raises(BadInput, match=r"nope\.yaml: no such file"):
        load_plan(write_spec(tmp_path, config="nope.yaml"))


def test_sweep_help_names_every_flag() -> None:
    result = cli("sweep", "--help")
    assert result.returncode == 0
    for flag in ("SPEC.yaml", "--workers", "--ray", "--out", "--resume", "--report", "--bench",
                 "--quiet"):
        assert flag in result.stdout


def test_every_example_spec_is_valid() -> None:
    sizes = {p.stem: len(load_plan(p).runs) for p in sorted(SWEEPS.glob("*.yaml"))}
    assert sizes == {"energy-halflife": 100, "persistence": 4000, "quick": 24,
                     "routing-loss": 600}
    assert len({r.seed for r in load_plan(SWEEPS / "persistence.yaml").runs}) == 1000


def test_each_scenario_runs_the_project_code() -> None:
    from game.sweep.scenarios import EnergyParams, PersistenceParams, RoutingParams

    def config(name: str, *sets: tuple[str, Any]) -> Any:
        from game.config import load_config, override

        cfg = load_config(None)
        for key, value in (*SCENARIOS[name].base, ("mesh.rows", 3), ("mesh.cols", 3), *sets):
            cfg = override(cfg, key, value)
        return cfg

    def number(metrics: dict[str, float | int | None], key: str) -> float:
        value = metrics[key]
        assert value is not None, key
        return float(value)

    persist = SCENARIOS["persistence"].run(config("persistence", ("mesh.tile", 8)), 1,
                                           PersistenceParams(ticks=30, mode="rule_persist"))
    assert set(persist) == set(SCENARIOS["persistence"].metrics)
    assert number(persist, "pulses") > 0 and number(persist, "settled") >= 0
    routed = SCENARIOS["routing"].run(config("routing"), 2, RoutingParams(shards=4))
    assert number(routed, "delivered") == 4 and routed["to_most_similar"] is None
    semantic = SCENARIOS["routing"].run(config("routing", ("route.router", "semantic")), 2,
                                        RoutingParams(shards=4))
    assert 0 <= number(semantic, "to_most_similar") <= 1
    hints = SCENARIOS["energy"].run(config("energy", ("route.horizon", 1)), 3,
                                    EnergyParams(shards=12))
    assert set(hints) == set(SCENARIOS["energy"].metrics)
    assert number(hints, "hops_change") == pytest.approx(
        number(hints, "hops_mean_on") / number(hints, "hops_mean_off") - 1)
