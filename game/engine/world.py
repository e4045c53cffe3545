"""The world: one esper world and the resources a tick reads and writes.

:class:`Sim` holds the resources a tick needs (like Bevy's ``Res``) and runs the schedule;
:func:`game.app.build.build_sim` fills it with entities and systems.
"""

from __future__ import annotations

import gc
import itertools
import queue
from enum import IntEnum, unique
from typing import TYPE_CHECKING, Protocol

import esper
import numpy as np

from components.substrate import Substrate
from game.backends import LifeBackend
from game.config import Config
from game.engine.commands import Command, PulseNow, SelectAdapter, SpawnShard, StartWave
from game.engine.events import EventBus, Stop
from game.engine.frames import MirrorFrame, RunInfo
from game.engine.mailbox import Latest
from game.engine.schedule import Schedule
from game.errors import BadInput
from game.rules import Rule
from game.topology import check_inside

if TYPE_CHECKING:
    from game.shardnet import ShardNet

_world_ids = itertools.count()


class Adapters(Protocol):
    """The resident LoRA adapters, as commands check them (the pulse system, when pulses are on)."""

    def check(self, adapter: str) -> None:
        """Raise :class:`BadInput` unless ``adapter`` is resident."""


class Sim:
    """One simulation: its config, seeded rng, substrate, backend, entities and schedule."""

    def __init__(self, config: Config, backend: LifeBackend, rule: Rule) -> None:
        self.config = config
        self.rule = rule
        mesh = config.mesh
        self.shape = (mesh.rows * mesh.tile, mesh.cols * mesh.tile)
        self.rng = np.random.default_rng(config.seed)
        self.substrate = Substrate.empty(*self.shape)
        self.backend = backend
        self.events = EventBus()
        self.commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.schedule = Schedule()
        self.tick = 0
        self.world = f"cybermesh-{next(_world_ids)}"
        self.frames: Latest[MirrorFrame] = Latest()
        self.net: ShardNet | None = None
        self.adapters: Adapters | None = None
        self._closed = False
        esper.switch_world(self.world)

    def activate(self) -> None:
        """Make this sim's esper world the current one (esper keeps one current world)."""
        if esper.current_world != self.world:
            esper.switch_world(self.world)

    def step(self, ticks: int = 1) -> None:
        """Run ``ticks`` full ticks: every system in :data:`game.engine.schedule.TICK_ORDER`."""
        self.activate()
        for _ in range(ticks):
            self.schedule.run()
            self.tick += 1

    def post(self, command: Command) -> None:
        """Queue a command for the input system (safe from any thread)."""
        self.commands.put(command)

    def inject(
        self, text: str, src: tuple[int, int], target: tuple[int, int] | None = None
    ) -> None:
        """Queue a user's shard: ``text`` from bot ``src`` to ``target`` (None: semantic).

        Raises :class:`BadInput` (one line) for a world without tier 2, a bot outside the mesh
        or an empty text; the shard spawns at the start of the next tick.
        """
        if self.net is None:
            raise BadInput("this run has no bots (tier 2 is off: set traffic.rate or --shards)")
        if target is None and self.config.route.router != "semantic":
            raise BadInput("a shard without a target needs the semantic router "
                           "(route.router: semantic); the shortest router needs a target bot")
        command = SpawnShard(text, src, target)
        self.net.check_spawn(command)
        self.post(command)

    def pulse(self, bot: tuple[int, int] | None = None) -> None:
        """Queue a pulse of ``bot`` (None: every bot with an active adapter) for the next tick.

        Raises :class:`BadInput` (one line) when pulses are off or the bot is outside the mesh.
        """
        self._adapters()
        if bot is not None:
            check_inside("bot", bot, self.config.mesh.rows, self.config.mesh.cols)
        self.post(PulseNow(bot))

    def start_wave(self, bot: tuple[int, int], adapter: str) -> None:
        """Queue a LoRA wave of resident ``adapter`` from ``bot`` (see :mod:`systems.pulse`)."""
        self._adapters().check(adapter)
        check_inside("bot", bot, self.config.mesh.rows, self.config.mesh.cols)
        self.post(StartWave(bot, adapter))

    def select_adapter(self, bot: tuple[int, int], adapter: str | None) -> None:
        """Queue making resident ``adapter`` (None: none) the active one of ``bot``."""
        if adapter is not None:
            self._adapters().check(adapter)
        elif self.net is None:
            raise BadInput("this run has no bots (tier 2 is off: set traffic.rate or --shards)")
        check_inside("bot", bot, self.config.mesh.rows, self.config.mesh.cols)
        self.post(SelectAdapter(bot, adapter))

    def _adapters(self) -> Adapters:
        if self.adapters is None:
            raise BadInput("this run has no pulses (set pulse.enabled: true)")
        return self.adapters

    def population(self) -> int:
        """Live cells now."""
        return int(self.substrate.alive.sum())

    def close(self) -> None:
        """Log the stop event, flush and close the event log, release the backend."""
        if self._closed:
            return
        self._closed = True
        self.events.emit(Stop(tick=self.tick, population=self.population()))
        # In tick order: workers beside the loop stop first, the log (which writes the stop
        # event) closes last but for the mirror.
        for system in self.schedule.systems():
            system.close()
        self.backend.close()
        # esper cannot delete the current world: step aside to its default one first.
        esper.switch_world("default")
        esper.delete_world(self.world)


def settle_heap() -> None:
    """Collect once, then keep every object alive now out of the collector's sight.

    A tick allocates little that lives long, but a full collection walks everything the run
    holds (model, bots, shapes): 150–360 ms at the 64×64 mesh (measured), an outlier tick each
    time. Called once a run is built and warmed up; what is frozen is never collected.
    """
    gc.collect()
    gc.freeze()


@unique
class Purpose(IntEnum):
    """What a random stream of the run's seed is for: one value each, never shared or reused.

    The value seeds the stream (:func:`stream`): changing one changes every run that draws from
    it, and two purposes with one value would draw the same numbers.
    """

    TOPICS = 1  # the bots' topics when the shard network is built
    LINK_LOSS = 2  # which transmissions the route system loses
    TRAFFIC = 3  # the shards the traffic source spawns (and the benches' initial shards)
    BURST = 4  # the routing bench's burst of shards
    SKEWED_TRAFFIC = 5  # the energy bench's skewed traffic (the same on both of its arms)
    PULSE_CONTROL = 6  # the pulse system's random control
    WAVES = 8  # the full bench's LoRA waves: their bots and adapters


def stream(seed: int, purpose: Purpose) -> np.random.Generator:
    """An independent random stream of the run's seed, one per :class:`Purpose`.

    The lattice uses ``sim.rng``; tier 2 draws from its own streams so that adding shards
    never changes the lattice a seed gives.
    """
    return np.random.default_rng([seed, int(purpose)])


def run_info(sim: Sim) -> RunInfo:
    """The :class:`RunInfo` of ``sim``."""
    mesh = sim.config.mesh
    return RunInfo(width=sim.shape[1], height=sim.shape[0], rows=mesh.rows, cols=mesh.cols,
                   tile=mesh.tile, rule=str(sim.rule), seed=sim.config.seed)
