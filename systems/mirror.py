"""Mirror system: hands the newest frame to the web mirror without blocking the tick.

Each tick it makes a :class:`~game.engine.frames.MirrorFrame` of the state just computed
(bit-packed lattice, energy, bots, shards, gliders, patterns, the tick's events, counts) and puts
it in a one-slot mailbox (:class:`game.engine.mailbox.Latest`). The web server's broadcaster
takes the newest frame when it is ready for one; frames it never took are replaced, and their
events carried into the next (so the event feed misses nothing but the overflow it reports).

The tick only snapshots (copies of the arrays, plain tuples of the entities' fields): the views
(the averaged energy field, the bot, shard, glider, pattern and tile lists) are built from the
snapshot by whoever reads them first. On a 64×64 mesh the tick then spends a few milliseconds
copying instead of tens building views, and a frame nobody takes costs no more.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import partial
from itertools import islice
from operator import attrgetter, itemgetter
from typing import Final

import esper
import numpy as np

from components.bot import Bot
from components.pattern import GliderTrack, Pattern
from components.shard import Shard
from game.engine.events import Delivered, Dropped, Event, Expired, Spawn
from game.engine.frames import (
    MAX_EVENTS,
    MAX_PATTERNS,
    MAX_SHARDS,
    BotView,
    Counts,
    EnergyView,
    FrameParts,
    GliderView,
    Lazy,
    MirrorFrame,
    PatternView,
    ShardView,
    TileSnapshot,
)
from game.engine.mailbox import Latest
from game.engine.schedule import System
from game.engine.world import Sim, run_info
from systems.energy import EnergySystem

ENERGY_SIDE: Final = 64  # the energy field is averaged down to at most this many blocks a side


def _pairwise(x: np.ndarray) -> np.ndarray:
    """The float64 sum along axis 0 in numpy's own pairwise order (its reductions' order).

    Vectorised over the other axes, with the same roundings as ``np.add.reduce`` of one
    contiguous run of ``len(x)`` values: 8 running sums, then the rest one by one; halves above 128.
    """
    n = len(x)
    if n < 8:
        small = np.zeros(x.shape[1:], np.float64)
        for row in x:
            small += row
        return small
    if n <= 128:
        r = x[:8].astype(np.float64)
        whole = n - n % 8
        for i in range(8, whole, 8):
            r += x[i : i + 8]
        total: np.ndarray = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for row in x[whole:]:
            total += row
        return total
    half = n // 2
    half -= half % 8
    result: np.ndarray = _pairwise(x[:half]) + _pairwise(x[half:])
    return result


def _run_sums(x: np.ndarray, f: int) -> np.ndarray:
    """Float64 sums of runs of ``f`` along axis 0 (the last run shorter): ``np.add.reduceat``'s.

    Bit for bit what ``np.add.reduceat(x.astype(np.float64), range(0, len(x), f), axis=0)``
    gives (a run's first value plus the pairwise sum of the others), but whole lattice rows at a
    time, where reduceat adds each column's run apart (ten times slower on a 1024² field).
    """
    n = len(x)
    full = n // f
    runs = [x[: full * f].reshape(full, f, *x.shape[1:])] if full else []
    if n % f:
        runs.append(x[full * f :][np.newaxis])
    sums = []
    for run in runs:
        first = run[:, 0].astype(np.float64)
        if run.shape[1] > 1:
            first += _pairwise(np.moveaxis(run[:, 1:], 1, 0))
        sums.append(first)
    return np.concatenate(sums)


def block_means(field: np.ndarray, side: int = ENERGY_SIDE) -> np.ndarray:
    """``field`` averaged over f×f blocks, ``f = ceil(max(h, w) / side)`` (edge blocks smaller).

    Summed in float64, down the blocks' columns, then across.
    """
    h, w = field.shape
    f = max(1, math.ceil(max(h, w) / side))
    sums = _run_sums(_run_sums(field, f).T, f).T
    ys, xs = np.arange(0, h, f), np.arange(0, w, f)
    counts = np.outer(np.diff(np.append(ys, h)), np.diff(np.append(xs, w)))
    means: np.ndarray = sums / counts
    return means


def energy_view(field: np.ndarray) -> EnergyView:
    """The energy field averaged and quantised to bytes."""
    means = block_means(field)
    top = float(means.max()) if means.size else 0.0
    scale = 255.0 / top if top > 1e-9 else 0.0
    data = np.rint(means * scale).astype(np.uint8)
    return EnergyView(int(means.shape[1]), int(means.shape[0]), round(top, 6), data.tobytes())


# What the tick reads of each bot, shard, glider and pattern (the views are built from these).
_BOT_STATE = attrgetter("state")
_BOT_INBOX = attrgetter("inbox")
_BOT_ADAPTER = attrgetter("adapter")
_SHARD = attrgetter("id", "at", "transport", "x", "y", "payload")
_GLIDER = attrgetter("track", "cx", "cy", "direction")
_PATTERN_ORDER = itemgetter(0, 1, 2)  # (y, x, apgcode): the order of the pattern list

_RawShard = tuple[int, tuple[int, int], str, float, float, str]
_RawPattern = tuple[int, int, str, int, int]  # y, x, apgcode, w, h


def _tile_views(populations: np.ndarray, means: np.ndarray) -> list[TileSnapshot]:
    """The tile list of the per-tile arrays (rows, cols)."""
    cols = populations.shape[1]
    return [TileSnapshot(i // cols, i % cols, pop, round(mean, 6))
            for i, (pop, mean) in enumerate(zip(populations.ravel().tolist(),
                                                means.ravel().tolist(), strict=True))]


def _bot_views(cells: list[tuple[int, int]], states: list[str], inboxes: list[int],
               adapters: list[str | None]) -> list[BotView]:
    return [BotView(r, c, state, inbox, adapter or "")
            for (r, c), state, inbox, adapter in zip(cells, states, inboxes, adapters, strict=True)]


def _shard_views(raw: list[_RawShard], tile: int) -> list[ShardView]:
    half = tile / 2
    views: list[ShardView] = []
    for ident, (r, c), transport, sx, sy, payload in raw:
        glider = transport == "glider"
        x, y = (sx, sy) if glider else (c * tile + half, r * tile + half)
        views.append(ShardView(ident, r, c, round(x, 2), round(y, 2), int(glider),
                               int(payload == "adapter")))
    return views


def _glider_views(raw: list[tuple[int, float, float, str]]) -> list[GliderView]:
    views = [GliderView(track, round(cx, 2), round(cy, 2), direction)
             for track, cx, cy, direction in raw]
    views.sort(key=lambda g: g.track)
    return views


def _pattern_views(raw: list[_RawPattern]) -> list[PatternView]:
    return [PatternView(x, y, w, h, apgcode) for y, x, apgcode, w, h in raw]


class MirrorSystem(System):
    """Snapshots every tick into a :class:`MirrorFrame` and puts it in the slot.

    The tick takes copies and plain tuples only; the frame's views are built by their first
    reader. Views that did not change since the last frame (bots, patterns) are shared with it,
    so they are built once for all the frames that show them.
    """

    phase = "mirror"

    def __init__(self, sim: Sim, slot: Latest[MirrorFrame]) -> None:
        self.sim = sim
        self.slot = slot
        self.counts = Counts()
        self._events: list[Event] = []
        self._bots: list[Bot] | None = None
        self._bot_cells: list[tuple[int, int]] = []
        self._bot_state: tuple[list[str], list[int], list[str | None]] | None = None
        self._bot_views: Lazy[list[BotView]] = Lazy(list)
        self._patterns: list[_RawPattern] = []
        self._pattern_views: Lazy[list[PatternView]] = Lazy(list)
        self._patterns_version = 0
        self.run = run_info(sim)
        energy = sim.schedule.get("energy")
        if not isinstance(energy, EnergySystem):
            raise TypeError("the mirror shows the energy system's tile stats: add that first")
        self._energy_system = energy
        sim.events.listeners.append(self._heard)

    def _heard(self, events: list[Event]) -> None:
        self._events.extend(events)
        kinds = Counter(map(type, events))
        c = self.counts
        self.counts = Counts(c.spawned + kinds[Spawn], c.delivered + kinds[Delivered],
                             c.expired + kinds[Expired], c.dropped + kinds[Dropped])

    def process(self) -> None:
        """Publish the state of the tick just computed."""
        self.slot.put(self.frame(self.sim.tick + 1))

    def frame(self, tick: int) -> MirrorFrame:
        """The frame of the state at the end of ``tick`` (takes the events heard since the last)."""
        sim = self.sim
        sub = sim.substrate
        events, self._events = self._events, []
        omitted = max(0, len(events) - MAX_EVENTS)
        stats = self._energy_system
        shards, in_flight = self._shards()
        parts = FrameParts(
            # The field is updated in place: the frame keeps a copy (averaging it is the reader's).
            energy=Lazy(partial(energy_view, sub.energy.copy())),
            # The energy system's arrays are fresh every tick: no copy.
            tiles=Lazy(partial(_tile_views, stats.populations, stats.means)),
            bots=self._bots_now(),
            shards=shards,
            gliders=Lazy(partial(_glider_views,
                                 [_GLIDER(t) for _, t in esper.get_component(GliderTrack)])),
            patterns=self._patterns_now(),
        )
        last_ms = sim.schedule.last_ms
        return MirrorFrame(
            tick=tick,
            run=self.run,
            population=int(np.count_nonzero(sub.alive)),  # alive is 0/1
            cells=np.packbits(sub.alive).tobytes(),
            in_flight=in_flight,
            patterns_version=self._patterns_version,
            events=events[-MAX_EVENTS:],
            events_omitted=omitted,
            counts=self.counts,
            tick_ms=round(sum(ms for p, ms in last_ms.items() if p != "mirror"), 3),
            parts=parts,
        )

    def _bots_now(self) -> Lazy[list[BotView]]:
        """The bot views of now: the last frame's when no bot changed."""
        if self._bots is None:
            # Bots are made once, with the mesh, and never move; pattern entities come and go
            # every tick, which empties esper's query cache: look them up once.
            self._bots = sorted((b for _, b in esper.get_component(Bot)),
                                key=lambda b: (b.row, b.col))
            self._bot_cells = [(b.row, b.col) for b in self._bots]
        bots = self._bots
        state = (list(map(_BOT_STATE, bots)), list(map(len, map(_BOT_INBOX, bots))),
                 list(map(_BOT_ADAPTER, bots)))
        if state != self._bot_state:
            self._bot_state = state
            self._bot_views = Lazy(partial(_bot_views, self._bot_cells, *state))
        return self._bot_views

    def _shards(self) -> tuple[Lazy[list[ShardView]], int]:
        """The views of the first :data:`MAX_SHARDS` shards, and how many are in flight."""
        shards = esper.get_component(Shard)
        raw: list[_RawShard] = [_SHARD(s) for _, s in islice(shards, MAX_SHARDS)]
        return Lazy(partial(_shard_views, raw, self.sim.config.mesh.tile)), len(shards)

    def _patterns_now(self) -> Lazy[list[PatternView]]:
        """The pattern views of now (a new version when the list changed)."""
        tracked = {e for e, _ in esper.get_component(GliderTrack)}
        raw: list[_RawPattern] = [(p.y, p.x, p.apgcode or "", p.w, p.h)
                                  for e, p in esper.get_component(Pattern) if e not in tracked]
        raw.sort(key=_PATTERN_ORDER)
        del raw[MAX_PATTERNS:]
        if raw != self._patterns:
            self._patterns = raw
            self._patterns_version += 1
            self._pattern_views = Lazy(partial(_pattern_views, raw))
        return self._pattern_views
