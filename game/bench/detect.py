"""The ``detect`` scenario: the census's latency per tick, its accuracy, and glider tracking."""

from __future__ import annotations

import argparse

import numpy as np

from game.backends import make_backend
from game.bench.scenario import Progress, Report
from game.config import Config
from game.rules import CONWAY
from game.stats import percentile


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
                         "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
                         "max_ms": max(ms)})
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
