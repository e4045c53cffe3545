"""Energy system: deposit on births, exponential decay by half-life, optional diffusion.

Per tick, in this order: ``E ← E · 2^(−1/half_life) + birth_deposit · births``, then, when
``diffusion = D > 0``, ``E ← E + D · (sum of the four neighbours − 4E)`` on the torus, which
conserves the total. Finally each mesh cell's mean energy and population are refreshed.
"""

from __future__ import annotations

import esper
import numpy as np

from components.mesh import MeshCell, TileStats
from game.engine.schedule import System
from game.engine.world import Sim


def decay_factor(half_life: float) -> float:
    """Per-tick multiplier that halves the field every ``half_life`` ticks."""
    return float(0.5 ** (1.0 / half_life))


def diffuse(field: np.ndarray, rate: float, work: np.ndarray | None = None) -> None:
    """One explicit step of 4-neighbour diffusion on the torus, in place (sum-conserving).

    ``work`` is scratch space, two arrays shaped like ``field`` (``(2, h, w)``); a run passes
    the same one every tick rather than have lattice-sized temporaries made and freed.
    """
    if work is None:
        work = np.empty((2, *field.shape), field.dtype)
    lap, scaled = work
    # The neighbours' sum, added in np.roll's order: down, up, right, left (each wraps around).
    lap[1:], lap[:1] = field[:-1], field[-1:]
    lap[:-1] += field[1:]
    lap[-1:] += field[:1]
    lap[:, 1:] += field[:, :-1]
    lap[:, :1] += field[:, -1:]
    lap[:, :-1] += field[:, 1:]
    lap[:, -1:] += field[:, :1]
    lap -= np.multiply(field, 4.0, out=scaled)
    lap *= np.float32(rate)
    field += lap


def _tile_sums(
    field: np.ndarray, rows: int, cols: int, tile: int, column_dtype: np.dtype, dtype: np.dtype
) -> np.ndarray:
    """Sum of ``field`` over each T×T tile: an (rows, cols) array of ``dtype``.

    Down each tile's columns first (in ``column_dtype``), whole lattice rows at a time: numpy
    then adds long contiguous rows, where one reduction over both tile axes runs its loop a few
    cells at a time (4× slower on a 1024² lattice). Then across each tile's T column sums.
    """
    columns = np.add.reduce(field.reshape(rows, tile, cols * tile), axis=1, dtype=column_dtype)
    sums: np.ndarray = columns.reshape(rows, cols, tile).sum(axis=2, dtype=dtype)
    return sums


def tile_means(field: np.ndarray, rows: int, cols: int, tile: int) -> np.ndarray:
    """Mean of ``field`` over each mesh cell's T×T tile: an (rows, cols) float64 array."""
    f64 = np.dtype(np.float64)
    means: np.ndarray = _tile_sums(field, rows, cols, tile, f64, f64) / (tile * tile)
    return means


def tile_populations(alive: np.ndarray, rows: int, cols: int, tile: int) -> np.ndarray:
    """Live cells of each mesh cell's T×T tile (``alive`` is 0/1): an (rows, cols) int64 array."""
    # A tile column holds at most ``tile`` live cells: its sum fits the narrowest such type,
    # which numpy adds several times faster than int64.
    narrow = np.min_scalar_type(tile)
    pops: np.ndarray = _tile_sums(alive, rows, cols, tile, narrow, np.dtype(np.int64))
    return pops


class EnergySystem(System):
    """Updates the substrate's energy field and every mesh cell's :class:`TileStats`.

    ``means`` and ``populations`` are this tick's per-tile stats as (rows, cols) arrays, the
    values the :class:`TileStats` got. They are fresh arrays every tick, never written in place,
    so a reader (the mirror) may keep them without a copy.
    """

    phase = "energy"

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        cfg = sim.config.energy
        self.decay = np.float32(decay_factor(cfg.half_life))
        self.deposit = np.float32(cfg.birth_deposit)
        self.diffusion = cfg.diffusion
        mesh = sim.config.mesh
        self.means = np.zeros((mesh.rows, mesh.cols), np.float64)
        self.populations = np.zeros((mesh.rows, mesh.cols), np.int64)
        # deposit · births goes here: the field is updated in place, without a fresh
        # lattice-sized temporary every tick.
        self._deposits = np.empty_like(sim.substrate.energy) if self.deposit != 1 else None
        self._diffusion_work = (np.empty((2, *sim.substrate.energy.shape), np.float32)
                                if self.diffusion > 0 else None)
        self._stats: list[TileStats] | None = None

    def process(self) -> None:
        """Deposit, decay, diffuse, then refresh per-tile stats."""
        sub = self.sim.substrate
        energy = sub.energy
        energy *= self.decay
        if self.deposit == 1:
            # births is 0/1, so 1·births is births: numpy adds it cast chunk by chunk, without
            # writing and rereading a lattice-sized product (a third faster out of cache).
            energy += sub.births
        elif self.deposit:
            energy += np.multiply(sub.births, self.deposit, out=self._deposits)
        if self.diffusion > 0:
            diffuse(energy, self.diffusion, self._diffusion_work)
        mesh = self.sim.config.mesh
        self.means = tile_means(energy, mesh.rows, mesh.cols, mesh.tile)
        self.populations = tile_populations(sub.alive, mesh.rows, mesh.cols, mesh.tile)
        if self._stats is None:
            # Mesh cells never change, but pattern entities come and go every tick, which
            # empties esper's query cache: look the mesh cells up once.
            pairs = sorted(esper.get_components(MeshCell, TileStats),
                           key=lambda item: (item[1][0].row, item[1][0].col))
            self._stats = [stats for _, (_, stats) in pairs]
        for stats, mean, pop in zip(
            self._stats, self.means.ravel().tolist(), self.populations.ravel().tolist(),
            strict=True,
        ):
            stats.energy_mean = mean
            stats.population = pop
