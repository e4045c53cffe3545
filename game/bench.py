"""``cybermesh bench``: headless benchmarks that print a table and, with ``--json``, a report.

Speed figures are only meaningful beside a baseline measured in the same run on the same machine,
so every scenario reports ratios against one (the naive ``np.roll`` lattice for ``ca``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from game.backends import LifeBackend, make_backend
from game.config import Config
from game.errors import BadInput, one_line
from game.files import write_bytes
from game.rules import CONWAY

Report = dict[str, Any]

TARGET_SECONDS = 0.6  # time per measurement: long enough to average out scheduler noise


#: Timed windows per measurement; the fastest counts (time other work on the CPU takes from a
#: window only adds to it, so the minimum is the least disturbed estimate).
WINDOWS = 3


def _measure(backend: LifeBackend, seconds: float, max_gens: int | None = None) -> Report:
    """Cell-updates/s of ``backend``: one warm-up generation, then the best of ``WINDOWS``.

    The windows together fill ``seconds``; the fastest one counts.
    """
    h, w = backend.shape
    backend.step(1)
    t0 = time.perf_counter()
    backend.step(1)
    one = max(time.perf_counter() - t0, 1e-7)
    gens = max(3, int(seconds / WINDOWS / one))
    if max_gens is not None:
        gens = min(gens, max_gens)
    best = float("inf")
    for _ in range(WINDOWS):
        t0 = time.perf_counter()
        backend.step(gens)
        backend.population()  # forces GL backends to finish
        best = min(best, time.perf_counter() - t0)
    return {
        "gens": gens,
        "windows": WINDOWS,
        "seconds": best,
        "ms_per_gen": best / gens * 1e3,
        "cell_updates_per_s": gens * h * w / best,
    }


def _per_gen_ms(backend: LifeBackend, gens: int) -> list[float]:
    times = []
    for _ in range(gens):
        t0 = time.perf_counter()
        backend.step(1)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def _pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (0.0 when there are none)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


def _gl_available() -> str | None:
    """None when the gl backend can run here, else the one-line reason."""
    try:
        b = make_backend("gl", CONWAY, (8, 8))
    except BadInput as err:
        return str(err)
    b.close()
    return None


Progress = Callable[[str], None]


def scenario_ca(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """Lattice throughput per backend and size, the 80×80 tick, and the race against bgolly.

    ``--quick`` leaves out the 4096² rows; the race (a same-run ratio, ~7 s) runs either way.
    """
    sizes = [80, 256, 1024] if args.quick else [80, 256, 1024, 4096]
    seconds = 0.2 if args.quick else TARGET_SECONDS
    gl_reason = _gl_available()
    backends = ["numpy", "reference"] + (["gl"] if gl_reason is None else [])
    rng = np.random.default_rng(config.seed)
    rows: list[Report] = []
    for n in sizes:
        soup = (rng.random((n, n)) < 0.35).astype(np.uint8)
        for name in backends:
            progress(f"ca {name} {n}x{n}")
            b = make_backend(name, CONWAY, (n, n))
            try:
                b.set_cells(soup)
                cap = args.ticks if args.ticks else None
                r = _measure(b, seconds, cap)
            finally:
                b.close()
            rows.append({"backend": name, "size": n, **r})
    base = {r["size"]: r["cell_updates_per_s"] for r in rows if r["backend"] == "reference"}
    for r in rows:
        r["vs_np_roll"] = r["cell_updates_per_s"] / base[r["size"]]

    progress("ca numpy 80x80 per tick")
    b = make_backend("numpy", CONWAY, (80, 80))
    b.set_cells((rng.random((80, 80)) < 0.35).astype(np.uint8))
    _per_gen_ms(b, 200)
    per = _per_gen_ms(b, 2000)
    b.close()
    tick80 = {"p50_ms": _pct(per, 50), "p95_ms": _pct(per, 95), "mean_ms": statistics.fmean(per)}

    report: Report = {
        "sizes": rows,
        "tick_80x80": tick80,
        "gl": "available" if gl_reason is None else f"skipped: {gl_reason}",
    }
    progress("ca vs bgolly, 1024x1024, 1000 gens")
    report["vs_golly"] = race_golly(config.seed)
    return report


def race_golly(seed: int, size: int = 1024, gens: int = 1000, repeats: int = 5) -> Report:
    """Whole processes side by side: ``cybermesh ca`` against ``bgolly -a QuickLife``.

    Each runs ``repeats`` times, alternating; the ratio is of their fastest runs.
    """
    bgolly = shutil.which("bgolly")
    if bgolly is None:
        return {"skipped": "bgolly not found (Debian package golly)"}
    from game.rle import read_rle, to_torus, write_rle

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        soup = (np.random.default_rng(seed).random((size, size)) < 0.5).astype(np.uint8)
        src = d / "soup.rle"
        write_rle(src, soup, CONWAY, torus=(size, size))
        ours_cmd = [sys.executable, "-m", "game.app.cli", "ca", str(src), "--gens", str(gens),
                    "--backend", "numpy", "--out", str(d / "ours.rle"), "--quiet"]
        golly_cmd = [bgolly, "-q", "-q", "-a", "QuickLife", "-m", str(gens),
                     "-o", str(d / "golly.rle"), str(src)]
        ours: list[float] = []
        golly: list[float] = []
        for _ in range(repeats):
            for cmd, out in ((ours_cmd, ours), (golly_cmd, golly)):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                out.append(time.perf_counter() - t0)
        mine = to_torus(read_rle(d / "ours.rle"))
        theirs = read_rle(d / "golly.rle").cells
        same = same_up_to_translation(mine, theirs)
    # The fastest of the repeats, as for the lattice rows: the least disturbed by other work.
    return {
        "size": size,
        "gens": gens,
        "repeats": repeats,
        "cybermesh_s": min(ours),
        "bgolly_s": min(golly),
        "ratio": min(ours) / min(golly),
        "same_cells": same,
    }


def same_up_to_translation(torus: np.ndarray, box: np.ndarray) -> bool:
    """Whether ``box`` (Golly's bounding-box output) equals ``torus`` at some wrapped offset.

    bgolly writes only the live cells' bounding box, without its position, so the offset is
    found by cross-correlation and then checked cell for cell.
    """
    h, w = torus.shape
    bh, bw = box.shape
    if bh > h or bw > w or int(box.sum()) != int(torus.sum()):
        return False
    if not box.any():
        return True
    padded = np.zeros_like(torus, dtype=np.float64)
    padded[:bh, :bw] = box
    corr = np.fft.irfft2(np.fft.rfft2(torus.astype(np.float64)) * np.conj(np.fft.rfft2(padded)),
                         s=torus.shape)
    dy, dx = np.unravel_index(int(np.argmax(corr)), corr.shape)
    window = np.roll(torus, (-int(dy), -int(dx)), axis=(0, 1))[:bh, :bw]
    return bool(np.array_equal(window, box))


def _ash(seed: int, n: int, gens: int) -> np.ndarray:
    b = make_backend("numpy", CONWAY, (n, n))
    b.set_cells((np.random.default_rng(seed).random((n, n)) < 0.4).astype(np.uint8))
    b.step(gens)
    cells = b.get_cells()
    b.close()
    return cells


def _add_gliders(cells: np.ndarray, count: int, rng: np.random.Generator) -> int:
    """Stamp up to ``count`` gliders (random headings) where a 12×12 window is empty."""
    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)
    n = cells.shape[0]
    added = 0
    for _ in range(count * 50):
        if added == count:
            break
        y, x = int(rng.integers(n)), int(rng.integers(n))
        ys, xs = np.arange(y - 4, y + 8) % n, np.arange(x - 4, x + 8) % n
        if cells[np.ix_(ys, xs)].any():
            continue
        g = glider[:: int(rng.choice([-1, 1])), :: int(rng.choice([-1, 1]))]
        cells[np.ix_(ys[4:7], xs[4:7])] = g
        added += 1
    return added


def _clear_lanes(
    ash: np.ndarray, count: int, ticks: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Ash plus up to ``count`` gliders whose lanes are empty for ``ticks``, checked by running.

    Each glider goes where the band it will sweep (with a 3-cell margin) is empty; then the
    lattice is run for ``ticks`` and must still hold every glider, else it is tried again.
    """
    from game.patterns.census import Census

    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)
    n = ash.shape[0]
    travel = ticks // 4 + 2
    census = Census(CONWAY)
    for _ in range(20):
        cells = ash.copy()
        occupied = ash.astype(bool)
        added = 0
        for _ in range(count * 40):
            if added == count:
                break
            y, x = int(rng.integers(n)), int(rng.integers(n))
            sy, sx = int(rng.choice([-1, 1])), int(rng.choice([-1, 1]))
            band = np.zeros((n, n), bool)
            for k in range(travel + 1):
                ys = np.arange(y + k * sy - 3, y + k * sy + 6) % n
                xs = np.arange(x + k * sx - 3, x + k * sx + 6) % n
                band[np.ix_(ys, xs)] = True
            if (band & occupied).any():
                continue
            cells[np.ix_(np.arange(y, y + 3) % n, np.arange(x, x + 3) % n)] = glider[::sy, ::sx]
            occupied |= band
            added += 1
        b = make_backend("numpy", CONWAY, cells.shape)
        b.set_cells(cells)
        b.step(ticks)
        after = census.run(b.get_cells()).counts()
        b.close()
        if after.get("xq4_153", 0) == added:
            return cells, added
    return ash.copy(), 0


def inline_detect(config: Config) -> Config:
    """``config`` with the census on, inline, every tick: what the detect gates measure.

    The run's default cadence (``detect.every``, ``detect.worker``) would time only the hand-over
    to the worker and let a track lag its glider between censuses.
    """
    from game.config import override

    cfg = override(config, "detect.enabled", True)
    return override(override(cfg, "detect.every", 1), "detect.worker", False)


def _detect_ticks(config: Config, cells: np.ndarray, ticks: int) -> list[float]:
    """Per-tick milliseconds of the detect system on ``cells`` (after a warm-up census)."""
    from game.app.build import build_sim
    from game.config import override

    n = cells.shape[0]
    cfg = override(config, "mesh.rows", n // 16)
    cfg = override(cfg, "mesh.cols", n // 16)
    cfg = override(cfg, "mesh.tile", 16)
    cfg = override(cfg, "lattice.soup_density", 0.0)
    cfg = override(cfg, "lattice.backend", "numpy")
    sim = build_sim(inline_detect(cfg))
    try:
        sim.backend.set_cells(cells)
        np.copyto(sim.substrate.alive, cells)
        sim.step(3)  # the first census classifies every shape once; it is not the steady state
        sim.schedule.record_history()
        sim.step(ticks)
        assert sim.schedule.history is not None
        return list(sim.schedule.history["detect"])
    finally:
        sim.close()


def scenario_detect(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """Detection latency per tick on ash and with gliders in flight; accuracy; tracking."""
    from game.patterns.accuracy import accuracy_run
    from game.patterns.catalogue import COMMON_OBJECTS

    plan = [(80, 4000, 300), (256, 6000, 100)] + ([] if args.quick else [(1024, 12000, 40)])
    rng = np.random.default_rng(config.seed)
    rows: list[Report] = []
    for n, gens, ticks in plan:
        progress(f"detect: {n}x{n} soup to ash ({gens} gens)")
        ash = _ash(config.seed, n, gens)
        count = max(4, n // 16)
        for label, gliders in (("ash", 0), ("gliders in flight", count),
                               ("gliders hitting ash", count)):
            progress(f"detect: {n}x{n} {label}")
            steps = args.ticks or ticks
            cells = ash.copy()
            added = 0
            if label == "gliders in flight":
                # Gliders fly n/8 cells on lanes checked to be clear for the whole window.
                steps = min(steps, n // 2)
                cells, added = _clear_lanes(ash, gliders, steps + 8, rng)
            elif gliders:
                added = _add_gliders(cells, gliders, rng)
            ms = _detect_ticks(config, cells, steps)
            rows.append({"size": n, "lattice": label, "gliders": added, "ticks": len(ms),
                         "p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95), "max_ms": max(ms)})
    progress("detect: accuracy on the generated set")
    score = accuracy_run(COMMON_OBJECTS, trials=3 if args.quick else 10, seed=config.seed)
    progress("detect: glider track, 1000 ticks")
    return {
        "latency": rows,
        "accuracy": {"objects": len(COMMON_OBJECTS), "placed": score.placed,
                     "found": score.found, "detected": score.detected,
                     "accuracy": score.accuracy, "false_positive_rate": score.false_positive_rate},
        "tracking": track_error(config),
    }


def track_error(config: Config, ticks: int = 1000) -> Report:
    """A lone glider on the 5×5 mesh for ``ticks``: worst distance of track to true centroid."""
    import esper

    from components.pattern import GliderTrack
    from game.app.build import build_sim
    from game.config import override
    from game.engine.commands import StampPattern
    from game.patterns.islands import _unwrap

    cfg = override(override(config, "lattice.soup_density", 0.0), "lattice.backend", "numpy")
    sim = build_sim(inline_detect(cfg))
    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)
    sim.post(StampPattern("glider", glider, x=70, y=3))
    worst, tracks, lost_ticks = 0.0, set(), 0
    h, w = sim.shape
    for _ in range(ticks):
        sim.step()
        sim.activate()
        found = esper.get_component(GliderTrack)
        if len(found) != 1:
            lost_ticks += 1
            continue
        track = found[0][1]
        tracks.add(track.track)
        ys, xs = np.nonzero(sim.substrate.alive)
        tx, ty = float(_unwrap(xs, w).mean()) % w, float(_unwrap(ys, h).mean()) % h
        for a, b, size in ((track.cx, tx, w), (track.cy, ty, h)):
            d = abs(a - b) % size
            worst = max(worst, min(d, size - d))
    sim.close()
    return {"ticks": ticks, "worst_centroid_error": worst, "track_ids": len(tracks),
            "ticks_without_track": lost_ticks}


def machine_class(cpuinfo: str, cpus: int | None, arch: str) -> str:
    """The machine class a report's same-run ratios are comparable within, as one path name.

    ``arch-vendor-isa-Ncpu`` from ``/proc/cpuinfo``'s text: the widest vector extension numpy and
    torch can use (``amx``, ``avx512``, ``avx2``, ``sve``, else ``base``) and the core count (the
    census worker and torch's threads share them), e.g. ``x86_64-amd-avx512-2cpu``.
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key and key not in fields:  # the first processor's block is enough
            fields[key] = value.strip()
    vendors = {"authenticamd": "amd", "genuineintel": "intel"}
    vendor_id = fields.get("vendor_id", "").lower()
    vendor = vendors.get(vendor_id) or "".join(c for c in vendor_id if c.isalnum()) or "unknown"
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    isa = next((name for flag, name in (("amx_tile", "amx"), ("avx512f", "avx512"),
                                        ("avx2", "avx2"), ("sve", "sve")) if flag in flags),
               "base")
    machine = "".join(c for c in arch.lower() if c.isalnum() or c == "_") or "unknown"
    return f"{machine}-{vendor}-{isa}-{cpus or 0}cpu"


def _cpuinfo() -> str:
    """The text of ``/proc/cpuinfo`` ("" where there is none)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _machine() -> Report:
    import psutil

    info = _cpuinfo()
    model = next((line.partition(":")[2].strip() for line in info.splitlines()
                  if line.lower().startswith("model name")), platform.processor())
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "cpu_class": machine_class(info, os.cpu_count(), platform.machine()),
        "peak_rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


def print_ca(report: Report) -> None:
    """The ca scenario as a readable table."""
    print(f"{'backend':<10} {'size':>10} {'gens':>7} {'ms/gen':>10} {'G cell-upd/s':>13} "
          f"{'x np.roll':>10}")
    for r in report["sizes"]:
        size = f"{r['size']}x{r['size']}"
        print(f"{r['backend']:<10} {size:>10} {r['gens']:>7} {r['ms_per_gen']:>10.3f} "
              f"{r['cell_updates_per_s'] / 1e9:>13.3f} {r['vs_np_roll']:>10.1f}")
    t = report["tick_80x80"]
    print(f"one CA tick at 80x80 (numpy): p50 {t['p50_ms']:.4f} ms, p95 {t['p95_ms']:.4f} ms")
    print(f"gl backend: {report['gl']}")
    g = report.get("vs_golly")
    if g is not None:
        if "skipped" in g:
            print(f"vs bgolly: skipped ({g['skipped']})")
        else:
            print(f"vs bgolly -a QuickLife, {g['size']}² x {g['gens']} gens, whole processes: "
                  f"cybermesh {g['cybermesh_s']:.3f} s, bgolly {g['bgolly_s']:.3f} s, "
                  f"ratio {g['ratio']:.2f}, same cells: {g['same_cells']}")


def print_detect(report: Report) -> None:
    """The detect scenario as a readable table."""
    print(f"{'size':>10} {'lattice':<18} {'gliders':>7} {'ticks':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>8}")
    for r in report["latency"]:
        size = f"{r['size']}x{r['size']}"
        print(f"{size:>10} {r['lattice']:<18} {r['gliders']:>7} {r['ticks']:>6} "
              f"{r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['max_ms']:>8.2f}")
    a = report["accuracy"]
    print(f"accuracy on the generated set ({a['objects']} objects, {a['placed']} placed, all "
          f"orientations and phases): {100 * a['accuracy']:.2f} %, false positives "
          f"{100 * a['false_positive_rate']:.2f} %")
    t = report["tracking"]
    print(f"glider track over {t['ticks']} ticks on the 5x5 mesh: worst centroid error "
          f"{t['worst_centroid_error']:.3f} cells, {t['track_ids']} track id(s), "
          f"{t['ticks_without_track']} ticks without a track")


def _lazy(module: str, name: str) -> tuple[Scenario, Printer]:
    """A scenario in ``game.<module>``, imported only when chosen (tier 2 loads torch)."""

    def run(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
        fn: Scenario = getattr(importlib.import_module(f"game.{module}"), f"scenario_{name}")
        return fn(args, config, progress)

    def show(report: Report) -> None:
        printer: Printer = getattr(importlib.import_module(f"game.{module}"), f"print_{name}")
        printer(report)

    return run, show


Scenario = Callable[[argparse.Namespace, Config, Progress], Report]
Printer = Callable[[Report], None]

SCENARIOS: dict[str, tuple[Scenario, Printer]] = {
    "ca": (scenario_ca, print_ca),
    "detect": (scenario_detect, print_detect),
    "embed": _lazy("bench_embed", "embed"),
    "energy": _lazy("bench_energy", "energy"),
    "full": _lazy("bench_full", "full"),
    "glider": _lazy("bench_glider", "glider"),
    "pulse": _lazy("bench_pulse", "pulse"),
    "routing": _lazy("bench_routing", "routing"),
    "throughput": _lazy("bench_routing", "throughput"),
    "view": _lazy("bench_view", "view"),
    "web": _lazy("bench_web", "web"),
}

#: The scenarios ``--scenario all`` runs, in this order: the quick, machine-level ones first.
ALL_ORDER: tuple[str, ...] = (
    "ca", "detect", "embed", "routing", "throughput", "energy", "glider", "pulse", "full", "view",
    "web",
)


def run_all(args: argparse.Namespace, config: Config, progress: Progress,
            names: Sequence[str] = ALL_ORDER) -> Report:
    """Run each scenario of ``names`` in turn, printing each with its own printer as it ends.

    Each gets its own copy of the flags (``--quick`` and the rest pass through). A scenario that
    raises is reported (its error in one line) and the rest still run.
    """
    scenarios: Report = {}
    for name in names:
        scenario, show = SCENARIOS[name]
        progress(f"all: {name}")
        t0 = time.perf_counter()
        entry: Report = {"status": "ok", "seconds": 0.0, "result": None, "error": None}
        try:
            entry["result"] = scenario(argparse.Namespace(**vars(args)), config,
                                       _prefixed(progress, f"all: {name}: "))
        except Exception as err:  # noqa: BLE001 - one scenario's failure must not stop the rest
            entry["status"] = "error"
            entry["error"] = one_line(f"{type(err).__name__}: {err}")
        entry["seconds"] = time.perf_counter() - t0
        print(f"== {name} ({entry['seconds']:.1f} s) ==")
        if entry["result"] is not None:
            try:
                show(entry["result"])
            except Exception as err:  # noqa: BLE001 - a broken table is reported, not fatal
                entry["status"] = "error"
                entry["error"] = f"printing: {type(err).__name__}: {err}"
        if entry["error"] is not None:
            print(f"{name}: FAILED: {entry['error']}")
        print(flush=True)
        scenarios[name] = entry
    failed = [n for n, e in scenarios.items() if e["status"] != "ok"]
    return {"scenarios": scenarios, "failed": failed}


def _prefixed(progress: Progress, prefix: str) -> Progress:
    """``progress`` with ``prefix`` before every text."""

    def show(text: str) -> None:
        progress(prefix + text)

    return show


def scenario_all(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """Every scenario in one report (see :func:`run_all`)."""
    return run_all(args, config, progress)


def print_all(report: Report) -> None:
    """The summary of ``--scenario all`` (each scenario was printed as it ended)."""
    print(f"{'scenario':<11} {'status':<7} {'seconds':>8}  error")
    for name, e in report["scenarios"].items():
        print(f"{name:<11} {e['status']:<7} {e['seconds']:>8.1f}  {e['error'] or ''}")
    n = len(report["scenarios"])
    print(f"{n - len(report['failed'])}/{n} scenarios ran"
          + (f"; failed: {', '.join(report['failed'])}" if report["failed"] else ""))


SCENARIOS["all"] = (scenario_all, print_all)

#: The scenarios that draw ``--plot`` PNGs.
PLOTTING = ("full", "all")


def prepare_plot_dir(folder: str) -> Path:
    """Create ``folder`` if needed and check that a file can be written in it (BadInput if not)."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".cybermesh-", suffix=".probe"):
            pass
    except OSError as err:
        raise BadInput(f"--plot {folder}: cannot write plots there: "
                       f"{err.strerror or err}") from None
    return path


def run_bench(args: argparse.Namespace, config: Config) -> int:
    """Run the chosen scenario, print it, write JSON if asked; returns the exit code.

    ``--scenario all`` exits 1 when one of its scenarios failed (after printing and writing the
    rest).
    """
    from tqdm import tqdm

    if getattr(args, "plot", None):
        if args.scenario not in PLOTTING:
            raise BadInput(f"--plot: only --scenario {' or '.join(PLOTTING)} draws plots, "
                           f"not {args.scenario}")
        prepare_plot_dir(args.plot)
    scenario, show = SCENARIOS[args.scenario]
    with tqdm(desc=args.scenario, file=sys.stderr, disable=None, leave=False,
              bar_format="{desc}: {elapsed}") as bar:
        result = scenario(args, config, lambda text: bar.set_description_str(text))
    # `quick` says which figures the report claims (tests/performance_thresholds.yaml `when`).
    report = {"scenario": args.scenario, "seed": config.seed,
              "quick": bool(getattr(args, "quick", False)), "machine": _machine(),
              "result": result}
    show(result)
    if args.json:
        write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode(), "the report")
    if args.scenario == "all" and result["failed"]:
        print(f"cybermesh: bench --scenario all: {len(result['failed'])} scenario(s) failed: "
              f"{', '.join(result['failed'])}", file=sys.stderr)
        return 1
    return 0
