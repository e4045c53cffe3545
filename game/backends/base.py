"""The one interface every lattice backend implements (like Golly's QuickLife / HashLife).

A backend owns the H×W torus for one rule and advances it. Cells cross the interface as ``uint8``
arrays of shape (H, W) holding 0 or 1, row-major: ``cells[y, x]``. All backends are bit-exact with
:mod:`game.backends.reference`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from game.cells import Cells
from game.rules import Rule


@runtime_checkable
class LifeBackend(Protocol):
    """A toroidal Life-like lattice that can be stepped, read and written."""

    name: str
    rule: Rule
    shape: tuple[int, int]

    def set_cells(self, cells: Cells) -> None:
        """Replace the whole lattice with ``cells`` (uint8, shape ``self.shape``)."""
        ...

    def get_cells(self) -> Cells:
        """Return a fresh uint8 copy of the lattice."""
        ...

    def step(self, generations: int = 1) -> None:
        """Advance the lattice by ``generations`` generations."""
        ...

    def births(self) -> Cells:
        """Cells born in the most recent generation (uint8; all zero before any step)."""
        ...

    def population(self) -> int:
        """Number of live cells."""
        ...

    def close(self) -> None:
        """Release resources (GL objects); the backend is unusable afterwards."""
        ...
