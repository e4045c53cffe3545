"""Components of mesh-cell entities: which tile of the lattice a mesh cell owns, and its stats."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class MeshCell:
    """A mesh cell at ``(row, col)`` owning the T×T tile whose top-left lattice cell is (y0, x0).

    ``alive`` and ``energy`` are numpy *views* into the substrate's dense arrays, so they always
    show the current state without copying.
    """

    row: int
    col: int
    y0: int
    x0: int
    size: int
    alive: npt.NDArray[np.uint8] = field(repr=False)
    energy: npt.NDArray[np.float32] = field(repr=False)


@dataclass(slots=True)
class TileStats:
    """Per-tile aggregates refreshed every tick: live cells and mean energy."""

    population: int = 0
    energy_mean: float = 0.0
