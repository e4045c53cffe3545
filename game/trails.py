"""Energy trails: shards mark the mesh links they use in the energy field; routers read them.

Each mesh link has a *wire*: the lattice cells on the straight line between the two tiles'
centres (the centres themselves left out, where all four wires of a bot meet). A hop deposits
``energy.shard_deposit`` on every cell of its wire; a delivered shard reinforces every wire of
its path with ``energy.trail_deposit``, as ant-colony routing reinforces the paths of ants
that found food. The field decays with its half-life, so trails of routes no longer used fade.

Energy is one scalar: it cannot say where a shard should go, only where shards that arrived
went. A link's energy is the mean of its wire, read by the semantic router as a hint.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from game.cells import Cell
from game.topology import neighbours

Flat = npt.NDArray[np.intp]


class Wires:
    """The flat lattice indices of every link's wire, precomputed once per mesh."""

    def __init__(self, rows: int, cols: int, tile: int) -> None:
        self.rows, self.cols, self.tile = rows, cols, tile
        width = cols * tile
        height = rows * tile
        half = tile // 2
        wires: dict[tuple[Cell, Cell], Flat] = {}
        for r in range(rows):
            for c in range(cols):
                a = (r, c)
                for b in neighbours(a, rows, cols):
                    key = (min(a, b), max(a, b))
                    if key in wires:
                        continue
                    dr = (b[0] - r + rows) % rows
                    dc = (b[1] - c + cols) % cols
                    step_r = 1 if dr == 1 else (-1 if dr else 0)
                    step_c = 1 if dc == 1 else (-1 if dc else 0)
                    k = np.arange(1, tile)
                    ys = (r * tile + half + step_r * k) % height
                    xs = (c * tile + half + step_c * k) % width
                    wires[key] = (ys * width + xs).astype(np.intp)

        self.keys = list(wires)
        self._matrix = (np.stack([wires[k] for k in self.keys]) if self.keys
                        else np.zeros((0, max(tile - 1, 1)), np.intp))
        # Each link's row of the matrix, both ways round: a path's steps look up as they come.
        self._rows: dict[tuple[Cell, Cell], int] = {}
        for i, (a, b) in enumerate(self.keys):
            self._rows[(a, b)] = self._rows[(b, a)] = i

    def level_array(self, energy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Every link's energy at once (one gather over all wires), in :attr:`keys` order."""
        sums: npt.NDArray[np.float32] = energy.ravel().take(self._matrix).sum(axis=1)
        sums *= np.float32(1 / max(self._matrix.shape[1], 1))
        return sums

    def levels(self, energy: npt.NDArray[np.float32]) -> dict[tuple[Cell, Cell], float]:
        """Every link's energy, keyed by (min, max) cell."""
        return dict(zip(self.keys, self.level_array(energy).tolist(), strict=True))

    def wire(self, a: Cell, b: Cell) -> Flat:
        """The cells of the link between neighbours ``a`` and ``b`` (flat indices)."""
        row: Flat = self._matrix[self.link(a, b)]
        return row

    def deposit(self, energy: npt.NDArray[np.float32], a: Cell, b: Cell, amount: float) -> None:
        """Add ``amount`` to every cell of the link's wire."""
        if amount:
            energy.ravel()[self.wire(a, b)] += np.float32(amount)

    def reinforce(
        self, energy: npt.NDArray[np.float32], path: Iterable[Cell], amount: float,
        falloff: float = 1.0,
    ) -> None:
        """Reinforce every link of ``path`` (consecutive cells), most at its destination.

        The last link gets ``amount``, the one before ``amount * falloff``, and so on back to
        the source: summed over many deliveries the field rises toward the bots where shards
        are delivered, a gradient a router can climb. A glider handoff across two tiles is
        skipped (it has no single wire) but still counts as a step back.
        """
        links, gains = self.trail(path, amount, falloff)
        if links:
            # Wires never share a cell, and a path never takes a link twice (no shard revisits
            # a bot), so plain += adds each once.
            energy.ravel()[self.cells(links)] += self.gains(gains)

    def trail(self, path: Iterable[Cell], amount: float, falloff: float = 1.0
              ) -> tuple[list[int], list[float]]:
        """What :meth:`reinforce` adds: the links of ``path`` (see :meth:`link`), each's gain.

        Plain lists: a delivery's trail is a few dozen links, and numpy's per-call cost would
        outweigh the work; :meth:`cells` and :meth:`gains` turn many trails into arrays at once.
        """
        if not amount:
            return [], []
        cells = list(path)
        find = self._rows.get
        steps = [find(step, -1) for step in zip(cells, cells[1:], strict=False)]
        links: list[int] = []
        gains: list[float] = []
        for back, link in enumerate(reversed(steps)):
            if link >= 0:
                links.append(link)
                gains.append(amount * falloff**back)
        return links, gains

    def link(self, a: Cell, b: Cell) -> int:
        """The link between neighbours ``a`` and ``b``, by its index in :attr:`keys`."""
        return self._rows[(a, b)]

    def cells(self, links: list[int]) -> Flat:
        """The flat lattice cells of the wires of ``links``, wire after wire."""
        out: Flat = self._matrix[np.asarray(links, np.intp)].ravel()
        return out

    def gains(self, gains: list[float]) -> npt.NDArray[np.float32]:
        """Each link's gain repeated over its wire's cells, as :meth:`cells` lists them."""
        return np.repeat(np.asarray(gains, np.float32), self._matrix.shape[1])

    def level(self, energy: npt.NDArray[np.float32], a: Cell, b: Cell) -> float:
        """The link's energy: the mean over its wire."""
        return float(energy.ravel()[self.wire(a, b)].mean())
