"""Input system: applies queued commands at the start of a tick, then the run's own traffic.

Commands stamp a pattern, reseed the lattice or spawn a shard; traffic (``traffic.rate``)
spawns shards of uniform traffic.
"""

from __future__ import annotations

import queue
from typing import TypeVar

import numpy as np

from components.shard import Shard
from game.engine.commands import (
    Command,
    PulseNow,
    Reseed,
    SelectAdapter,
    SpawnShard,
    StampPattern,
    StartWave,
)
from game.engine.events import Input, Select, Stamp
from game.engine.events import Reseed as ReseedEvent
from game.engine.schedule import System
from game.engine.world import Sim
from game.rle import format_rle, parse_rle
from game.traffic import Traffic

T = TypeVar("T")


def random_soup(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    """A random soup: each cell alive with probability ``density``, drawn from ``rng``."""
    soup: np.ndarray = (rng.random(shape) < density).astype(np.uint8)
    return soup


def to_input(command: Command, tick: int) -> Input:
    """The ``input`` event that records ``command``, applied at the start of ``tick``."""
    if isinstance(command, StampPattern):
        return Input(tick=tick, command="stamp", pattern=command.name,
                     rle=format_rle(command.cells), x=command.x, y=command.y)
    if isinstance(command, Reseed):
        return Input(tick=tick, command="reseed", seed=command.seed)
    if isinstance(command, SpawnShard):
        return Input(tick=tick, command="spawn", text=command.text, src=command.src,
                     target=command.target, payload=command.payload)
    if isinstance(command, PulseNow):
        return Input(tick=tick, command="pulse", bot=command.bot)
    if isinstance(command, StartWave):
        return Input(tick=tick, command="wave", bot=command.bot, adapter=command.adapter)
    return Input(tick=tick, command="select", bot=command.bot, adapter=command.adapter)


def from_input(event: Input) -> Command:
    """The command an ``input`` event recorded (raises ValueError for an incomplete one)."""
    def need(value: T | None, name: str) -> T:
        if value is None:
            raise ValueError(f"input {event.command} at tick {event.tick} has no {name}")
        return value

    kind = event.command
    if kind == "stamp":
        cells = parse_rle(need(event.rle, "rle"), f"the stamp at tick {event.tick}").cells
        return StampPattern(event.pattern or "pattern", cells, need(event.x, "x"),
                            need(event.y, "y"))
    if kind == "reseed":
        return Reseed(event.seed)
    if kind == "spawn":
        return SpawnShard(need(event.text, "text"), need(event.src, "src"), event.target,
                          event.payload or "memory")
    if kind == "pulse":
        return PulseNow(event.bot)
    if kind == "wave":
        return StartWave(need(event.bot, "bot"), need(event.adapter, "adapter"))
    if kind == "select":
        return SelectAdapter(need(event.bot, "bot"), event.adapter)
    raise ValueError(f"input at tick {event.tick}: unknown command {kind!r}")


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
