"""Input system: applies queued user commands (stamp a pattern, reseed) at the start of a tick."""

from __future__ import annotations

import queue

import numpy as np

from game.commands import Command, Reseed, StampPattern
from game.events import Reseed as ReseedEvent
from game.events import Stamp
from game.schedule import System
from game.world import Sim


def random_soup(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    """A random soup: each cell alive with probability ``density``, drawn from ``rng``."""
    soup: np.ndarray = (rng.random(shape) < density).astype(np.uint8)
    return soup


class InputSystem(System):
    """Drains :attr:`Sim.commands` and applies each command to the lattice, logging it."""

    phase = "input"

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    def process(self) -> None:
        """Apply every command queued since the last tick, in arrival order."""
        while True:
            try:
                command = self.sim.commands.get_nowait()
            except queue.Empty:
                return
            self.apply(command)

    def apply(self, command: Command) -> None:
        """Apply one command now."""
        sim = self.sim
        tick = sim.tick + 1  # the tick being computed: edits take effect before its ca step
        if isinstance(command, StampPattern):
            h, w = sim.shape
            ph, pw = command.cells.shape
            ys = (np.arange(ph) + command.y) % h
            xs = (np.arange(pw) + command.x) % w
            cells = sim.backend.get_cells()
            cells[np.ix_(ys, xs)] |= command.cells.astype(np.uint8)
            sim.backend.set_cells(cells)
            sim.events.emit(
                Stamp(
                    tick=tick,
                    pattern=command.name,
                    x=command.x % w,
                    y=command.y % h,
                    cells=int(command.cells.sum()),
                )
            )
        elif isinstance(command, Reseed):
            seed = (
                command.seed
                if command.seed is not None
                else int(sim.rng.integers(0, 2**31 - 1))
            )
            density = sim.config.lattice.soup_density
            soup = random_soup(np.random.default_rng(seed), sim.shape, density)
            sim.backend.set_cells(soup)
            sim.events.emit(
                ReseedEvent(tick=tick, seed=seed, density=density, population=int(soup.sum()))
            )
