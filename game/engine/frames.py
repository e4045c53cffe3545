"""The mirror's frame: the state at the end of a tick, as the web server and viewer read it.

:class:`MirrorFrame` and its views (bots, shards, gliders, patterns, tiles, energy) are the data
the mirror system (:mod:`systems.mirror`) hands over through a :class:`game.engine.mailbox.Latest`;
the web encoder (:mod:`web.frames`), the server and the viewer read them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Generic, NamedTuple, TypeVar, cast

import msgspec

from game.engine.events import Event

T = TypeVar("T")

MAX_SHARDS: Final = 512
MAX_PATTERNS: Final = 1024
MAX_EVENTS: Final = 100


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


class Lazy(Generic[T]):
    """A value built from a snapshot when it is first read, then kept.

    The tick only takes the snapshot (copies, plain tuples); whoever reads the value first (the
    web server's broadcaster, at most ``serve.fps`` times a second, or the viewer) builds it, and
    a frame replaced before anyone read it costs no more. Two threads that read it at once may both
    build it: they build the same value from the same snapshot.
    """

    __slots__ = ("_build", "_value")

    def __init__(self, build: Callable[[], T]) -> None:
        self._build: Callable[[], T] | None = build
        self._value: T | None = None

    def get(self) -> T:
        """The value (built now if this is the first read)."""
        build = self._build
        if build is not None:
            self._value = build()
            self._build = None  # lets the snapshot go
        return cast("T", self._value)


class FrameParts(NamedTuple):
    """The parts of a :class:`MirrorFrame` built when first read."""

    energy: Lazy[EnergyView]
    tiles: Lazy[list[TileSnapshot]]
    bots: Lazy[list[BotView]]
    shards: Lazy[list[ShardView]]
    gliders: Lazy[list[GliderView]]
    patterns: Lazy[list[PatternView]]


class MirrorFrame(msgspec.Struct, frozen=True, kw_only=True):
    """The state at the end of ``tick``, as the mirror hands it to the web server.

    ``cells`` is the lattice bit-packed row-major, most significant bit first (``np.packbits``).
    ``patterns_version`` changes whenever the pattern list does. ``events`` are those since the
    last frame the server took (newest :data:`MAX_EVENTS`; ``events_omitted`` older ones left
    out). ``tick_ms`` is what the tick's systems took before the mirror. ``energy``, ``tiles``,
    ``bots``, ``shards``, ``gliders`` and ``patterns`` are built from the tick's snapshot when
    first read (:class:`Lazy`): they too show the state at the end of ``tick``.
    """

    tick: int
    run: RunInfo
    population: int
    cells: bytes
    in_flight: int
    patterns_version: int
    events: list[Event]
    events_omitted: int
    counts: Counts
    tick_ms: float
    parts: FrameParts

    @property
    def energy(self) -> EnergyView:
        """The energy field averaged over blocks and quantised (:func:`energy_view`)."""
        return self.parts.energy.get()

    @property
    def tiles(self) -> list[TileSnapshot]:
        """Every mesh cell's stats, row-major."""
        return self.parts.tiles.get()

    @property
    def bots(self) -> list[BotView]:
        """Every bot, row-major."""
        return self.parts.bots.get()

    @property
    def shards(self) -> list[ShardView]:
        """The first :data:`MAX_SHARDS` shards in flight (``in_flight`` counts them all)."""
        return self.parts.shards.get()

    @property
    def gliders(self) -> list[GliderView]:
        """The tracked gliders, by track."""
        return self.parts.gliders.get()

    @property
    def patterns(self) -> list[PatternView]:
        """The detected objects but the tracked gliders, by position (at most MAX_PATTERNS)."""
        return self.parts.patterns.get()


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
