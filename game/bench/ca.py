"""The ``ca`` scenario: lattice throughput per backend and size, and the race against bgolly.

Speed figures are only meaningful beside a baseline measured in the same run on the same machine,
so every row reports its ratio against one (the naive ``np.roll`` lattice).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from game.backends import LifeBackend, make_backend
from game.bench.scenario import Progress, Report
from game.config import Config
from game.errors import BadInput
from game.rules import CONWAY
from game.stats import percentile

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


def _gl_available() -> str | None:
    """None when the gl backend can run here, else the one-line reason."""
    try:
        b = make_backend("gl", CONWAY, (8, 8))
    except BadInput as err:
        return str(err)
    b.close()
    return None


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
    tick80 = {"p50_ms": percentile(per, 50), "p95_ms": percentile(per, 95),
              "mean_ms": statistics.fmean(per)}

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
