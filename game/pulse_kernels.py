"""The pulse's inference, compiled with TorchScript so that a batch runs without the GIL.

The pulse system computes its lagged batches in a worker thread beside the loop, and the loop
is pure Python that holds the GIL nearly all the time. Run eagerly, every torch or numpy call of
a batch handed the GIL back and forth: about 300 calls for a 1024² batch, each waiting up to
the interpreter's 5 ms switch interval, so a batch of 80 ms CPU took 1.8 s of wall clock beside
a busy loop (measured). A TorchScript function runs in torch's own interpreter with the GIL
released, so a batch makes a handful of such calls whatever its size.

The functions compute exactly what their eager counterparts in :mod:`game.pulse` computed
(the same operations on the same values; the tests compare them): features as
:func:`game.pulse.features`, scores as :func:`game.pulse.torus_scores` in strips, and the
cells as a stable sort of each tile's dead cells by score would pick them. ``CHANNELS`` is
:data:`game.pulse.CHANNELS` (3).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from torch.nn import functional


def _ring(a: torch.Tensor, r: int) -> torch.Tensor:
    """``a`` ``(H, W)`` with ``r`` cells of the torus around it: ``(H + 2r, W + 2r)``."""
    a = torch.cat([a[-r:], a, a[:r]], 0)
    return torch.cat([a[:, -r:], a, a[:, :r]], 1)


def _counts(ringed: torch.Tensor) -> torch.Tensor:
    """Live Moore neighbours of the inner ``(N, H - 2, W - 2)`` cells of ``(N, H, W)`` (0/1)."""
    h, w = ringed.shape[-2], ringed.shape[-1]
    count = torch.zeros_like(ringed[:, 1:h - 1, 1:w - 1])
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                count += ringed[:, dy:dy + h - 2, dx:dx + w - 2]
    return count


def _stack(alive: torch.Tensor, count: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """The channels ``(N, CHANNELS, H, W)``: alive, live neighbours / 8, log(1 + energy).

    The first two are small integers, exact in any float arithmetic.
    """
    return torch.stack([alive.float(), count.float() * 0.125, torch.log1p(energy)], 1)


def lattice_features(alive: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """Features ``(1, CHANNELS, H, W)`` of one torus lattice ``alive`` (uint8) and ``energy``."""
    count = _counts(_ring(alive, 1)[None])
    return _stack(alive[None], count, energy[None])


def tile_features(alive: torch.Tensor, energy: torch.Tensor, tile: int, rows: torch.Tensor,
                  cols: torch.Tensor) -> torch.Tensor:
    """Features ``(n, CHANNELS, tile + 4, tile + 4)`` of the tiles at ``(rows[i], cols[i])``.

    Each with the 2-cell halo its scores read, gathered from the torus with one more ring for
    the neighbour counts.
    """
    h, w = alive.shape[0], alive.shape[1]
    span = torch.arange(-3, tile + 3, device=alive.device)
    ys = (rows[:, None] * tile + span) % h
    xs = (cols[:, None] * tile + span) % w
    ringed = alive[ys[:, :, None], xs[:, None, :]]
    inner_y, inner_x = ys[:, 1:tile + 5], xs[:, 1:tile + 5]
    return _stack(ringed[:, 1:tile + 5, 1:tile + 5], _counts(ringed),
                  energy[inner_y[:, :, None], inner_x[:, None, :]])


def _haloed(x: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """Scores ``(N, H, W)`` of features ``(N, CHANNELS, H + 4, W + 4)`` that carry their halo.

    ``weights`` are the three layers' kernels and biases. Channels-last maps: the CPU's
    convolution runs 1.3–1.5× faster on them than on planes.
    """
    y = torch.relu_(functional.conv2d(x.contiguous(memory_format=torch.channels_last),
                                      weights[0], weights[1]))
    y = torch.relu_(functional.conv2d(y, weights[2], weights[3]))
    return functional.conv2d(y, weights[4], weights[5])[:, 0]


def strip_scores(x: torch.Tensor, weights: list[torch.Tensor], wanted: torch.Tensor,
                 strip: int) -> torch.Tensor:
    """Scores ``(N, H, W)`` of features ``x`` on a torus, ``strip`` rows at a time.

    Strips holding no ``wanted`` row (one flag per row) are skipped: their scores stay 0.
    Every strip is ``strip`` rows (the last overlaps the one before): a shorter one may take
    another convolution algorithm and round differently.
    """
    n, h, w = x.shape[0], x.shape[2], x.shape[3]
    padded = functional.pad(x, [2, 2, 2, 2], mode="circular")  # both layers' halo, once
    scores = torch.zeros([n, h, w], dtype=x.dtype, device=x.device)
    for top in range(0, h, strip):
        top = min(top, h - strip)
        if bool(wanted[top:top + strip].any()):
            scores[:, top:top + strip] = _haloed(padded[:, :, top:top + strip + 4], weights)
    return scores


def patch_scores(patches: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """Scores ``(n, tile²)`` of :func:`tile_features`' patches."""
    return _haloed(patches, weights).reshape(patches.shape[0], -1)


def tile_scores(alive: torch.Tensor, energy: torch.Tensor, tile: int, rows: torch.Tensor,
                cols: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """Scores ``(n, tile²)`` of the tiles at ``(rows[i], cols[i])`` alone, halo and all.

    Where a few tiles pulse (a wave's front), this reads ``n·(tile + 6)²`` cells instead of
    the lattice: at 64×64 a front of 128 tiles is 62 k cells against 1 M.
    """
    return patch_scores(tile_features(alive, energy, tile, rows, cols), weights)


def tiles(lattice: torch.Tensor, tile: int, rows: torch.Tensor,
          cols: torch.Tensor) -> torch.Tensor:
    """The ``tile``×``tile`` tiles at mesh cells ``(rows[i], cols[i])``, flat: ``(n, tile²)``."""
    h, w = lattice.shape[0], lattice.shape[1]
    blocks = lattice.reshape(h // tile, tile, w // tile, tile)
    return blocks[rows, :, cols, :].reshape(rows.shape[0], tile * tile)


def best_cells(scores: torch.Tensor, alive: torch.Tensor, budget: int,
               argmax_budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's up to ``budget`` dead cells with the highest positive scores, best first.

    ``scores`` and ``alive`` are ``(n, cells)``. Returns ``(cells, chosen)``, both
    ``(n, min(budget, cells))``: the candidates and whether each is taken (a prefix of each
    row). Ties go to the lower index: what a stable sort gives. Up to ``argmax_budget`` cells,
    repeated argmax (the first of equal maxima) is cheaper than the sort.
    """
    n, size = scores.shape[0], scores.shape[1]
    take = min(max(budget, 0), size)
    # Only dead cells with a positive score can be taken (NaN > 0 is false, so never a NaN).
    candidates = torch.where((alive == 0) & (scores > 0), scores,
                             torch.full_like(scores, -float("inf")))
    if take > argmax_budget:
        cells = torch.sort(-candidates, dim=1, stable=True)[1][:, :take]
        return cells, torch.gather(candidates, 1, cells) > 0
    cells = torch.zeros([n, take], dtype=torch.long, device=scores.device)
    chosen = torch.zeros([n, take], dtype=torch.bool, device=scores.device)
    every = torch.arange(n, device=scores.device)
    for j in range(take):
        pick = candidates.argmax(1)
        best = candidates[every, pick] > 0
        if not bool(best.any()):
            break
        chosen[:, j] = best
        cells[:, j] = pick
        candidates[every, pick] = -float("inf")
    return cells, chosen


def picks(scores: torch.Tensor, alive: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
          tile: int, budget: int, argmax_budget: int
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The lattice cells that the tiles at ``(rows[i], cols[i])`` set alive, from their scores.

    ``scores`` are ``(n, tile²)``; returns ``(ys, xs, counts)``: every chosen cell, tile after
    tile, and how many each tile chose (see :func:`best_cells`).
    """
    cells, chosen = best_cells(scores, tiles(alive, tile, rows, cols), budget, argmax_budget)
    ys = (rows[:, None] * tile + torch.div(cells, tile, rounding_mode="floor"))[chosen]
    xs = (cols[:, None] * tile + cells % tile)[chosen]
    return ys, xs, chosen.sum(1)


@cache
def scripted(name: str) -> Callable[..., Any]:
    """The TorchScript version of this module's function ``name``, compiled on first use.

    torch 2.13 marks ``torch.jit.script`` deprecated in favour of ``torch.compile``, whose
    output is a Python wrapper that calls each kernel under the GIL: it is the GIL that these
    kernels exist to avoid, so the warning is silenced here. Where a later torch cannot
    script them, the eager functions (the same operations, the same results) stand in.
    """
    function = globals()[name]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated",
                                    category=DeprecationWarning)
            return torch.jit.script(function)  # type: ignore[no-any-return]
    except (RuntimeError, AttributeError, NotImplementedError):  # pragma: no cover - old/new torch
        return function  # type: ignore[no-any-return]
