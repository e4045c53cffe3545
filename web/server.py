"""The web mirror: aiohttp in its own thread, fed from the simulation by a one-slot mailbox.

The simulation never waits for the server. Each tick the mirror system replaces the newest
frame in a :class:`game.engine.mailbox.Latest`; the broadcaster takes it when ready (at most
``serve.fps`` a second), encodes it once and offers it to every client. Each client has a small
queue and its own writer task: a client that falls behind has its queue emptied and gets the
newest frame as a keyframe, so a slow or stalled reader costs the others nothing. Routes:
``GET /`` (dashboard), ``GET /ws`` (frames and control), ``GET /api/state``, ``GET /healthz``,
``GET /static/...``. The protocol is in docs/web.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from game.config import ServeConfig
from game.engine.frames import MirrorFrame
from game.engine.mailbox import Latest
from game.errors import BadInput
from web.control import MAX_FRAME, Controller, parse
from web.frames import Ack, Encoded, Error, FrameEncoder, Hello, Stats, encode, stamp

STATIC = Path(__file__).resolve().parent / "static"
_JSON = msgspec.json.Encoder()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=_JSON.encode(data), status=status, content_type="application/json")


@dataclass(eq=False)
class Client:
    """One WebSocket client: its frame queue, its replies, and what it has been sent.

    ``stuck``: its queue filled twice without a single frame going out in between (a reader
    that stopped); it is offered nothing until its writer sends again.
    """

    ws: web.WebSocketResponse
    queue: deque[bytes] = field(default_factory=deque)
    replies: deque[bytes] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    last_seq: int | None = None
    sent: int = 0
    skips: int = 0
    sent_at_reset: int = -1
    stuck: bool = False


class MirrorServer:
    """Serves a running simulation (frames, state, control) over HTTP and WebSocket."""

    def __init__(
        self,
        frames: Latest[MirrorFrame],
        controller: Controller,
        hello: Hello,
        config: ServeConfig | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.frames = frames
        self.controller = controller
        self.hello = encode(hello)
        self.config = config or ServeConfig()
        self.host = self.config.host if host is None else host
        self.port = self.config.port if port is None else port
        self.clients: set[Client] = set()
        self.frames_sent = 0
        self.fps = self.config.fps  # the pacer may lower it under load (game.engine.pacing)
        self.pacing: Callable[[], dict[str, Any]] | None = None
        self._encoder = FrameEncoder()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._wake: asyncio.Event | None = None
        self._joined = False
        self._broadcaster: asyncio.Task[None] | None = None
        self._writers: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def set_rate(self, fps: float) -> None:
        """Send at most ``fps`` frames a second from the next frame on (the pacer's knob)."""
        self.fps = max(1.0, fps)

    def app(self) -> web.Application:
        """The aiohttp application with its routes."""
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/api/state", self._state)
        app.router.add_static("/static", STATIC)
        return app

    # -- HTTP --------------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _healthz(self, request: web.Request) -> web.Response:
        frame = self.frames.get()
        return _json({"status": "ok", "tick": frame.tick if frame else 0})

    async def _state(self, request: web.Request) -> web.Response:
        frame = self.frames.get()
        loop = self.controller.loop
        body: dict[str, Any] = {"tick": 0} if frame is None else {
            "tick": frame.tick,
            "population": frame.population,
            "width": frame.run.width,
            "height": frame.run.height,
            "rule": frame.run.rule,
            "tiles": msgspec.to_builtins(frame.tiles),
            "bots": [{"row": b.row, "col": b.col, "state": b.state, "inbox": b.inbox,
                      "adapter": b.adapter} for b in frame.bots],
            "in_flight": frame.in_flight,
            "counts": msgspec.to_builtins(frame.counts),
        }
        if self.pacing is not None:
            body["pacing"] = self.pacing()
        body.update(paused=loop.paused, tick_rate=loop.tick_rate,
                    ticks_per_second=round(loop.ticks_per_second(), 2),
                    dropped_ticks=loop.dropped_ticks, clients=len(self.clients),
                    frames_sent=self.frames_sent)
        return _json(body)

    # -- WebSocket ---------------------------------------------------------------------------------

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None or origin in self.config.origins:
            return True
        return urlsplit(origin).netloc == request.host

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request):
            return _json({"error": f"origin {request.headers.get('Origin')} may not open the "
                                   "WebSocket (serve.origins lists the allowed ones)"}, 403)
        # The writer waits for the socket to drain every send_buffer bytes (aiohttp's default,
        # 256 KiB, let a stalled client take ~4 s of frames before it blocked).
        ws = web.WebSocketResponse(heartbeat=self.config.heartbeat, max_msg_size=MAX_FRAME,
                                   writer_limit=self.config.send_buffer or 2**18)
        await ws.prepare(request)
        self._limit_send_buffer(request)
        client = Client(ws)
        client.replies.append(self.hello)
        client.ready.set()
        self.clients.add(client)
        writer = asyncio.create_task(self._write(client))
        self._writers.add(writer)
        if self._wake is not None:
            self._joined = True  # a keyframe for the newcomer now, even while paused
            self._wake.set()
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._reply(client, self._control(msg.data))
        finally:
            self.clients.discard(client)
            writer.cancel()
            self._writers.discard(writer)
        return ws

    def _limit_send_buffer(self, request: web.Request) -> None:
        """Give the client's socket a small, fixed kernel send buffer (``serve.send_buffer``).

        With the kernel's autotuning a client that stops reading absorbs megabytes of frames
        before its writer blocks (measured: ~100 s of frames on loopback), and all that time
        it costs the server as much as a reading client; small buffers (kernel, transport and
        the WebSocket writer's) fill within a second, after which the client is ``stuck`` and
        offered nothing.
        """
        size = self.config.send_buffer
        if not size or request.transport is None:
            return
        request.transport.set_write_buffer_limits(high=size)
        sock = request.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # not a TCP socket (a test's pipe): no limit
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    def _control(self, data: str | bytes) -> Ack | Error:
        message, ident, error = parse(data, self.config.max_message)
        if message is None:
            return Error(ident, error or "bad message")
        if not self.controller.authorised(message):
            return Error(ident, "unauthorised: control needs the token printed at start "
                                "(serve.token or --token)")
        try:
            self.controller.apply(message)
        except BadInput as err:
            return Error(ident, str(err))
        tag = type(message).__struct_config__.tag
        return Ack(ident, str(tag), self.controller.sim.tick)

    @staticmethod
    def _reply(client: Client, reply: Ack | Error) -> None:
        client.replies.append(encode(reply))
        client.ready.set()

    async def _write(self, client: Client) -> None:
        ws = client.ws
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not ws.closed:
                await client.ready.wait()
                client.ready.clear()
                while client.replies or client.queue:
                    if client.replies:
                        await ws.send_bytes(client.replies.popleft())
                        continue
                    await ws.send_bytes(stamp(client.queue.popleft(), time.time() * 1e3))
                    client.sent += 1
                    client.stuck = False

    # -- broadcasting ------------------------------------------------------------------------------

    def offer(self, client: Client, frame: Encoded) -> None:
        """Queue ``frame`` for ``client``: the delta if it has the frame before, else the key."""
        limit = self.config.client_queue
        if client.last_seq == frame.seq - 1 and len(client.queue) < limit:
            client.queue.append(frame.delta)
        else:
            if len(client.queue) >= limit:
                if client.sent == client.sent_at_reset:  # nothing went out since the last reset
                    client.stuck = True
                    client.skips += 1
                    return
                client.sent_at_reset = client.sent
                client.skips += len(client.queue)
                client.queue.clear()
            client.queue.append(frame.key())
        client.last_seq = frame.seq
        client.ready.set()

    def stats(self, frame: MirrorFrame) -> Stats:
        """The stats block of a frame: the frame's numbers and the loop's."""
        loop, counts = self.controller.loop, frame.counts
        return Stats(population=frame.population, paused=loop.paused, tick_rate=loop.tick_rate,
                     tps=round(loop.ticks_per_second(), 2), tick_ms=frame.tick_ms,
                     in_flight=frame.in_flight, spawned=counts.spawned,
                     delivered=counts.delivered, expired=counts.expired,
                     dropped=counts.dropped, clients=len(self.clients),
                     dropped_ticks=loop.dropped_ticks)

    async def _next_frame(self, quiet_until: float) -> tuple[MirrorFrame | None, bool]:
        """The next frame to send: a new one, or the newest again when the run went quiet.

        Waits for the simulation's next put, a client joining, or ``quiet_until`` (a second
        without any new frame: paused), whichever comes first. The newest frame sent again
        carries no events (its clients had them).
        """
        assert self._wake is not None and self._loop is not None
        wake, loop = self._wake, self._loop
        frame = self.frames.take()
        if frame is not None:
            return frame, True

        def wake_up() -> None:  # called from the simulation's thread
            loop.call_soon_threadsafe(wake.set)

        if self.frames.wait(wake_up):
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # lands as the event is set, and shutdown then waits on a broadcaster that lives on.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, quiet_until - time.monotonic())):
                    await wake.wait()
            wake.clear()
        frame = self.frames.take()
        if frame is not None:
            return frame, True
        if not self._joined and time.monotonic() < quiet_until:
            return None, False
        self._joined = False
        newest = self.frames.get()
        if newest is None:
            return None, False
        return msgspec.structs.replace(newest, events=[], events_omitted=0), False

    async def _broadcast(self) -> None:
        assert self._wake is not None
        every = self.config.keyframe_every
        last_key = last_new = -1e9
        while True:
            if not self.clients:
                await self._wake.wait()  # a client joins
                self._wake.clear()
                continue
            frame, fresh = await self._next_frame(max(last_new, last_key) + every)
            if frame is None:
                continue
            now = time.monotonic()
            if fresh:
                last_new = now
            key = now - last_key >= every
            if key:
                last_key = now
            receivers = [c for c in self.clients if not c.stuck]
            if receivers:  # clients that stopped reading cost no encoding (nor anything else)
                encoded = self._encoder.encode(frame, self.stats(frame), key=key)
                for client in receivers:
                    self.offer(client, encoded)
                self.frames_sent += 1
            await asyncio.sleep(max(0.0, now + 1.0 / self.fps - time.monotonic()))

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Bind and serve in a daemon thread; returns the bound (host, port).

        A busy port or a bad address raises :class:`BadInput` with one line.
        """
        self._thread = threading.Thread(target=self._serve, name="web-mirror", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            err = self._error
            if isinstance(err, OSError) and err.errno == errno.EADDRINUSE:
                raise BadInput(
                    f"port {self.port} on {self.host} is already in use; pass --port N "
                    "(or --port 0 for a free one)"
                )
            raise BadInput(f"cannot serve on {self.host}:{self.port}: {err}")
        return self.host, self.port

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except BaseException as err:  # reported to start() in the caller's thread
            self._error = err
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _bind(self) -> None:
        self._wake = asyncio.Event()
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])  # the real port when asked for port 0
        self._broadcaster = asyncio.create_task(self._broadcast())

    async def _shutdown(self) -> None:
        """Close every client with 1001 (going away), then the server."""
        tasks = list(self._writers) + ([self._broadcaster] if self._broadcaster else [])
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

        async def close(client: Client) -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await client.ws.close(code=WSCloseCode.GOING_AWAY,
                                          message=b"server shutting down")

        await asyncio.gather(*(close(c) for c in list(self.clients)), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Close the clients, stop serving and join the thread."""
        loop = self._loop
        if loop is not None and loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                done.result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
