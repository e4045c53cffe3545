"""Mirror system: hands the newest state snapshot to the web mirror without blocking the tick."""

from __future__ import annotations

import esper
import msgspec

from components.mesh import MeshCell, TileStats
from game.mailbox import Latest
from game.schedule import System
from game.world import Sim


class TileSnapshot(msgspec.Struct, frozen=True):
    """One mesh cell's stats in a snapshot."""

    row: int
    col: int
    population: int
    energy: float


class StateSnapshot(msgspec.Struct, frozen=True):
    """What ``GET /api/state`` serves: the simulation's state at one tick."""

    tick: int
    population: int
    width: int
    height: int
    rule: str
    tiles: list[TileSnapshot]


def snapshot(sim: Sim, tick: int) -> StateSnapshot:
    """Build the snapshot of ``sim`` as of ``tick``."""
    tiles = [
        TileSnapshot(cell.row, cell.col, stats.population, round(stats.energy_mean, 6))
        for _, (cell, stats) in esper.get_components(MeshCell, TileStats)
    ]
    tiles.sort(key=lambda t: (t.row, t.col))
    return StateSnapshot(
        tick=tick,
        population=int(sim.substrate.alive.sum()),
        width=sim.shape[1],
        height=sim.shape[0],
        rule=str(sim.rule),
        tiles=tiles,
    )


class MirrorSystem(System):
    """Puts a fresh :class:`StateSnapshot` into the mailbox every tick."""

    phase = "mirror"

    def __init__(self, sim: Sim, slot: Latest[StateSnapshot]) -> None:
        self.sim = sim
        self.slot = slot

    def process(self) -> None:
        """Publish the state of the tick just computed."""
        self.slot.put(snapshot(self.sim, self.sim.tick + 1))
