"""Energy system: deposit on births, exponential decay by half-life, optional diffusion.

Per tick, in this order: ``E ← E · 2^(−1/half_life) + birth_deposit · births``, then, when
``diffusion = D > 0``, ``E ← E + D · (sum of the four neighbours − 4E)`` on the torus, which
conserves the total. Finally each mesh cell's mean energy and population are refreshed.
"""

from __future__ import annotations

import esper
import numpy as np

from components.mesh import MeshCell, TileStats
from game.schedule import System
from game.world import Sim


def decay_factor(half_life: float) -> float:
    """Per-tick multiplier that halves the field every ``half_life`` ticks."""
    return float(0.5 ** (1.0 / half_life))


def diffuse(field: np.ndarray, rate: float) -> None:
    """One explicit step of 4-neighbour diffusion on the torus, in place (sum-conserving)."""
    lap = (
        np.roll(field, 1, 0) + np.roll(field, -1, 0) + np.roll(field, 1, 1) + np.roll(field, -1, 1)
    )
    lap -= 4.0 * field
    field += np.float32(rate) * lap


def tile_means(field: np.ndarray, rows: int, cols: int, tile: int) -> np.ndarray:
    """Mean of ``field`` over each mesh cell's T×T tile: an (rows, cols) array."""
    means: np.ndarray = field.reshape(rows, tile, cols, tile).mean(axis=(1, 3), dtype=np.float64)
    return means


class EnergySystem(System):
    """Updates the substrate's energy field and every mesh cell's :class:`TileStats`."""

    phase = "energy"

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        cfg = sim.config.energy
        self.decay = np.float32(decay_factor(cfg.half_life))
        self.deposit = np.float32(cfg.birth_deposit)
        self.diffusion = cfg.diffusion
        self._cells: list[tuple[MeshCell, TileStats]] | None = None

    def process(self) -> None:
        """Deposit, decay, diffuse, then refresh per-tile stats."""
        sub = self.sim.substrate
        energy = sub.energy
        energy *= self.decay
        if self.deposit:
            energy += self.deposit * sub.births
        if self.diffusion > 0:
            diffuse(energy, self.diffusion)
        mesh = self.sim.config.mesh
        means = tile_means(energy, mesh.rows, mesh.cols, mesh.tile)
        pops = sub.alive.reshape(mesh.rows, mesh.tile, mesh.cols, mesh.tile).sum(axis=(1, 3))
        if self._cells is None:
            # Mesh cells never change, but pattern entities come and go every tick, which
            # empties esper's query cache: look the mesh cells up once.
            pairs = [pair for _, pair in esper.get_components(MeshCell, TileStats)]
            self._cells = sorted(pairs, key=lambda p: (p[0].row, p[0].col))
        for (_, stats), mean, pop in zip(
            self._cells, means.ravel().tolist(), pops.ravel().tolist(), strict=True
        ):
            stats.energy_mean = mean
            stats.population = pop
