"""Mirror system: hands the newest frame to the web mirror without blocking the tick.

Each tick it builds a :class:`MirrorFrame` of the state just computed (bit-packed lattice,
energy, bots, shards, gliders, patterns, the tick's events, counts) and puts it in a one-slot
mailbox (:class:`game.mailbox.Latest`). The web server's broadcaster takes the newest frame when
it is ready for one; frames it never took are replaced, and their events carried into the next
(so the event feed misses nothing but the overflow it reports).
"""

from __future__ import annotations

import math
from typing import Final

import esper
import msgspec
import numpy as np

from components.bot import Bot
from components.mesh import MeshCell, TileStats
from components.pattern import GliderTrack, Pattern
from components.shard import Shard
from game.events import Event
from game.mailbox import Latest
from game.schedule import System
from game.world import Sim

MAX_SHARDS: Final = 512
MAX_PATTERNS: Final = 1024
MAX_EVENTS: Final = 100
ENERGY_SIDE: Final = 64  # the energy field is averaged down to at most this many blocks a side


class TileSnapshot(msgspec.Struct, frozen=True):
    """One mesh cell's stats."""

    row: int
    col: int
    population: int
    energy: float


class BotView(msgspec.Struct, frozen=True, array_like=True):
    """A bot as the mirror shows it: ``[row, col, state, inbox, adapter]``."""

    row: int
    col: int
    state: str
    inbox: int
    adapter: str


class ShardView(msgspec.Struct, frozen=True, array_like=True):
    """A shard in flight: ``[id, row, col, x, y, transport, payload]`` (lattice cells x, y)."""

    id: int
    row: int
    col: int
    x: float
    y: float
    transport: int  # 0 link, 1 glider
    payload: int  # 0 memory, 1 adapter


class GliderView(msgspec.Struct, frozen=True, array_like=True):
    """A tracked glider: ``[track, cx, cy, direction]``."""

    track: int
    cx: float
    cy: float
    direction: str


class PatternView(msgspec.Struct, frozen=True, array_like=True):
    """A detected object's box and name: ``[x, y, w, h, apgcode]``."""

    x: int
    y: int
    w: int
    h: int
    apgcode: str


class EnergyView(msgspec.Struct, frozen=True):
    """The energy field averaged over blocks: ``w·h`` bytes, a byte b meaning b/255·max."""

    w: int
    h: int
    max: float
    data: bytes


class Counts(msgspec.Struct, frozen=True):
    """Shards spawned and ended since the start of the run."""

    spawned: int = 0
    delivered: int = 0
    expired: int = 0
    dropped: int = 0


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a run is, the same in every frame: lattice size, mesh, rule and seed."""

    width: int
    height: int
    rows: int
    cols: int
    tile: int
    rule: str
    seed: int


def run_info(sim: Sim) -> RunInfo:
    """The :class:`RunInfo` of ``sim``."""
    mesh = sim.config.mesh
    return RunInfo(width=sim.shape[1], height=sim.shape[0], rows=mesh.rows, cols=mesh.cols,
                   tile=mesh.tile, rule=str(sim.rule), seed=sim.config.seed)


class MirrorFrame(msgspec.Struct, frozen=True):
    """The state at the end of ``tick``, as the mirror hands it to the web server.

    ``cells`` is the lattice bit-packed row-major, most significant bit first (``np.packbits``).
    ``patterns_version`` changes whenever the pattern list does. ``events`` are those since the
    last frame the server took (newest :data:`MAX_EVENTS`; ``events_omitted`` older ones left
    out). ``tick_ms`` is what the tick's systems took before the mirror.
    """

    tick: int
    run: RunInfo
    population: int
    cells: bytes
    energy: EnergyView
    tiles: list[TileSnapshot]
    bots: list[BotView]
    shards: list[ShardView]
    in_flight: int
    gliders: list[GliderView]
    patterns: list[PatternView]
    patterns_version: int
    events: list[Event]
    events_omitted: int
    counts: Counts
    tick_ms: float


def carry_events(old: MirrorFrame, new: MirrorFrame) -> MirrorFrame:
    """``new`` with the events of ``old``, a frame replaced before the server took it."""
    if not old.events and not old.events_omitted:
        return new
    events = old.events + new.events
    omitted = old.events_omitted + new.events_omitted
    if len(events) > MAX_EVENTS:
        omitted += len(events) - MAX_EVENTS
        events = events[-MAX_EVENTS:]
    return msgspec.structs.replace(new, events=events, events_omitted=omitted)


def block_means(field: np.ndarray, side: int = ENERGY_SIDE) -> np.ndarray:
    """``field`` averaged over f×f blocks, ``f = ceil(max(h, w) / side)`` (edge blocks smaller)."""
    h, w = field.shape
    f = max(1, math.ceil(max(h, w) / side))
    ys, xs = np.arange(0, h, f), np.arange(0, w, f)
    sums = np.add.reduceat(np.add.reduceat(field, ys, axis=0), xs, axis=1)
    counts = np.outer(np.diff(np.append(ys, h)), np.diff(np.append(xs, w)))
    means: np.ndarray = sums / counts
    return means


def energy_view(field: np.ndarray) -> EnergyView:
    """The energy field averaged and quantised to bytes."""
    means = block_means(field.astype(np.float64, copy=False))
    top = float(means.max()) if means.size else 0.0
    scale = 255.0 / top if top > 1e-9 else 0.0
    data = np.rint(means * scale).astype(np.uint8)
    return EnergyView(int(means.shape[1]), int(means.shape[0]), round(top, 6), data.tobytes())


class MirrorSystem(System):
    """Builds a :class:`MirrorFrame` of every tick and puts it in the slot."""

    phase = "mirror"

    def __init__(self, sim: Sim, slot: Latest[MirrorFrame]) -> None:
        self.sim = sim
        self.slot = slot
        self.counts = Counts()
        self._events: list[Event] = []
        self._patterns: list[PatternView] = []
        self._patterns_version = 0
        self.run = run_info(sim)
        sim.events.listeners.append(self._heard)

    def _heard(self, events: list[Event]) -> None:
        self._events.extend(events)
        c = self.counts
        spawned, delivered, expired, dropped = c.spawned, c.delivered, c.expired, c.dropped
        for e in events:
            kind = e.kind
            if kind == "spawn":
                spawned += 1
            elif kind == "delivered":
                delivered += 1
            elif kind == "expired":
                expired += 1
            elif kind == "dropped":
                dropped += 1
        self.counts = Counts(spawned, delivered, expired, dropped)

    def process(self) -> None:
        """Publish the state of the tick just computed."""
        self.slot.put(self.frame(self.sim.tick + 1))

    def frame(self, tick: int) -> MirrorFrame:
        """The frame of the state at the end of ``tick`` (takes the events heard since the last)."""
        sim = self.sim
        alive = sim.substrate.alive
        events, self._events = self._events, []
        omitted = max(0, len(events) - MAX_EVENTS)
        patterns = self._pattern_views()
        if patterns != self._patterns:
            self._patterns = patterns
            self._patterns_version += 1
        shards, in_flight = self._shard_views()
        last_ms = sim.schedule.last_ms
        return MirrorFrame(
            tick=tick,
            run=self.run,
            population=int(alive.sum()),
            cells=np.packbits(alive).tobytes(),
            energy=energy_view(sim.substrate.energy),
            tiles=self._tiles(),
            bots=self._bot_views(),
            shards=shards,
            in_flight=in_flight,
            gliders=self._glider_views(),
            patterns=patterns,
            patterns_version=self._patterns_version,
            events=events[-MAX_EVENTS:],
            events_omitted=omitted,
            counts=self.counts,
            tick_ms=round(sum(ms for p, ms in last_ms.items() if p != "mirror"), 3),
        )

    @staticmethod
    def _tiles() -> list[TileSnapshot]:
        tiles = [
            TileSnapshot(cell.row, cell.col, stats.population, round(stats.energy_mean, 6))
            for _, (cell, stats) in esper.get_components(MeshCell, TileStats)
        ]
        tiles.sort(key=lambda t: (t.row, t.col))
        return tiles

    @staticmethod
    def _bot_views() -> list[BotView]:
        bots = [
            BotView(b.row, b.col, b.state, len(b.inbox), b.adapter or "")
            for _, b in esper.get_component(Bot)
        ]
        bots.sort(key=lambda b: (b.row, b.col))
        return bots

    def _shard_views(self) -> tuple[list[ShardView], int]:
        tile = self.sim.config.mesh.tile
        half = tile / 2
        views: list[ShardView] = []
        count = 0
        for _, s in esper.get_component(Shard):
            count += 1
            if len(views) >= MAX_SHARDS:
                continue
            r, c = s.at
            glider = s.transport == "glider"
            x, y = (s.x, s.y) if glider else (c * tile + half, r * tile + half)
            views.append(ShardView(s.id, r, c, round(x, 2), round(y, 2), int(glider),
                                   int(s.payload == "adapter")))
        return views, count

    @staticmethod
    def _glider_views() -> list[GliderView]:
        views = [GliderView(t.track, round(t.cx, 2), round(t.cy, 2), t.direction)
                 for _, t in esper.get_component(GliderTrack)]
        views.sort(key=lambda g: g.track)
        return views

    @staticmethod
    def _pattern_views() -> list[PatternView]:
        tracked = {e for e, _ in esper.get_component(GliderTrack)}
        views = [PatternView(p.x, p.y, p.w, p.h, p.apgcode or "")
                 for e, p in esper.get_component(Pattern) if e not in tracked]
        views.sort(key=lambda p: (p.y, p.x, p.apgcode))
        return views[:MAX_PATTERNS]
