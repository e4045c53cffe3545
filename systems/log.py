"""Log system: writes the tick's events as JSONL lines (``--events FILE``)."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from game.engine.events import Population, encode_events
from game.engine.schedule import System
from game.engine.world import Sim


class LogSystem(System):
    """Appends every event emitted during the tick to the event log, one line each, in order."""

    phase = "log"

    def __init__(self, sim: Sim, out: BinaryIO | None) -> None:
        self.sim = sim
        self.out = out
        self.every = sim.config.log.population_every

    def process(self) -> None:
        """Write this tick's events."""
        sim = self.sim
        tick = sim.tick + 1
        if self.every and tick % self.every == 0:
            alive = sim.substrate.alive  # 0/1: its live cells are its nonzero cells
            sim.events.emit(Population(tick=tick, population=int(np.count_nonzero(alive))))
        self.write_pending()

    def write_pending(self) -> None:
        """Write (and forget) every event emitted since the last write."""
        events = self.sim.events.drain()
        if self.out is not None and events:
            self.out.write(encode_events(events))

    def close(self) -> None:
        """Write what is pending and close the log file."""
        self.write_pending()
        if self.out is not None:
            self.out.close()
            self.out = None
