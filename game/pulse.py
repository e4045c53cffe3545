"""The pulse network: a small neural cellular automaton that scores a tile's cells.

A *pulse* is one application of a bot's adapted network to its tile: the network scores every
cell from the tile's channels (alive, live neighbours, energy), and the pulse sets alive the
``budget`` dead cells with the highest positive scores. The base network's output layer is zero,
so the base alone scores every cell 0 and a pulse with it changes nothing: it is the canvas
that LoRA adapters (``game.adapters``) write on.

The network pads circularly with ``F.pad`` (peft's LoRA conv ignores ``padding_mode``), so it is
exact on a torus. A tile is not a torus, so the pulse system runs the network over the whole
lattice, once per adapter in use, and each pulsing bot takes its own tile's scores: every cell
sees its true neighbourhood across tile borders, and one forward serves every tile.
(:func:`torus_scores` is that forward, shared by the trainable network and the frozen adapters
of ``game.adapters``; :func:`tiles` and :func:`best_cells` then pick every pulsing tile's cells
in one vectorised pass.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional

CHANNELS: Final = 3  # alive, live neighbours / 8, log(1 + energy)
HIDDEN: Final = 16
_NEIGHBOURS = torch.ones(1, 1, 3, 3)
_NEIGHBOURS[0, 0, 1, 1] = 0
# Up to this many cells a pulse, picking them by repeated argmax beats a full sort of each tile.
_ARGMAX_BUDGET: Final = 16
# Inference takes a lattice of more than WHOLE cells in strips of STRIP rows (torus_scores).
WHOLE: Final = 128 * 128
STRIP: Final = 32

Layer = Callable[[torch.Tensor], torch.Tensor]
Scalar = TypeVar("Scalar", bound=np.generic)


def torus_scores(x: torch.Tensor, c1: Layer, c2: Layer, out: Layer,
                 rows: npt.NDArray[np.bool_] | None = None) -> torch.Tensor:
    """Scores ``(N, H, W)`` of features ``(N, CHANNELS, H, W)`` on a torus, layer by layer.

    ``c1`` and ``c2`` are the 3×3 convolutions (unpadded: the torus pads them), ``out`` the 1×1.
    Without a graph to record, a lattice of more than ``WHOLE`` cells goes through in strips of
    ``STRIP`` rows; ``rows`` (one flag per lattice row) then says which rows are wanted, and
    strips with none of them are skipped (their scores are left 0).
    """
    if torch.is_grad_enabled() or x.shape[-2] * x.shape[-1] <= WHOLE:
        y = functional.relu(c1(functional.pad(x, (1, 1, 1, 1), mode="circular")))
        y = functional.relu(c2(functional.pad(y, (1, 1, 1, 1), mode="circular")))
        scores: torch.Tensor = out(y)[:, 0]
        return scores
    # A strip's 16-channel maps stay in the cache; a whole 1024² lattice's are 64 MB each, and
    # streaming them through memory took 3.7× as long (1.1 s against 0.30 s, one core). A score
    # reads the same inputs either way, but the convolution may pick another algorithm for
    # another shape and round differently (last bit): within a run the shapes never change.
    n, _, h, w = x.shape
    padded = functional.pad(x, (2, 2, 2, 2), mode="circular")  # both layers' halo, once
    scores = torch.zeros((n, h, w), dtype=x.dtype, device=x.device)
    for top in range(0, h, STRIP):
        # Every strip is STRIP rows (the last one overlaps the one before): a shorter one may
        # take another convolution algorithm and round differently.
        top = min(top, h - STRIP)
        bottom = top + STRIP
        if rows is not None and not rows[top:bottom].any():
            continue
        scores[:, top:bottom] = _haloed_scores(padded[:, :, top:bottom + 4], c1, c2, out)
    return scores


def _haloed_scores(x: torch.Tensor, c1: Layer, c2: Layer, out: Layer) -> torch.Tensor:
    """Scores ``(N, H, W)`` of features ``(N, CHANNELS, H + 4, W + 4)`` that carry their halo.

    Inference only: the maps are channels-last (the CPU's convolution runs 1.3–1.5× faster
    on them than on planes) and rectified in place.
    """
    y = functional.relu(c1(x.contiguous(memory_format=torch.channels_last)), inplace=True)
    y = functional.relu(c2(y), inplace=True)
    scores: torch.Tensor = out(y)[:, 0]
    return scores


def tile_scores(patches: torch.Tensor, c1: Layer, c2: Layer, out: Layer) -> torch.Tensor:
    """Scores ``(n, tile²)`` of :func:`tile_features`' patches ``(n, CHANNELS, tile + 4, ...)``.

    Where a few tiles pulse (a wave's front), this reads ``n·(tile + 4)²`` cells instead of the
    lattice: at 64×64 a front of 128 tiles is 51 k cells against 1 M.
    """
    with torch.inference_mode():
        return _haloed_scores(patches, c1, c2, out).reshape(len(patches), -1)


def _neighbour_counts(alive: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Live Moore neighbours of the inner ``(..., H - 2, W - 2)`` cells of ``(..., H, W)``."""
    h, w = alive.shape[-2:]
    count = np.zeros(alive.shape[:-2] + (h - 2, w - 2), np.uint8)
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                count += alive[..., dy:dy + h - 2, dx:dx + w - 2]
    return count


def _stack(alive: npt.NDArray[np.uint8], count: npt.NDArray[np.uint8],
           energy: npt.NDArray[np.float32]) -> torch.Tensor:
    """:func:`features`' channels ``(N, CHANNELS, H, W)`` from arrays ``(N, H, W)`` alike.

    The same floats as :func:`features`: 0/1, a small integer over 8 (both exact either way),
    and ``torch.log1p`` of the energy.
    """
    x = np.empty((alive.shape[0], CHANNELS) + alive.shape[1:], np.float32)
    x[:, 0] = alive
    np.multiply(count, np.float32(1 / 8), out=x[:, 1])
    out = torch.from_numpy(x)
    torch.log1p(torch.from_numpy(np.ascontiguousarray(energy)), out=out[:, 2])
    return out


def lattice_features(alive: npt.NDArray[np.uint8],
                     energy: npt.NDArray[np.float32]) -> torch.Tensor:
    """:func:`features` ``(1, CHANNELS, H, W)`` of one torus lattice, counted in numpy.

    Integer sums of eight shifted views instead of a float convolution: the same values, in
    a fraction of the time on a 1024² lattice.
    """
    count = _neighbour_counts(np.pad(alive, 1, mode="wrap"))
    return _stack(alive[None], count[None], energy[None])


def tile_features(alive: npt.NDArray[np.uint8], energy: npt.NDArray[np.float32], tile: int,
                  rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]) -> torch.Tensor:
    """:func:`features` of the tiles at mesh cells ``(rows[i], cols[i])``, with their halo.

    Each is ``(CHANNELS, tile + 4, tile + 4)``: the 2-cell ring the scores read, gathered
    from the torus with one more ring for the neighbour counts.
    """
    h, w = alive.shape
    span = np.arange(-3, tile + 3)  # the halo, and one more ring for the neighbour counts
    ys = (rows[:, None] * tile + span) % h
    xs = (cols[:, None] * tile + span) % w
    ringed = alive[ys[:, :, None], xs[:, None, :]]
    count = _neighbour_counts(ringed)
    inner = (slice(None), slice(1, -1), slice(1, -1))
    return _stack(ringed[inner], count, energy[ys[:, 1:-1, None], xs[:, None, 1:-1]])


class PulseNet(nn.Module):
    """Two 3×3 convolutions and a 1×1 output: 2,785 parameters, a score per cell."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(CHANNELS, HIDDEN, 3, padding=0)
        self.c2 = nn.Conv2d(HIDDEN, HIDDEN, 3, padding=0)
        self.out = nn.Conv2d(HIDDEN, 1, 1)
        nn.init.zeros_(self.out.weight)  # the base is neutral: every score 0
        assert self.out.bias is not None
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``(N, H, W)`` for features ``(N, CHANNELS, H, W)`` on a torus."""
        return torus_scores(x, self.c1, self.c2, self.out)


def base_network(seed: int = 0) -> PulseNet:
    """The base network with weights drawn from ``seed`` (the saved base overrides them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PulseNet()


def live_neighbours(alive: torch.Tensor) -> torch.Tensor:
    """Each cell's live Moore neighbours, for lattices ``(N, 1, H, W)`` on a torus."""
    padded = functional.pad(alive, (1, 1, 1, 1), mode="circular")
    return functional.conv2d(padded, _NEIGHBOURS)


def settled(history: list[torch.Tensor]) -> torch.Tensor:
    """Cells alive in every one of ``history``'s lattices: life that stays put.

    Over three consecutive generations it counts a still life whole, a blinker's centre, two of
    a glider's five cells, and little of an active region's churn.
    """
    out = history[0] > 0.5
    for frame in history[1:]:
        out = out & (frame > 0.5)
    return out


def features(alive: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """The network's input channels for lattices ``(N, 1, H, W)`` on a torus."""
    neighbours = live_neighbours(alive)
    return torch.cat([alive, neighbours / 8.0, torch.log1p(energy)], dim=1)


def choose_cells(scores: npt.NDArray[np.float32], alive: npt.NDArray[np.uint8],
                 budget: int) -> npt.NDArray[np.intp]:
    """The flat indices of up to ``budget`` dead cells with the highest positive scores.

    Ties go to the lower index, so the same scores always choose the same cells.
    """
    cells, chosen = best_cells(scores.reshape(1, -1), alive.reshape(1, -1), budget)
    picked: npt.NDArray[np.intp] = cells[0][chosen[0]]
    return picked


def best_cells(scores: npt.NDArray[np.float32], alive: npt.NDArray[np.uint8],
               budget: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """:func:`choose_cells` for ``n`` tiles at once: ``scores`` and ``alive`` are ``(n, cells)``.

    Returns ``(cells, chosen)``, both ``(n, min(budget, cells))``: each tile's candidates, best
    first, and whether each is taken (a prefix of each row: a tile may have fewer than
    ``budget`` dead cells with a positive score).
    """
    n, size = scores.shape
    take = min(max(budget, 0), size)
    # Only dead cells with a positive score can be taken (NaN > 0 is false, so never a NaN).
    candidates = np.where((alive == 0) & (scores > 0), scores, np.float32(-np.inf))
    if take > _ARGMAX_BUDGET:
        cells = np.argsort(-candidates, axis=1, kind="stable")[:, :take].astype(np.intp)
        return cells, np.take_along_axis(candidates, cells, axis=1) > 0
    # argmax returns the first of equal maxima: the same lower-index tie-break as the stable sort.
    cells = np.zeros((n, take), np.intp)
    chosen = np.zeros((n, take), np.bool_)
    rows = np.arange(n)
    for j in range(take):
        pick = candidates.argmax(axis=1)
        chosen[:, j] = candidates[rows, pick] > 0
        if not chosen[:, j].any():
            break
        cells[:, j] = pick
        candidates[rows, pick] = -np.inf
    return cells, chosen


def tiles(lattice: npt.NDArray[Scalar], tile: int, rows: npt.NDArray[np.intp],
          cols: npt.NDArray[np.intp]) -> npt.NDArray[Scalar]:
    """The ``tile``×``tile`` tiles at mesh cells ``(rows[i], cols[i])``, flat: ``(n, tile²)``."""
    h, w = lattice.shape
    blocks = lattice.reshape(h // tile, tile, w // tile, tile)
    picked: npt.NDArray[Scalar] = blocks[rows, :, cols, :]  # (n, tile, tile): a copy
    return picked.reshape(len(rows), tile * tile)


def life_step(alive: torch.Tensor) -> torch.Tensor:
    """One Conway (B3/S23) generation of a batch of tori ``(N, 1, H, W)``, 0/1 floats.

    The adapter trainer's rollouts: thousands of what-if lattices stepped as one batch.
    """
    neighbours = live_neighbours(alive)
    return ((neighbours == 3) | ((alive > 0.5) & (neighbours == 2))).to(alive.dtype)
