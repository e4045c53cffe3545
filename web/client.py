"""A Python client of the web mirror: decode its messages and rebuild the lattice from frames.

The dashboard does the same in JavaScript (web/static/protocol.js). Scripts, tests and the web
bench use this one::

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + "/ws") as ws:
            view = MirrorView()
            async for msg in ws:
                view.apply(decode(msg.data))
"""

from __future__ import annotations

import zlib

import msgspec
import numpy as np

from game.rle import MAX_CELLS
from web.frames import Ack, Error, Frame, Hello, unpack_cells

Message = Hello | Frame | Ack | Error
_DECODER = msgspec.msgpack.Decoder(Message)


def decode(data: bytes) -> Message:
    """One server message (raises ``msgspec.DecodeError`` for anything else)."""
    try:
        message: Message = _DECODER.decode(data)
    except UnicodeDecodeError as err:
        # msgspec lets a string that is not UTF-8 escape as Python's own error.
        raise msgspec.DecodeError(f"MessagePack data is malformed: {err}") from None
    return message


class MirrorView:
    """The state a client has rebuilt: the lattice, the frame it belongs to, what went wrong.

    ``gaps`` counts frames whose ``seq`` did not follow the last one's (a skip, normal for a
    client that fell behind: the server then sends a keyframe); ``broken`` counts frames that
    could not be applied (never, with a correct server): deltas whose base was missing, and
    frames whose lattice is not a whole zlib stream of the size the hello gives. ``apply``
    never raises on a decoded message; after a broken frame the view waits for a keyframe.
    """

    def __init__(self) -> None:
        self.hello: Hello | None = None
        self.packed: np.ndarray | None = None
        self.seq: int | None = None
        self.tick = -1
        self.frames = 0
        self.keyframes = 0
        self.gaps = 0
        self.broken = 0
        self.backwards = 0
        self.last: Frame | None = None

    def apply(self, message: Message) -> None:
        """Take one message into the view (replies are ignored)."""
        if isinstance(message, Hello):
            self.hello = message
            self.packed, self.seq = None, None  # a new connection: wait for its keyframe
        elif isinstance(message, Frame):
            self._frame(message)

    def _frame(self, frame: Frame) -> None:
        self.frames += 1
        if self.seq is not None and frame.seq != self.seq + 1:
            self.gaps += 1
        if frame.tick < self.tick:
            self.backwards += 1
        data = self._inflate(frame.lattice)
        if data is None:
            self.broken += 1
            self.packed = None
        elif frame.key:
            self.keyframes += 1
            self.packed = data.copy()
        elif self.packed is None or self.seq != frame.seq - 1 or data.size != self.packed.size:
            self.broken += 1
            self.packed = None
        else:
            self.packed ^= data
        self.seq, self.tick, self.last = frame.seq, frame.tick, frame

    def _inflate(self, lattice: bytes) -> np.ndarray | None:
        """The packed cells of a frame, or None if they are not a lattice of the hello's size."""
        # Inflation is capped at the expected size: a small frame could otherwise inflate to
        # gigabytes (a zlib bomb), and a wrong-sized one could not be XORed onto the base.
        size = (MAX_CELLS + 7) // 8
        if self.hello is not None:
            width, height = self.hello.width, self.hello.height
            if not (0 < width and 0 < height and width * height <= MAX_CELLS):
                return None
            size = (width * height + 7) // 8
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(lattice, size + 1)
        except zlib.error:
            return None
        if not inflater.eof or (self.hello is not None and len(raw) != size):
            return None
        return np.frombuffer(raw, np.uint8)

    def cells(self) -> np.ndarray:
        """The rebuilt lattice, uint8 (height, width)."""
        if self.packed is None or self.hello is None:
            raise RuntimeError("no keyframe yet")
        return unpack_cells(self.packed.tobytes(), self.hello.width, self.hello.height)
