"""The WebSocket's messages (msgpack, see docs/web.md) and the encoder of frames.

The encoder turns the mirror's :class:`game.engine.frames.MirrorFrame` into wire frames: the lattice
as the zlib-compressed XOR of its bit-packed cells with the previous frame's (a delta), or the
cells themselves (a keyframe). It encodes each frame once for every client; a keyframe is built
only when someone needs it.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, cast

import msgspec
import numpy as np

from components.bot import STATE_COLOURS
from game.engine.events import AnyEvent
from game.engine.frames import BotView, GliderView, MirrorFrame, PatternView, RunInfo, ShardView
from game.engine.world import Sim, run_info

PROTOCOL: Final = 1


class Hello(RunInfo, tag="hello", tag_field="type", kw_only=True, frozen=True):
    """Sent once on connect: what the run is and how to draw it."""

    version: int = PROTOCOL
    states: dict[str, tuple[int, int, int]]
    adapters: list[str]
    max_message: int


class EnergyWire(msgspec.Struct):
    """The averaged energy field: ``data`` a zlib stream of ``w·h`` bytes (b/255·max)."""

    w: int
    h: int
    max: float
    data: bytes


class Stats(msgspec.Struct, kw_only=True):
    """Numbers for the dashboard's panel and charts."""

    population: int
    paused: bool
    tick_rate: float
    tps: float
    tick_ms: float
    in_flight: int
    spawned: int
    delivered: int
    expired: int
    dropped: int
    clients: int
    dropped_ticks: int


class Frame(msgspec.Struct, tag="frame", tag_field="type", kw_only=True):
    """The state at the end of ``tick`` (see docs/web.md for each field)."""

    seq: int
    tick: int
    sent_at: float
    key: bool
    lattice: bytes
    energy: EnergyWire
    bots: list[BotView]
    shards: list[ShardView]
    gliders: list[GliderView]
    patterns: list[PatternView] | None
    events: list[AnyEvent]
    events_omitted: int
    stats: Stats


class Ack(msgspec.Struct, tag="ack", tag_field="type"):
    """A control message was accepted; it takes effect at the start of the next tick."""

    id: int | None
    op: str
    tick: int


class Error(msgspec.Struct, tag="error", tag_field="type"):
    """A control message was refused; nothing changed."""

    id: int | None
    error: str


_ENCODER = msgspec.msgpack.Encoder()


def encode(message: Hello | Frame | Ack | Error) -> bytes:
    """One WebSocket message."""
    return _ENCODER.encode(message)


def hello_for(sim: Sim, adapters: list[str], max_message: int) -> Hello:
    """The hello message of ``sim``'s run."""
    return Hello(**msgspec.structs.asdict(run_info(sim)),
                 states={str(k): v for k, v in STATE_COLOURS.items()}, adapters=adapters,
                 max_message=max_message)


@dataclass
class Encoded:
    """One frame, encoded once for every client: the delta now, the keyframe on demand."""

    seq: int
    tick: int
    delta: bytes
    _key: Callable[[], bytes] = field(repr=False)
    _key_bytes: bytes | None = field(default=None, repr=False)

    def key(self) -> bytes:
        """The keyframe of the same state (built at the first call)."""
        if self._key_bytes is None:
            self._key_bytes = self._key()
        return self._key_bytes


class FrameEncoder:
    """Encodes successive frames, each as a delta against the one before (``seq`` − 1).

    ``level`` is zlib's: a busy lattice barely compresses, and on a 1024² one level 1 takes
    ~4 ms a frame where 6 takes ~30 ms, for 3 % more bytes.
    """

    def __init__(self, level: int = 1) -> None:
        self.level = level
        self.seq = 0
        self._cells: np.ndarray | None = None
        self._patterns_version = -1

    def encode(self, frame: MirrorFrame, stats: Stats, key: bool = False) -> Encoded:
        """Frame ``seq + 1``; ``key`` makes its delta a keyframe too (the periodic keyframe)."""
        self.seq += 1
        cells = np.frombuffer(frame.cells, np.uint8)
        prev = self._cells
        key = key or prev is None or prev.shape != cells.shape
        patterns_changed = frame.patterns_version != self._patterns_version
        self._cells, self._patterns_version = cells, frame.patterns_version
        energy = EnergyWire(frame.energy.w, frame.energy.h, frame.energy.max,
                            zlib.compress(frame.energy.data, self.level))
        seq, sent_at = self.seq, time.time() * 1e3

        def message(is_key: bool, lattice: bytes, patterns: list[PatternView] | None) -> bytes:
            return encode(Frame(seq=seq, tick=frame.tick, sent_at=sent_at, key=is_key,
                                lattice=zlib.compress(lattice, self.level), energy=energy,
                                bots=frame.bots, shards=frame.shards, gliders=frame.gliders,
                                patterns=patterns, events=cast("list[AnyEvent]", frame.events),
                                events_omitted=frame.events_omitted, stats=stats))

        def keyframe() -> bytes:
            return message(True, frame.cells, frame.patterns)

        if key or prev is None:
            data = keyframe()
            return Encoded(seq, frame.tick, data, keyframe, data)
        delta = message(False, np.bitwise_xor(cells, prev).tobytes(),
                        frame.patterns if patterns_changed else None)
        return Encoded(seq, frame.tick, delta, keyframe)


_SENT_AT = b"\xa7sent_at\xcb"  # the key, then a msgpack float64's marker


def stamp(frame: bytes, now_ms: float) -> bytes:
    """``frame`` (an encoded :class:`Frame`) with ``sent_at`` set to ``now_ms``.

    A frame is encoded once for every client but sent to each at its own moment: its writer
    stamps it just before the send, so receive − ``sent_at`` is the socket's latency, not the
    time a frame waited in a queue behind a slow client.
    """
    at = frame.find(_SENT_AT)
    if at < 0:
        raise ValueError("not an encoded frame")
    at += len(_SENT_AT)
    return frame[:at] + struct.pack(">d", now_ms) + frame[at + 8:]


def unpack_cells(data: bytes, width: int, height: int) -> np.ndarray:
    """The lattice of a keyframe's (inflated) ``lattice``: uint8 (height, width)."""
    bits = np.unpackbits(np.frombuffer(data, np.uint8), count=width * height)
    return bits.reshape(height, width)
