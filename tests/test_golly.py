"""Our lattice against Golly's bgolly, the community's trusted implementation, on a torus."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from game.backends.bitpacked import BitPackedBackend
from game.bench.ca import same_up_to_translation
from game.rle import read_rle, write_rle
from game.rules import parse_rule

pytestmark = pytest.mark.integration


def golly_run(bgolly: str, tmp: Path, cells: np.ndarray, rule: str, gens: int) -> np.ndarray:
    h, w = cells.shape
    src, out = tmp / "in.rle", tmp / "out.rle"
    write_rle(src, cells, parse_rule(rule), torus=(w, h))
    subprocess.run([bgolly, "-q", "-q", "-a", "QuickLife", "-m", str(gens), "-o", str(out),
                    str(src)], check=True, capture_output=True, timeout=120)
    return read_rle(out).cells


@pytest.mark.parametrize(
    ("rule", "shape", "gens"),
    [("B3/S23", (96, 128), 500), ("B3/S23", (150, 200), 300), ("B36/S23", (100, 100), 300),
     ("B3/S23", (64, 100), 1000)],
)
def test_numpy_backend_matches_bgolly(bgolly: str, tmp_path: Path, rule: str,
                                      shape: tuple[int, int], gens: int) -> None:
    rng = np.random.default_rng(gens + shape[0])
    cells = (rng.random(shape) < 0.4).astype(np.uint8)
    backend = BitPackedBackend(parse_rule(rule), shape)
    backend.set_cells(cells)
    backend.step(gens)
    ours = backend.get_cells()
    theirs = golly_run(bgolly, tmp_path, cells, rule, gens)
    assert int(theirs.sum()) == int(ours.sum())
    assert same_up_to_translation(ours, theirs)


def test_translation_check_rejects_a_different_lattice() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random((40, 50)) < 0.3).astype(np.uint8)
    assert same_up_to_translation(np.roll(a, (3, 7), axis=(0, 1)), a)
    b = a.copy()
    live, dead = np.argwhere(a == 1)[0], np.argwhere(a == 0)[0]
    b[tuple(live)], b[tuple(dead)] = 0, 1  # same population, one cell moved
    assert int(b.sum()) == int(a.sum())
    assert not same_up_to_translation(b, a)
