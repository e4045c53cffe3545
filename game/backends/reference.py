"""Plain uint8 reference implementation: obviously correct, kept for tests and as a baseline.

This is the naive ``np.roll`` neighbour sum that the bench compares the fast backends against.
"""

from __future__ import annotations

import numpy as np

from game.cells import Cells
from game.rules import Rule


def _lookup(rule: Rule) -> Cells:
    """Table[alive, neighbours] -> next state."""
    table = np.zeros((2, 9), dtype=np.uint8)
    for k in rule.birth:
        table[0, k] = 1
    for k in rule.survive:
        table[1, k] = 1
    return table


def reference_step(cells: Cells, rule: Rule) -> Cells:
    """One generation on the torus by summing the eight rolled copies of the lattice."""
    n = np.zeros(cells.shape, dtype=np.uint8)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                n += np.roll(cells, (dy, dx), axis=(0, 1))
    out: Cells = _lookup(rule)[cells, n]
    return out


class ReferenceBackend:
    """The uint8 ``np.roll`` backend (``--backend reference``): slow, simple, trusted."""

    name = "reference"

    def __init__(self, rule: Rule, shape: tuple[int, int]) -> None:
        self.rule = rule
        self.shape = shape
        self._cells: Cells = np.zeros(shape, dtype=np.uint8)
        self._births: Cells = np.zeros(shape, dtype=np.uint8)

    def set_cells(self, cells: Cells) -> None:
        """Replace the lattice."""
        self._cells = np.ascontiguousarray(cells, dtype=np.uint8).copy()
        self._births = np.zeros(self.shape, dtype=np.uint8)

    def get_cells(self) -> Cells:
        """Return a copy of the lattice."""
        return self._cells.copy()

    def step(self, generations: int = 1) -> None:
        """Advance by ``generations``."""
        for _ in range(generations):
            nxt = reference_step(self._cells, self.rule)
            self._births = nxt & (1 - self._cells)
            self._cells = nxt

    def births(self) -> Cells:
        """Cells born in the last generation."""
        return self._births.copy()

    def population(self) -> int:
        """Live cells."""
        return int(self._cells.sum(dtype=np.int64))

    def close(self) -> None:
        """Nothing to release."""
