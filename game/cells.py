"""The two kinds of cell, named once: a mesh coordinate and an array of lattice cells."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: A mesh cell (a bot's place): ``(row, col)`` on the mesh's torus.
Cell = tuple[int, int]

#: Lattice cells: a ``uint8`` array holding 0 (dead) or 1 (alive), indexed ``[y, x]``.
Cells = npt.NDArray[np.uint8]
