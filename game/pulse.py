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
(:func:`torus_scores` is that forward for the trainable network; the frozen adapters of
``game.adapters`` run it in strips, compiled (:mod:`game.pulse_kernels`); :func:`tiles` and
:func:`best_cells` then pick every pulsing tile's cells in one vectorised pass.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional

from game.pulse_kernels import scripted

CHANNELS: Final = 3  # alive, live neighbours / 8, log(1 + energy)
HIDDEN: Final = 16
_NEIGHBOURS = torch.ones(1, 1, 3, 3)
_NEIGHBOURS[0, 0, 1, 1] = 0
# Up to this many cells a pulse, picking them by repeated argmax beats a full sort of each tile.
ARGMAX_BUDGET: Final = 16
# Inference takes a lattice of more than WHOLE cells in strips of STRIP rows (FrozenAdapter).
WHOLE: Final = 128 * 128
STRIP: Final = 32

Layer = Callable[[torch.Tensor], torch.Tensor]
Scalar = TypeVar("Scalar", bound=np.generic)


def torus_scores(x: torch.Tensor, c1: Layer, c2: Layer, out: Layer) -> torch.Tensor:
    """Scores ``(N, H, W)`` of features ``(N, CHANNELS, H, W)`` on a torus, layer by layer.

    ``c1`` and ``c2`` are the 3×3 convolutions (unpadded: the torus pads them), ``out`` the 1×1.
    The whole lattice at once: what training records a graph of. Inference on big lattices
    goes in strips (:meth:`game.adapters.FrozenAdapter.scores`).
    """
    y = functional.relu(c1(functional.pad(x, (1, 1, 1, 1), mode="circular")))
    y = functional.relu(c2(functional.pad(y, (1, 1, 1, 1), mode="circular")))
    scores: torch.Tensor = out(y)[:, 0]
    return scores


def lattice_features(alive: npt.NDArray[np.uint8],
                     energy: npt.NDArray[np.float32]) -> torch.Tensor:
    """:func:`features` ``(1, CHANNELS, H, W)`` of one torus lattice, in one compiled call.

    Integer sums of eight shifted views instead of a float convolution: the same values, in
    a fraction of the time on a 1024² lattice (:mod:`game.pulse_kernels`).
    """
    compute = scripted("lattice_features")
    out: torch.Tensor = compute(torch.from_numpy(alive), torch.from_numpy(energy))
    return out


def tile_features(alive: npt.NDArray[np.uint8], energy: npt.NDArray[np.float32], tile: int,
                  rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]) -> torch.Tensor:
    """:func:`features` of the tiles at mesh cells ``(rows[i], cols[i])``, with their halo.

    Each is ``(CHANNELS, tile + 4, tile + 4)``: the 2-cell ring the scores read, gathered
    from the torus with one more ring for the neighbour counts.
    """
    out: torch.Tensor = scripted("tile_features")(
        torch.from_numpy(alive), torch.from_numpy(energy), tile,
        torch.from_numpy(rows.astype(np.int64)), torch.from_numpy(cols.astype(np.int64)))
    return out


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
    ``budget`` dead cells with a positive score). See :func:`game.pulse_kernels.best_cells`.
    """
    cells, chosen = scripted("best_cells")(torch.from_numpy(scores), torch.from_numpy(alive),
                                           budget, ARGMAX_BUDGET)
    return cells.numpy().astype(np.intp, copy=False), chosen.numpy()


def tiles(lattice: npt.NDArray[Scalar], tile: int, rows: npt.NDArray[np.intp],
          cols: npt.NDArray[np.intp]) -> npt.NDArray[Scalar]:
    """The ``tile``×``tile`` tiles at mesh cells ``(rows[i], cols[i])``, flat: ``(n, tile²)``."""
    picked: npt.NDArray[Scalar] = scripted("tiles")(
        torch.from_numpy(lattice), tile, torch.from_numpy(rows.astype(np.int64)),
        torch.from_numpy(cols.astype(np.int64))).numpy()
    return picked


def life_step(alive: torch.Tensor) -> torch.Tensor:
    """One Conway (B3/S23) generation of a batch of tori ``(N, 1, H, W)``, 0/1 floats.

    The adapter trainer's rollouts: thousands of what-if lattices stepped as one batch.
    """
    neighbours = live_neighbours(alive)
    return ((neighbours == 3) | ((alive > 0.5) & (neighbours == 2))).to(alive.dtype)
