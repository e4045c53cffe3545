"""Event-log records: one msgspec Struct per kind, one JSON object per line (JSONL).

Every event carries ``tick`` and ``kind``; the schema is in docs/events.md. Systems append events
to :class:`EventBus` during a tick; the log system writes them at the end of the tick in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from game.cells import Cell


class Event(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True):
    """Base of all events: the tick it happened on (0 = the initial state)."""

    tick: int

    @property
    def kind(self) -> str:
        """The event's kind, as written in its ``kind`` field."""
        tag = self.__struct_config__.tag
        return str(tag)


class Start(Event, tag="start", frozen=True):
    """A run began: what it runs on. Deterministic fields only (no wall clock, no backend).

    ``config`` is the run's whole configuration but for what changes only pacing or where it
    runs (``tick_rate``, ``loop``, ``serve``, ``lattice.backend``): with the ``input`` events,
    what ``cybermesh replay`` needs to run it again.
    """

    seed: int
    rule: str
    width: int
    height: int
    mesh_rows: int
    mesh_cols: int
    tile: int
    population: int
    config: dict[str, Any] | None = None


class Reseed(Event, tag="reseed", frozen=True):
    """The lattice was replaced by a fresh random soup drawn with ``seed``."""

    seed: int
    density: float
    population: int


class Stamp(Event, tag="stamp", frozen=True):
    """A pattern was OR-ed into the lattice with its top-left cell at (x, y)."""

    pattern: str
    x: int
    y: int
    cells: int


class Population(Event, tag="population", frozen=True):
    """Periodic census of live cells (``log.population_every``)."""

    population: int


class Stop(Event, tag="stop", frozen=True):
    """The run ended after ``tick`` ticks."""

    population: int


class TrackBorn(Event, tag="track_born", frozen=True):
    """A glider appeared (emitted by a reaction, stamped, or first seen): a new track."""

    track: int
    x: float
    y: float
    direction: str
    cell: tuple[int, int]


class TrackCrossed(Event, tag="track_crossed", frozen=True):
    """A tracked glider's centroid moved from one mesh cell's tile into another's."""

    track: int
    x: float
    y: float
    src: tuple[int, int]
    dst: tuple[int, int]


class TrackLost(Event, tag="track_lost", frozen=True):
    """A tracked glider stopped being a lone glider: ``collision`` or ``death``."""

    track: int
    x: float
    y: float
    reason: str


class Spawn(Event, tag="spawn", frozen=True):
    """A shard was created at bot ``src``; ``target`` is a bot, or null for the semantic router."""

    shard: int
    src: Cell
    target: Cell | None
    payload: str
    text: str


class Hop(Event, tag="hop", frozen=True):
    """A shard crossed the link ``from`` → ``to`` and was acknowledged."""

    shard: int
    from_: Cell = msgspec.field(name="from")
    to: Cell


class Retry(Event, tag="retry", frozen=True):
    """A transmission ``from`` → ``to`` was lost (no acknowledgement); the sender will resend."""

    shard: int
    from_: Cell = msgspec.field(name="from")
    to: Cell
    attempt: int


class Delivered(Event, tag="delivered", frozen=True):
    """Terminal: the shard reached its target ``at`` after ``hops`` hops, ``latency`` ticks."""

    shard: int
    at: Cell
    hops: int
    latency: int


class Expired(Event, tag="expired", frozen=True):
    """Terminal: the shard used its ttl (max hops) at ``at`` without reaching its target."""

    shard: int
    at: Cell
    hops: int


class Board(Event, tag="board", frozen=True):
    """A shard boarded a glider stamped in bot ``at``'s tile.

    The glider is track ``track`` heading ``direction``, centroid ``(x, y)`` in lattice cells.
    """

    shard: int
    at: Cell
    track: int
    direction: str
    x: float
    y: float


class Handoff(Event, tag="handoff", frozen=True):
    """A riding shard's glider entered bot ``to``'s tile and ``to`` took the shard (a hop)."""

    shard: int
    from_: Cell = msgspec.field(name="from")
    to: Cell
    track: int


ALIGHT_REASONS: tuple[str, ...] = ("aligned", "track_lost", "no_track", "no_room")


class Alight(Event, tag="alight", frozen=True):
    """A shard left glider transport at bot ``at`` and goes on by link.

    ``reason`` is one of ALIGHT_REASONS; ``track`` is 0 when no glider was ever tracked.
    """

    shard: int
    at: Cell
    track: int
    reason: str


DROP_REASONS: tuple[str, ...] = (
    "inbox_full", "link_lost", "no_route", "stalled", "src_down", "target_down", "duplicate",
)


class Dropped(Event, tag="dropped", frozen=True):
    """Terminal: the shard was dropped ``at`` a bot; ``reason`` is one of DROP_REASONS."""

    shard: int
    at: Cell
    reason: str


class Pulse(Event, tag="pulse", frozen=True):
    """Bot ``bot`` pulsed its tile with ``adapter`` (or the ``random`` control): ``cells`` set."""

    bot: Cell
    adapter: str
    cells: int


class WaveStart(Event, tag="wave_start", frozen=True):
    """LoRA wave ``wave`` of adapter ``adapter`` (content hash ``digest``) starts at ``bot``."""

    wave: int
    bot: Cell
    adapter: str
    digest: str


class Adopt(Event, tag="adopt", frozen=True):
    """The wave's front reached ``bot`` (from ``src``; None at its start): the adapter is active.

    ``loaded`` says whether the bot's process had to add the adapter from the shard's weights.
    """

    wave: int
    bot: Cell
    src: Cell | None
    adapter: str
    loaded: bool


class Input(Event, tag="input", frozen=True):
    """A user's command (keyboard, web mirror, script), applied at the start of ``tick``.

    ``command`` is ``stamp`` (``pattern``, its cells as ``rle``, at ``x, y``), ``reseed``
    (``seed``, null: drawn from the run's rng), ``spawn`` (``text`` from ``src`` to ``target``,
    ``payload``), ``pulse`` (``bot``, null: every bot with an adapter), ``wave`` (``bot``,
    ``adapter``) or ``select`` (``bot``, ``adapter``). Traffic the run spawns itself is not input.
    """

    command: str
    pattern: str | None = None
    rle: str | None = None
    x: int | None = None
    y: int | None = None
    seed: int | None = None
    text: str | None = None
    src: Cell | None = None
    target: Cell | None = None
    payload: str | None = None
    bot: Cell | None = None
    adapter: str | None = None


class Select(Event, tag="select", frozen=True):
    """The user made ``adapter`` the active one of ``bot`` (None: no adapter, no pulses)."""

    bot: Cell
    adapter: str | None


AnyEvent = (
    Start | Reseed | Stamp | Population | Stop | TrackBorn | TrackCrossed | TrackLost
    | Spawn | Hop | Retry | Delivered | Expired | Dropped | Board | Handoff | Alight
    | Pulse | WaveStart | Adopt | Select | Input
)
EVENT_TYPES: tuple[type[Event], ...] = (
    Start, Reseed, Stamp, Population, Stop, TrackBorn, TrackCrossed, TrackLost,
    Spawn, Hop, Retry, Delivered, Expired, Dropped, Board, Handoff, Alight,
    Pulse, WaveStart, Adopt, Select, Input,
)
TERMINAL_KINDS: tuple[str, ...] = ("delivered", "expired", "dropped")


class EventBus:
    """Events of the current tick, and a short history for the mirror's event feed."""

    def __init__(self, recent: int = 64) -> None:
        self.pending: list[Event] = []
        self.recent: deque[Event] = deque(maxlen=recent)
        self.listeners: list[Callable[[list[Event]], None]] = []

    def emit(self, event: Event) -> None:
        """Queue ``event`` for the log system at the end of this tick."""
        self.pending.append(event)

    def drain(self) -> list[Event]:
        """Hand over this tick's events, show them to the listeners, remember them as recent."""
        out, self.pending = self.pending, []
        self.recent.extend(out)
        for listener in self.listeners:
            listener(out)
        return out


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """One JSONL line (without the newline)."""
    return _ENCODER.encode(event)


def encode_events(events: Iterable[Event]) -> bytes:
    """JSONL lines, each ending in a newline: what :func:`encode_event` gives, line by line."""
    return _ENCODER.encode_lines(events)


def decode_event(line: bytes | str) -> Event:
    """Parse and validate one JSONL line; raises msgspec errors on a bad line."""
    event: Event = _DECODER.decode(line)
    return event
