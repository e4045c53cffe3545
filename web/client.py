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

from web.frames import Ack, Error, Frame, Hello, unpack_cells

Message = Hello | Frame | Ack | Error
_DECODER = msgspec.msgpack.Decoder(Message)


def decode(data: bytes) -> Message:
    """One server message (raises ``msgspec.DecodeError`` for anything else)."""
    message: Message = _DECODER.decode(data)
    return message


class MirrorView:
    """The state a client has rebuilt: the lattice, the frame it belongs to, what went wrong.

    ``gaps`` counts frames whose ``seq`` did not follow the last one's (a skip, normal for a
    client that fell behind: the server then sends a keyframe); ``broken`` counts deltas that
    could not be applied because their base was missing (never, with a correct server).
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
        data = np.frombuffer(zlib.decompress(frame.lattice), np.uint8)
        if frame.key:
            self.keyframes += 1
            self.packed = data.copy()
        elif self.packed is None or self.seq != frame.seq - 1:
            self.broken += 1
            self.packed = None
        else:
            self.packed ^= data
        self.seq, self.tick, self.last = frame.seq, frame.tick, frame

    def cells(self) -> np.ndarray:
        """The rebuilt lattice, uint8 (height, width)."""
        if self.packed is None or self.hello is None:
            raise RuntimeError("no keyframe yet")
        return unpack_cells(self.packed.tobytes(), self.hello.width, self.hello.height)
