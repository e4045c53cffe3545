"""Checks of a run's event log: the schema and shard lifecycle, and replay against state dumps.

Two entry points, both streaming (memory grows with the shards in flight, not with the lines):

* :func:`validate` checks one event log (JSONL, one :mod:`game.engine.events` event per line)
  against the rules of docs/events.md ("Shard lifecycle"): every line decodes, ``kind`` is the
  first key, ticks never decrease, one ``start`` first, at most one ``stop`` last, and every
  shard is spawned once, hops between torus neighbours from where it is, and ends with exactly
  one terminal event whose fields agree with its history.
* :func:`replay_matches` replays an event log against state dumps (one JSON object per tick,
  :class:`StateDump`) and checks that the log reproduces every dumped tick's shard positions.

Both return a :class:`Report`: counts for a summary and the problems found, each tied to a line.
``scripts/validate_event_logs.py`` and ``scripts/check_compression_ratio.py`` are thin CLIs over
them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import msgspec

from game.cells import Cell
from game.engine.events import (
    ALIGHT_REASONS,
    DROP_REASONS,
    TERMINAL_KINDS,
    Alight,
    Board,
    Delivered,
    Dropped,
    Event,
    Expired,
    Handoff,
    Hop,
    Retry,
    Spawn,
    Start,
    Stop,
    decode_event,
)
from game.errors import one_line
from game.topology import torus_distance

ShardEvent = Hop | Retry | Handoff | Board | Alight | Delivered | Expired | Dropped

__all__ = [
    "MAX_KEPT_PROBLEMS",
    "Problem",
    "Report",
    "StateDump",
    "are_neighbours",
    "replay_matches",
    "validate",
]


#: A report keeps at most this many problems (it still counts all of them).
MAX_KEPT_PROBLEMS = 1000

_KIND_FIRST = re.compile(rb'\s*\{\s*"kind"\s*:')


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One violation: the 1-based ``line`` of ``stream`` it was found on, and what is wrong."""

    line: int
    message: str
    stream: str = "events"  # "events" (the event log) or "dumps" (the state dumps)

    def __str__(self) -> str:
        return f"{self.line}: {self.message}"


class Report(msgspec.Struct, kw_only=True):
    """What a check saw (counts for the summary) and the problems it found.

    ``problems`` keeps the first ``MAX_KEPT_PROBLEMS`` problems in the order they were found;
    ``problem_count`` counts all of them. ``dropped`` counts dropped shards by reason (unknown
    reasons included). ``in_flight`` is the number of shards without a terminal event at the end
    of the log. ``dumps`` is the number of state-dump lines compared (:func:`replay_matches`).
    """

    lines: int = 0
    kinds: dict[str, int] = msgspec.field(default_factory=dict)
    spawned: int = 0
    delivered: int = 0
    expired: int = 0
    dropped: dict[str, int] = msgspec.field(default_factory=dict)
    in_flight: int = 0
    latency_total: int = 0
    dumps: int = 0
    problem_count: int = 0
    problems: list[Problem] = msgspec.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.problem_count == 0

    @property
    def dropped_total(self) -> int:
        """Dropped shards, all reasons together."""
        return sum(self.dropped.values())

    @property
    def mean_latency(self) -> float | None:
        """Mean ``latency`` of the delivered shards, or None when none was delivered."""
        return self.latency_total / self.delivered if self.delivered else None

    def add(self, line: int, message: str, stream: str = "events") -> None:
        """Record a problem found on ``line`` of ``stream``."""
        self.problem_count += 1
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(Problem(line=line, message=message, stream=stream))

    def summary(self) -> str:
        """One line: lines, events per kind, shards by outcome."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())) or "none"
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.dropped.items()))
        dropped = f"{self.dropped_total}" + (f" ({reasons})" if reasons else "")
        text = (
            f"{self.lines} lines; events: {kinds}; shards: {self.spawned} spawned, "
            f"{self.delivered} delivered, {self.expired} expired, {dropped} dropped"
        )
        if self.in_flight:
            text += f", {self.in_flight} in flight"
        return text


class StateDump(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One state-dump line, written after tick ``tick``.

    ``shards`` is ``[id, row, col, hops]`` for every shard alive at the end of the tick, sorted
    by id; ``bots`` is ``[row, col, state, inbox_len]`` per bot; ``lattice`` the lattice
    bit-packed row by row (numpy ``packbits``) in base64; ``energy`` each tile's mean energy,
    row-major. Only the shard part is replayed from the event log: the lattice and energy follow
    from the seed (the run is deterministic), which the event log's ``start`` event carries.
    """

    tick: int
    shards: list[tuple[int, int, int, int]]
    bots: list[tuple[int, int, str, int]]
    lattice: str = ""
    energy: list[float] = msgspec.field(default_factory=list)


_DUMP_DECODER = msgspec.json.Decoder(StateDump)


def are_neighbours(a: Cell, b: Cell, rows: int, cols: int) -> bool:
    """Tell whether mesh cells ``a`` and ``b`` share a link on the ``rows`` × ``cols`` torus.

    Links join 4-neighbours, wrapping at the edges; a 1-wide dimension has no links along it, and
    on a 2-wide one both directions reach the same neighbour.
    """
    (r1, c1), (r2, c2) = a, b
    if r1 == r2 and cols > 1:
        return (c2 - c1) % cols in (1, cols - 1)
    if c1 == c2 and rows > 1:
        return (r2 - r1) % rows in (1, rows - 1)
    return False


class _IdSet:
    """A set of ints stored as sorted disjoint ranges: tiny when ids come out 1, 2, 3, …."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []  # inclusive

    def __contains__(self, value: int) -> bool:
        i = bisect_right(self._starts, value) - 1
        return i >= 0 and value <= self._ends[i]

    def add(self, value: int) -> None:
        """Add ``value``, merging it into its neighbouring ranges."""
        if value in self:
            return
        i = bisect_right(self._starts, value)  # ranges [0, i) start at or below value
        joins_left = i > 0 and self._ends[i - 1] == value - 1
        joins_right = i < len(self._starts) and self._starts[i] == value + 1
        if joins_left and joins_right:
            self._ends[i - 1] = self._ends[i]
            del self._starts[i], self._ends[i]
        elif joins_left:
            self._ends[i - 1] = value
        elif joins_right:
            self._starts[i] = value
        else:
            self._starts.insert(i, value)
            self._ends.insert(i, value)


@dataclass(slots=True)
class _Shard:
    """What the validator remembers of a shard in flight."""

    line: int  # its spawn line
    tick: int  # its spawn tick
    at: Cell
    target: Cell | None
    hops: int = 0
    attempts: int = 0  # retries since its last hop
    visited: set[Cell] = field(default_factory=set)  # bots it has been at (loop check)


def _fmt(cell: Cell | None) -> str:
    """A cell as the log writes it: ``[row,col]`` (or ``null``)."""
    return "null" if cell is None else f"[{cell[0]},{cell[1]}]"


class _Validator:
    """The state of :func:`validate` while it streams one log."""

    def __init__(self, allow_in_flight: bool) -> None:
        self.allow_in_flight = allow_in_flight
        self.report = Report()
        self.mesh: tuple[int, int] | None = None  # (rows, cols) from the start event
        self.start_line = 0
        self.stop_line = 0
        self.last_tick: int | None = None
        self.spawned = _IdSet()
        self.alive: dict[int, _Shard] = {}

    def problem(self, line: int, message: str) -> None:
        self.report.add(line, message)

    def feed(self, number: int, raw: bytes) -> None:
        """Check line ``number`` (1-based)."""
        self.report.lines = number
        if not raw.strip():
            self.problem(number, "blank line")
            return
        try:
            event = decode_event(raw)
        except msgspec.MsgspecError as err:
            self.problem(number, f"cannot decode: {one_line(err)}")
            return
        kind = event.kind
        self.report.kinds[kind] = self.report.kinds.get(kind, 0) + 1
        if not _KIND_FIRST.match(raw):
            self.problem(number, f"{kind}: 'kind' is not the first key")
        self.check_order(number, event)
        if isinstance(event, Start):
            self.on_start(number, event)
        elif isinstance(event, Stop):
            self.stop_line = self.stop_line or number
        elif isinstance(event, Spawn):
            self.on_spawn(number, event)
        elif isinstance(event, ShardEvent):
            self.on_shard_event(number, event)

    def check_order(self, number: int, event: Event) -> None:
        """Ticks, the place of ``start`` and ``stop``."""
        kind = event.kind
        if event.tick < 0:
            self.problem(number, f"{kind}: negative tick {event.tick}")
        if self.last_tick is not None and event.tick < self.last_tick:
            self.problem(number, f"{kind}: tick {event.tick} after tick {self.last_tick}")
        self.last_tick = event.tick if self.last_tick is None else max(event.tick, self.last_tick)
        if number == 1 and not isinstance(event, Start):
            self.problem(number, f"the first event is {kind}, not start")
        if self.stop_line:
            what = "a second stop" if isinstance(event, Stop) else f"{kind}"
            self.problem(number, f"{what} after the stop event of line {self.stop_line}")

    def on_start(self, number: int, event: Start) -> None:
        if self.start_line:
            self.problem(number, f"a second start event (the first is on line {self.start_line})")
            return
        self.start_line = number
        if event.tick != 0:
            self.problem(number, f"start: tick {event.tick}, not 0")
        if event.mesh_rows < 1 or event.mesh_cols < 1:
            self.problem(number, f"start: mesh {event.mesh_rows}x{event.mesh_cols} is empty")
            return
        self.mesh = (event.mesh_rows, event.mesh_cols)

    def check_cell(self, number: int, label: str, field: str, cell: Cell) -> bool:
        """Tell whether ``cell`` lies in the mesh (noting a problem when it does not)."""
        if self.mesh is None:
            return True  # no start event: nothing to check against (already a problem)
        rows, cols = self.mesh
        if 0 <= cell[0] < rows and 0 <= cell[1] < cols:
            return True
        self.problem(number, f"{label}: {field} {_fmt(cell)} is outside the {rows}x{cols} mesh")
        return False

    def on_spawn(self, number: int, event: Spawn) -> None:
        shard = event.shard
        if shard in self.spawned:
            self.problem(number, f"spawn: shard {shard} was already spawned")
            return
        self.spawned.add(shard)
        self.report.spawned += 1
        self.check_cell(number, f"spawn: shard {shard}", "src", event.src)
        if event.target is not None:
            self.check_cell(number, f"spawn: shard {shard}", "target", event.target)
        self.alive[shard] = _Shard(line=number, tick=event.tick, at=event.src, target=event.target,
                                   visited={event.src})

    def on_shard_event(self, number: int, event: ShardEvent) -> None:
        kind, shard_id = event.kind, event.shard
        shard = self.alive.get(shard_id)
        if shard is None:
            if shard_id not in self.spawned:
                self.problem(number, f"{kind}: shard {shard_id} was never spawned")
            elif kind in TERMINAL_KINDS:
                self.problem(number, f"{kind}: a second terminal event for shard {shard_id}")
            else:
                self.problem(number, f"{kind}: shard {shard_id} after its terminal event")
            return
        label = f"{kind}: shard {shard_id}"
        if isinstance(event, Hop | Retry):
            self.on_move(number, label, shard, event)
        elif isinstance(event, Handoff):
            self.on_handoff(number, label, shard, event)
        elif isinstance(event, Board | Alight):
            self.check_cell(number, label, "at", event.at)
            if event.at != shard.at:
                self.problem(number, f"{label}: at {_fmt(event.at)}, but the shard is at "
                                     f"{_fmt(shard.at)}")
            if isinstance(event, Alight) and event.reason not in ALIGHT_REASONS:
                self.problem(number, f"{label}: unknown alight reason {event.reason!r} "
                                     f"(expected one of {', '.join(ALIGHT_REASONS)})")
        else:
            self.on_terminal(number, label, shard, event)
            self.count_terminal(event)
            del self.alive[shard_id]

    def count_terminal(self, event: Delivered | Expired | Dropped) -> None:
        report = self.report
        if isinstance(event, Delivered):
            report.delivered += 1
            report.latency_total += event.latency
        elif isinstance(event, Expired):
            report.expired += 1
        elif isinstance(event, Dropped):
            report.dropped[event.reason] = report.dropped.get(event.reason, 0) + 1

    def on_move(self, number: int, label: str, shard: _Shard, event: Hop | Retry) -> None:
        src, dst = event.from_, event.to
        inside = self.check_cell(number, label, "from", src)
        inside = self.check_cell(number, label, "to", dst) and inside
        if src != shard.at:
            self.problem(number, f"{label}: from {_fmt(src)}, but the shard is at {_fmt(shard.at)}")
        if inside and self.mesh is not None and not are_neighbours(src, dst, *self.mesh):
            rows, cols = self.mesh
            self.problem(
                number,
                f"{label}: {_fmt(src)} and {_fmt(dst)} are not neighbours "
                f"on the {rows}x{cols} torus",
            )
        if isinstance(event, Retry):
            shard.attempts += 1
            if event.attempt != shard.attempts:
                self.problem(number, f"{label}: attempt {event.attempt}, expected {shard.attempts}")
                shard.attempts = event.attempt
        else:
            self.arrive(number, label, shard, dst)

    def arrive(self, number: int, label: str, shard: _Shard, dst: Cell) -> None:
        """A hop or handoff reached ``dst``: a routing loop if the shard was there before."""
        if dst in shard.visited and dst != shard.at:  # a hop to itself is reported already
            self.problem(number, f"{label}: revisits {_fmt(dst)} (a routing loop)")
        shard.visited.add(dst)
        shard.at = dst
        shard.hops += 1
        shard.attempts = 0

    def on_handoff(self, number: int, label: str, shard: _Shard, event: Handoff) -> None:
        """A glider carried the shard into another bot's tile, one or two cells away.

        Two when the glider crossed a down bot's tile, or a tile corner.
        """
        src, dst = event.from_, event.to
        inside = self.check_cell(number, label, "from", src)
        inside = self.check_cell(number, label, "to", dst) and inside
        if src != shard.at:
            self.problem(number, f"{label}: from {_fmt(src)}, but the shard is at {_fmt(shard.at)}")
        if inside and self.mesh is not None:
            rows, cols = self.mesh
            d = torus_distance(src, dst, rows, cols)
            if not 1 <= d <= 2:
                self.problem(number, f"{label}: {_fmt(src)} to {_fmt(dst)} is {d} hops on the "
                                     f"{rows}x{cols} torus (a glider crosses one or two)")
        self.arrive(number, label, shard, dst)

    def on_terminal(
        self, number: int, label: str, shard: _Shard, event: Delivered | Expired | Dropped
    ) -> None:
        self.check_cell(number, label, "at", event.at)
        if event.at != shard.at:
            self.problem(number, f"{label}: at {_fmt(event.at)}, but the shard is at "
                                 f"{_fmt(shard.at)}")
        if isinstance(event, Delivered | Expired) and event.hops != shard.hops:
            self.problem(number, f"{label}: hops {event.hops}, but it made {shard.hops} hops")
        if isinstance(event, Delivered):
            latency = event.tick - shard.tick + 1
            if event.latency != latency:
                self.problem(number, f"{label}: latency {event.latency}, expected {latency} "
                                     f"(spawned at tick {shard.tick})")
            if shard.target is not None and event.at != shard.target:
                self.problem(number, f"{label}: delivered at {_fmt(event.at)}, "
                                     f"not at its target {_fmt(shard.target)}")
        if isinstance(event, Dropped) and event.reason not in DROP_REASONS:
            self.problem(number, f"{label}: unknown drop reason {event.reason!r} "
                                 f"(expected one of {', '.join(DROP_REASONS)})")

    def finish(self) -> Report:
        """The end of the log: what must have happened by now."""
        report = self.report
        if not self.start_line:
            self.problem(max(report.lines, 1), "no start event")
        report.in_flight = len(self.alive)
        if not self.allow_in_flight:
            for shard_id, shard in sorted(self.alive.items(), key=lambda item: item[1].line):
                self.problem(shard.line, f"shard {shard_id} (spawned here) has no terminal event")
        return report


def validate(lines: Iterable[bytes], allow_in_flight: bool = False) -> Report:
    """Check an event log, given as its lines (with or without their newlines).

    ``allow_in_flight`` accepts shards without a terminal event at the end (a run cut short).
    Streams ``lines`` once; the problems of the :class:`Report` carry 1-based line numbers.
    """
    checker = _Validator(allow_in_flight)
    for number, raw in enumerate(lines, start=1):
        checker.feed(number, raw)
    return checker.finish()


# -- replay ---------------------------------------------------------------------------------------


class _Replay:
    """Shard positions as the event log has them, advanced tick by tick."""

    def __init__(self, event_lines: Iterable[bytes], report: Report) -> None:
        self.report = report
        self.events = self._decoded(event_lines)
        self.pending: tuple[int, Event] | None = next(self.events, None)
        self.alive: dict[int, tuple[int, int, int]] = {}  # id -> (row, col, hops)
        self.replayed_to: int | None = None  # the last tick applied in full

    def _decoded(self, event_lines: Iterable[bytes]) -> Iterator[tuple[int, Event]]:
        for number, raw in enumerate(event_lines, start=1):
            self.report.lines = number
            if not raw.strip():
                self.report.add(number, "blank line")
                continue
            try:
                event = decode_event(raw)
            except msgspec.MsgspecError as err:
                self.report.add(number, f"cannot decode: {one_line(err)}")
                continue
            kinds = self.report.kinds
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
            yield number, event

    def advance(self, tick: int) -> None:
        """Apply every event up to and including ``tick``."""
        while self.pending is not None and self.pending[1].tick <= tick:
            number, event = self.pending
            if self.replayed_to is not None and event.tick <= self.replayed_to:
                self.report.add(
                    number,
                    f"{event.kind}: tick {event.tick} comes after the dump of tick "
                    f"{self.replayed_to}",
                )
            self.apply(number, event)
            self.pending = next(self.events, None)
        self.replayed_to = tick if self.replayed_to is None else max(tick, self.replayed_to)

    def apply(self, number: int, event: Event) -> None:
        report, alive = self.report, self.alive
        if isinstance(event, Spawn):
            if event.shard in alive:
                report.add(number, f"spawn: shard {event.shard} is already in flight")
            report.spawned += 1
            alive[event.shard] = (event.src[0], event.src[1], 0)
        elif isinstance(event, Hop | Handoff):
            if event.shard not in alive:
                report.add(number, f"{event.kind}: shard {event.shard} is not in flight")
                return
            hops = alive[event.shard][2]
            alive[event.shard] = (event.to[0], event.to[1], hops + 1)
        elif isinstance(event, Delivered | Expired | Dropped):
            if alive.pop(event.shard, None) is None:
                report.add(number, f"{event.kind}: shard {event.shard} is not in flight")
            if isinstance(event, Delivered):
                report.delivered += 1
                report.latency_total += event.latency
            elif isinstance(event, Expired):
                report.expired += 1
            else:
                report.dropped[event.reason] = report.dropped.get(event.reason, 0) + 1

    def snapshot(self) -> list[tuple[int, int, int, int]]:
        """The shards in flight now, as a dump lists them: ``(id, row, col, hops)`` by id."""
        return [(i, r, c, h) for i, (r, c, h) in sorted(self.alive.items())]


def _differences(
    dumped: list[tuple[int, int, int, int]], replayed: list[tuple[int, int, int, int]]
) -> list[str]:
    """How the dump's shards differ from the replay's, one phrase per shard."""
    left = {s[0]: s for s in dumped}
    right = {s[0]: s for s in replayed}
    out: list[str] = []
    for shard in sorted(set(left) | set(right)):
        d, r = left.get(shard), right.get(shard)
        if r is None:
            out.append(f"shard {shard} is in the dump but not in flight in the replay")
        elif d is None:
            out.append(f"shard {shard} is in flight in the replay but not in the dump")
        elif d != r:
            out.append(
                f"shard {shard} is at [{d[1]},{d[2]}] with {d[3]} hops in the dump, "
                f"at [{r[1]},{r[2]}] with {r[3]} hops in the replay"
            )
    return out


def replay_matches(dumps_lines: Iterable[bytes], event_lines: Iterable[bytes]) -> Report:
    """Check that replaying the event log reproduces every state dump's shard list.

    Replay: ``spawn`` puts a shard at ``src`` with 0 hops, ``hop`` moves it to ``to`` and adds 1,
    a terminal event removes it. The events of ticks up to and including a dump's ``tick`` are
    applied, then the shards in flight must equal the dump's ``shards`` (sorted by id). Streams
    both inputs once; problems on the dumps carry ``stream="dumps"``, the others ``"events"``.
    ``lines`` counts the event lines read (the events after the last dumped tick are not read).
    """
    report = Report()
    replay = _Replay(event_lines, report)
    last_tick: int | None = None
    for number, raw in enumerate(dumps_lines, start=1):
        if not raw.strip():
            report.add(number, "blank line", "dumps")
            continue
        try:
            dump = _DUMP_DECODER.decode(raw)
        except msgspec.MsgspecError as err:
            report.add(number, f"cannot decode: {one_line(err)}", "dumps")
            continue
        report.dumps += 1
        if last_tick is not None and dump.tick <= last_tick:
            report.add(number, f"tick {dump.tick} after the dump of tick {last_tick}", "dumps")
        last_tick = dump.tick
        ids = [s[0] for s in dump.shards]
        if ids != sorted(set(ids)):
            report.add(number, f"tick {dump.tick}: shards are not sorted by unique id", "dumps")
        replay.advance(dump.tick)
        diffs = _differences(dump.shards, replay.snapshot())
        if diffs:
            more = f"; and {len(diffs) - 3} more" if len(diffs) > 3 else ""
            report.add(
                number,
                f"tick {dump.tick}: the event log does not reproduce the dump: "
                + "; ".join(diffs[:3]) + more,
                "dumps",
            )
    if report.dumps == 0:
        report.add(1, "no state dump to compare", "dumps")
    report.in_flight = len(replay.alive)
    return report
