"""Performance gates as ratios against a baseline measured in the same run (never wall-clock).

Absolute figures (G cell-updates/s, ms per tick, the race against bgolly) are reported by
``cybermesh bench --scenario ca``; see TEST-MATRIX.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from game.backends.bitpacked import BitPackedBackend
from game.backends.reference import ReferenceBackend
from game.rules import CONWAY

pytestmark = pytest.mark.performance


def best_of(fn: Callable[[], None], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def soup(n: int) -> np.ndarray:
    return (np.random.default_rng(n).random((n, n)) < 0.35).astype(np.uint8)


def test_bitpacked_vs_np_roll_baseline(benchmark: Any) -> None:
    """Seed perf gate, issue 2: bit-packed numpy >= 5x the naive np.roll lattice (same run)."""
    n = 1024
    fast = BitPackedBackend(CONWAY, (n, n))
    slow = ReferenceBackend(CONWAY, (n, n))
    fast.set_cells(soup(n))
    slow.set_cells(soup(n))
    baseline = best_of(lambda: slow.step(3), repeats=3) / 3
    benchmark.pedantic(fast.step, args=(10,), rounds=5, iterations=1, warmup_rounds=1)
    per_gen = benchmark.stats.stats.min / 10
    ratio = baseline / per_gen
    benchmark.extra_info["ratio_vs_np_roll"] = ratio
    fast.close()
    assert ratio >= 5.0, f"bit-packed is only {ratio:.1f}x the np.roll baseline"


def test_small_tick_is_cheaper_than_the_reference(benchmark: Any) -> None:
    """The 80x80 default lattice: the bit-packed tick beats the reference's in the same run."""
    fast = BitPackedBackend(CONWAY, (80, 80))
    slow = ReferenceBackend(CONWAY, (80, 80))
    fast.set_cells(soup(80))
    slow.set_cells(soup(80))
    baseline = best_of(lambda: slow.step(50)) / 50
    benchmark.pedantic(fast.step, args=(50,), rounds=5, iterations=1, warmup_rounds=1)
    ratio = baseline / (benchmark.stats.stats.min / 50)
    benchmark.extra_info["ratio_vs_np_roll"] = ratio
    assert ratio >= 1.5


def test_phase1_memory_budget() -> None:
    """Seed phase 1: memory < 1 GB for a running simulation (peak RSS of a serve process)."""
    import psutil

    # Sampled, not read from rusage: a forked child's ru_maxrss keeps the high-water mark of the
    # pages it shared with this test process before exec (over 1 GB once torch is loaded here).
    proc = subprocess.Popen(
        [sys.executable, "-m", "game.app.cli", "serve", "--ticks", "300", "--no-web", "--backend",
         "numpy", "--set", "tick_rate=3000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            if "game.app.cli" in watched.cmdline():  # exec'd: no longer this process's pages
                peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    assert proc.wait(timeout=120) == 0
    assert peak > 0
    peak_kib = peak // 1024
    assert peak_kib < 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
