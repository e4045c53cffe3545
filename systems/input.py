"""Input system: applies queued commands at the start of a tick, then the run's own traffic.

Commands stamp a pattern, reseed the lattice or spawn a shard; traffic (``traffic.rate``)
spawns shards of uniform traffic.
"""

from __future__ import annotations

import queue

import numpy as np

from components.shard import Shard
from game.commands import (
    Command,
    PulseNow,
    Reseed,
    SelectAdapter,
    SpawnShard,
    StampPattern,
    StartWave,
    to_input,
)
from game.events import Reseed as ReseedEvent
from game.events import Select, Stamp
from game.schedule import System
from game.traffic import Traffic
from game.world import Sim


def random_soup(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    """A random soup: each cell alive with probability ``density``, drawn from ``rng``."""
    soup: np.ndarray = (rng.random(shape) < density).astype(np.uint8)
    return soup


class InputSystem(System):
    """Drains :attr:`Sim.commands` and applies each command to the lattice, logging it."""

    phase = "input"

    def __init__(self, sim: Sim, traffic: Traffic | None = None) -> None:
        self.sim = sim
        self.traffic = traffic

    def process(self) -> None:
        """Apply every command queued since the last tick, in arrival order; then traffic."""
        while True:
            try:
                command = self.sim.commands.get_nowait()
            except queue.Empty:
                break
            # Logged before it is applied: replay re-posts it at the same tick.
            self.sim.events.emit(to_input(command, self.sim.tick + 1))
            self.apply(command)
        if self.traffic is not None:
            for spawn in self.traffic.tick():
                self.apply(spawn)

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
        elif isinstance(command, SpawnShard):
            self.spawn(command, tick)
        elif isinstance(command, PulseNow | StartWave | SelectAdapter):
            net = sim.net
            if net is None:
                raise RuntimeError("this world has no bots (build_sim(..., shards=True))")
            if isinstance(command, SelectAdapter):
                net.bots[command.bot].adapter = command.adapter
                sim.events.emit(Select(tick=tick, bot=command.bot, adapter=command.adapter))
            elif isinstance(command, PulseNow):
                net.pulse_requests.append(command.bot)
            else:
                net.wave_starts.append((command.bot, command.adapter))

    def spawn(self, command: SpawnShard, tick: int) -> None:
        """Create the shard entity at its source bot and log its ``spawn`` event."""
        net = self.sim.net
        if net is None:
            raise RuntimeError("this world has no tier 2 (build_sim(..., shards=True))")
        shard = Shard(
            id=next(net.ids),
            text=command.text,
            src=command.src,
            target=command.target,
            spawn_tick=tick,
            ttl=self.sim.config.route.ttl,
            at=command.src,
            path=[command.src],
            payload="adapter" if command.payload == "adapter" else "memory",
        )
        net.spawn(self.sim.events, shard)
