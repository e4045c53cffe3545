"""The web mirror's HTTP side: aiohttp in its own thread, fed from the simulation by mailbox.

The simulation never waits for the server: each tick the mirror system replaces the newest
snapshot in a :class:`game.mailbox.Latest`; request handlers read whatever is newest.
Routes so far: ``GET /healthz`` and ``GET /api/state`` (the dashboard and ``/ws`` frames build on
them).
"""

from __future__ import annotations

import asyncio
import errno
import threading
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from game.errors import BadInput
from game.mailbox import Latest
from systems.mirror import StateSnapshot

_JSON = msgspec.json.Encoder()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=_JSON.encode(data), status=status, content_type="application/json")


class MirrorServer:
    """Serves snapshots of a running simulation over HTTP from a background thread."""

    def __init__(
        self,
        snapshots: Latest[StateSnapshot],
        loop_state: Callable[[], dict[str, Any]],
        host: str = "127.0.0.1",
        port: int = 8765,
    ) -> None:
        self.snapshots = snapshots
        self.loop_state = loop_state
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def app(self) -> web.Application:
        """The aiohttp application with its routes."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/api/state", self._state)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        snap = self.snapshots.get()
        return _json({"status": "ok", "tick": snap.tick if snap else 0})

    async def _state(self, request: web.Request) -> web.Response:
        snap = self.snapshots.get()
        body: dict[str, Any] = msgspec.to_builtins(snap) if snap is not None else {"tick": 0}
        body.update(self.loop_state())
        return _json(body)

    # -- lifecycle -------------------------------------------------------------------------------

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
        loop.run_until_complete(self._cleanup())
        loop.close()

    async def _bind(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])  # the real port when asked for port 0

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
