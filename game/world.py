"""World setup: one esper world, the substrate resource, mesh-cell entities and the systems.

:class:`Sim` holds the resources a tick needs (like Bevy's ``Res``) and runs the schedule.
"""

from __future__ import annotations

import gc
import itertools
import os
import queue
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import esper
import numpy as np

from components.mesh import MeshCell, TileStats
from components.substrate import Substrate
from game.backends import LifeBackend, make_backend
from game.commands import Command
from game.config import Config, logged_config
from game.errors import BadInput
from game.events import EventBus, Start, Stop
from game.files import open_for_writing
from game.mailbox import Latest
from game.rules import Rule, parse_rule
from game.schedule import Schedule
from game.topology import check_inside

if TYPE_CHECKING:
    import moderngl

    from game.shardnet import ShardNet
    from systems.mirror import MirrorFrame
    from systems.pulse import PulseSystem

_world_ids = itertools.count()


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
        self._closed = False
        esper.switch_world(self.world)

    def activate(self) -> None:
        """Make this sim's esper world the current one (esper keeps one current world)."""
        if esper.current_world != self.world:
            esper.switch_world(self.world)

    def step(self, ticks: int = 1) -> None:
        """Run ``ticks`` full ticks: every system in :data:`game.schedule.TICK_ORDER`."""
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
        from game.commands import SpawnShard

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
        from game.commands import PulseNow

        self._pulse_system()
        if bot is not None:
            check_inside("bot", bot, self.config.mesh.rows, self.config.mesh.cols)
        self.post(PulseNow(bot))

    def start_wave(self, bot: tuple[int, int], adapter: str) -> None:
        """Queue a LoRA wave of resident ``adapter`` from ``bot`` (see :mod:`systems.pulse`)."""
        from game.commands import StartWave

        self._pulse_system().check(adapter)
        check_inside("bot", bot, self.config.mesh.rows, self.config.mesh.cols)
        self.post(StartWave(bot, adapter))

    def select_adapter(self, bot: tuple[int, int], adapter: str | None) -> None:
        """Queue making resident ``adapter`` (None: none) the active one of ``bot``."""
        from game.commands import SelectAdapter

        if adapter is not None:
            self._pulse_system().check(adapter)
        elif self.net is None:
            raise BadInput("this run has no bots (tier 2 is off: set traffic.rate or --shards)")
        check_inside("bot", bot, self.config.mesh.rows, self.config.mesh.cols)
        self.post(SelectAdapter(bot, adapter))

    def _pulse_system(self) -> PulseSystem:
        from systems.pulse import PulseSystem

        system = self.schedule.get("pulse")
        if not isinstance(system, PulseSystem):
            raise BadInput("this run has no pulses (set pulse.enabled: true)")
        return system

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


def beside_the_loop(process: bool = False) -> None:
    """Make the calling thread (``process``: every thread of this process) a batch task.

    For the census worker and the pulse and embedding threads, whose results the loop joins at
    a fixed later tick. As normal tasks, a worker woken by the loop's hand-over could be put on
    the loop's CPU and preempt the loop for a scheduler tick: the detection tick's hand-over took
    4.6 ms of wall clock for 0.3 ms of CPU (p95, measured), 0.24 ms as a batch task. Linux's
    SCHED_BATCH never preempts on wake-up and, unlike SCHED_IDLE or nice 19, keeps its fair
    share, so a busy machine slows the worker but never starves it while the loop waits for it.
    Where the platform has no SCHED_BATCH this does nothing.
    """
    if not (hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH")):
        return
    # Linux takes a thread id for a process id here; a process's threads are under /proc.
    tasks = Path("/proc/self/task")
    for thread in [int(t) for t in os.listdir(tasks)] if process and tasks.is_dir() else [0]:
        os.sched_setscheduler(thread, os.SCHED_BATCH, os.sched_param(0))


def initial_cells(config: Config, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """The lattice at tick 0: the configured RLE pattern at the origin, or a random soup."""
    if config.lattice.pattern:
        from game.rle import read_rle

        pattern = read_rle(config.lattice.pattern)
        ph, pw = pattern.cells.shape
        if ph > shape[0] or pw > shape[1]:
            raise BadInput(
                f"{config.lattice.pattern}: pattern is {pw}x{ph}, larger than the "
                f"{shape[1]}x{shape[0]} lattice"
            )
        cells = np.zeros(shape, np.uint8)
        cells[:ph, :pw] = pattern.cells
        return cells
    from systems.input import random_soup

    return random_soup(rng, shape, config.lattice.soup_density)


def stream(seed: int, purpose: int) -> np.random.Generator:
    """An independent random stream of the run's seed, one per purpose.

    The lattice uses ``sim.rng``; tier 2 draws from its own streams so that adding shards
    never changes the lattice a seed gives. Purposes: 1 topics, 2 link loss, 3 traffic.
    """
    return np.random.default_rng([seed, purpose])


def build_sim(
    config: Config,
    events_path: str | Path | None = None,
    mirror: bool = False,
    shards: bool | None = None,
    ctx: moderngl.Context | None = None,
) -> Sim:
    """Create a ready-to-tick simulation from ``config``.

    ``events_path`` opens the JSONL event log; ``mirror`` adds the mirror system (its snapshot
    mailbox is ``sim.frames``); ``shards`` builds tier 2 (bots, embed and route systems;
    default: when ``traffic.rate`` > 0); ``ctx`` is the GL context for the gl backend (the
    viewer's window, so it draws the lattice texture without a copy; default: its own).
    """
    from systems.ca import CaSystem
    from systems.energy import EnergySystem
    from systems.input import InputSystem
    from systems.log import LogSystem
    from systems.mirror import MirrorSystem, carry_events

    rule = parse_rule(config.lattice.rule)
    mesh = config.mesh
    shape = (mesh.rows * mesh.tile, mesh.cols * mesh.tile)
    backend = make_backend(config.lattice.backend, rule, shape, ctx)
    sim = Sim(config, backend, rule)
    try:
        cells = initial_cells(config, sim.rng, shape)
        backend.set_cells(cells)
        np.copyto(sim.substrate.alive, cells)
        sub = sim.substrate
        for r in range(mesh.rows):
            for c in range(mesh.cols):
                y0, x0, t = r * mesh.tile, c * mesh.tile, mesh.tile
                esper.create_entity(
                    MeshCell(
                        r,
                        c,
                        y0,
                        x0,
                        t,
                        sub.alive[y0 : y0 + t, x0 : x0 + t],
                        sub.energy[y0 : y0 + t, x0 : x0 + t],
                    ),
                    TileStats(population=int(cells[y0 : y0 + t, x0 : x0 + t].sum())),
                )
        log_file: BinaryIO | None = None
        if events_path is not None:
            log_file = open_for_writing(events_path, "the event log")  # LogSystem closes it
        traffic = None
        if shards or (shards is None and config.traffic.rate > 0) or config.pulse.enabled:
            from game.shardnet import build_net
            from game.traffic import Traffic

            sim.net = build_net(config, stream(config.seed, 1), sim.substrate.energy)
            if config.traffic.rate > 0:
                semantic = config.route.router == "semantic"
                traffic = Traffic(sim.net, config.traffic.rate, semantic, stream(config.seed, 3))
        sim.schedule.add(InputSystem(sim, traffic))
        sim.schedule.add(CaSystem(sim))
        if config.detect.enabled:
            from systems.detect import DetectSystem

            sim.schedule.add(DetectSystem(sim))
        sim.schedule.add(EnergySystem(sim))
        if sim.net is not None:
            from systems.embed import EmbedSystem
            from systems.route import RouteSystem

            sim.schedule.add(EmbedSystem(sim, sim.net))
            sim.schedule.add(RouteSystem(sim, sim.net, stream(config.seed, 2)))
            if config.route.transport != "link":
                from systems.glider import GliderSystem

                sim.schedule.add(GliderSystem(sim, sim.net))
            if config.pulse.enabled:
                from systems.pulse import PulseSystem

                sim.schedule.add(PulseSystem(sim, sim.net))
        sim.schedule.add(LogSystem(sim, log_file))
        if mirror:
            sim.frames = Latest(carry_events)
            sim.schedule.add(MirrorSystem(sim, sim.frames))
        sim.events.emit(
            Start(
                tick=0,
                seed=config.seed,
                rule=str(rule),
                width=shape[1],
                height=shape[0],
                mesh_rows=mesh.rows,
                mesh_cols=mesh.cols,
                tile=mesh.tile,
                population=int(cells.sum()),
                config=logged_config(config),
            )
        )
    except BaseException:
        backend.close()
        raise
    return sim
