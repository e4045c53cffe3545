"""The web mirror's protocol: frames rebuild the true lattice, control, bad input, slow clients."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import aiohttp
import esper
import msgspec
import numpy as np
import pytest

from components.shard import Shard
from game.app.serve import LiveRun
from game.bench.web import stalled_client
from tests.helpers import read_events
from tests.webrun import TOKEN, get_json, reference_lattice, serving, wait_for, web_config
from web.client import MirrorView, decode
from web.frames import Ack, Error, Frame, Hello

T = TypeVar("T")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


class Conn:
    """A test client: every message it reads goes through a :class:`MirrorView`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.view = MirrorView()
        self.replies: list[Ack | Error] = []
        self.frames: list[Frame] = []
        self.sizes: list[int] = []
        self.ids = 0
        self.url = ""

    async def read(self, timeout: float = 5.0) -> Any:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            return msg
        message = decode(msg.data)
        self.view.apply(message)
        if isinstance(message, Frame):
            self.frames.append(message)
            self.sizes.append(len(msg.data))
        elif isinstance(message, Ack | Error):
            self.replies.append(message)
        return message

    async def until(self, condition: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("condition not met in time")
            await self.read(left)

    async def send(self, op: str, token: str | None = TOKEN, **fields: Any) -> Ack | Error:
        self.ids += 1
        ident = self.ids
        message = {"op": op, "id": ident, **fields}
        if token is not None:
            message["token"] = token
        await self.ws.send_str(json.dumps(message))
        return await self.reply(ident)

    async def reply(self, ident: int | None) -> Ack | Error:
        await self.until(lambda: any(r.id == ident for r in self.replies))
        return next(r for r in self.replies if r.id == ident)


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


def client_test(config: Any, scenario: Callable[[LiveRun, Conn, aiohttp.ClientSession],
                                                Awaitable[T]], events: str | None = None) -> T:
    """Run ``scenario`` with a live run of ``config`` and one connected client."""
    with serving(config, events) as run:
        assert run.url is not None
        url = run.url

        async def main() -> T:
            async with aiohttp.ClientSession() as session:
                conn = await connect(session, url)
                conn.url = url
                return await scenario(run, conn, session)

        return run_async(main())  # type: ignore[no-any-return]


async def pause_and_catch_up(conn: Conn, run: Any, frames: int) -> int:
    """After ``frames`` frames, pause the run and read until the view shows its last tick."""
    await conn.until(lambda: conn.view.frames >= frames)
    assert isinstance(await conn.send("pause"), Ack)
    wait_for(lambda: run.loop.paused, what="pause")
    await conn.until(lambda: conn.view.tick == run.sim.tick)
    return int(conn.view.tick)


async def connect(session: aiohttp.ClientSession, url: str, **kw: Any) -> Conn:
    conn = Conn(await session.ws_connect(url + "/ws", **kw))
    first = await conn.read()
    assert isinstance(first, Hello)
    return conn


@pytest.mark.integration
def test_frames_rebuild_the_lattice_the_backend_has_at_their_tick() -> None:
    config = web_config(seed=3, tick_rate=60.0)

    async def scenario(run: LiveRun, conn: Conn, session: aiohttp.ClientSession) -> None:
        tick = await pause_and_catch_up(conn, run, 40)
        assert np.array_equal(conn.view.cells(), reference_lattice(config, tick))
        assert isinstance(await conn.send("step", n=3), Ack)
        await conn.until(lambda: conn.view.tick == tick + 3)
        assert np.array_equal(conn.view.cells(), reference_lattice(config, tick + 3))
        view = conn.view
        assert view.gaps == 0 and view.broken == 0 and view.backwards == 0
        assert view.keyframes >= 1 and view.frames > view.keyframes
        seqs = [f.seq for f in conn.frames]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))

    client_test(config, scenario)


@pytest.mark.integration
def test_frames_carry_bots_shards_energy_and_the_events_of_their_ticks(tmp_path: Path) -> None:
    config = web_config(seed=1, tick_rate=30.0, traffic__rate=1.0)
    events = tmp_path / "events.jsonl"

    async def scenario(run: LiveRun, conn: Conn, session: aiohttp.ClientSession) -> list[Frame]:
        await conn.until(lambda: conn.view.tick >= 30)
        reply = await conn.send("reseed", seed=11)
        assert isinstance(reply, Ack) and reply.op == "reseed"
        await conn.until(lambda: any(e.kind == "reseed" for f in conn.frames
                                     for e in f.events))
        await conn.until(lambda: conn.view.frames >= 60)
        return conn.frames

    frames = client_test(config, scenario, str(events))
    last = frames[-1]
    assert [(b.row, b.col) for b in last.bots] == [(r, c) for r in range(5) for c in range(5)]
    assert last.energy.w == 40 and last.energy.h == 40 and last.energy.max > 0
    assert any(f.shards for f in frames) and last.stats.spawned > 0
    assert max(len(f.events) for f in frames) <= 100
    # Every event a frame carried is in the event log, at the same tick (event correlation).
    logged = set(events.read_text().splitlines())
    shown = [e for f in frames for e in f.events]
    assert shown and all(msgspec.json.encode(e).decode() in logged for e in shown)
    reseed = next(e for e in shown if e.kind == "reseed")
    frame = next(f for f in frames if reseed in f.events)
    assert frame.tick >= reseed.tick


@pytest.mark.integration
def test_control_needs_the_token_and_bad_messages_change_nothing() -> None:
    config = web_config(seed=2, tick_rate=30.0, serve__max_message=512)

    async def scenario(run: LiveRun, conn: Conn, session: aiohttp.ClientSession) -> None:
        assert isinstance(await conn.send("pause"), Ack)
        wait_for(lambda: run.loop.paused, what="pause")
        time.sleep(0.1)
        tick = run.sim.tick
        refusals = [
            await conn.send("resume", token=None),
            await conn.send("resume", token="wrong"),
            await conn.send("step", n=0),
            await conn.send("step", n="two"),
            await conn.send("rate", value=-3),
            await conn.send("warp"),
            await conn.send("pause", colour="red"),
            await conn.send("inject", text="hello", src=[0, 0]),  # no tier 2 here
            await conn.send("pulse", bot=[1, 1]),  # no tier 3 here
        ]
        # Over serve.max_message: refused unread, so the reply cannot echo its id.
        await conn.ws.send_str(json.dumps({"op": "reseed", "token": TOKEN, "id": 99,
                                           "pad": "x" * 600}))
        refusals.append(await conn.reply(None))
        assert all(isinstance(r, Error) for r in refusals), refusals
        errors = [r.error for r in refusals if isinstance(r, Error)]
        assert errors[0].startswith("unauthorised") and errors[1].startswith("unauth")
        assert "message too large" in errors[-1]
        assert all("\n" not in e for e in errors)
        garbage: list[str | bytes] = ["garbage", "[1, 2]", '{"id": 7}', "", "{" * 40,
                                      b"\xc1\xff\x00"]  # the last: not msgpack
        for raw in garbage:
            before = len(conn.replies)
            if isinstance(raw, str):
                await conn.ws.send_str(raw)
            else:
                await conn.ws.send_bytes(raw)
            await conn.until(lambda: len(conn.replies) > before)  # noqa: B023
            assert isinstance(conn.replies[-1], Error)
        time.sleep(0.2)
        assert run.loop.paused and run.sim.tick == tick  # nothing changed
        # The same socket still works: a well-formed, authorised message is obeyed.
        ack = await conn.send("rate", value=45)
        assert isinstance(ack, Ack)
        assert isinstance(await conn.send("resume"), Ack)
        wait_for(lambda: run.sim.tick > tick + 2, what="resume")
        assert run.loop.tick_rate == 45
        # A message over 64 KiB closes that socket (1009); the server stays up.
        await conn.ws.send_str("x" * 70000)
        while not conn.ws.closed:
            await conn.ws.receive(timeout=5)
        assert conn.ws.close_code == 1009
        assert get_json(conn.url + "/healthz")["status"] == "ok"
        again = await connect(session, conn.url)
        await again.until(lambda: again.view.keyframes >= 1)

    client_test(config, scenario)


@pytest.mark.integration
def test_origin_check_refuses_other_sites() -> None:
    with serving(web_config(serve__origins=["http://trusted.example"])) as run:
        assert run.url is not None
        url = run.url
        host = url.removeprefix("http://")

        async def scenario() -> None:
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await session.ws_connect(url + "/ws", origin="http://evil.example")
                assert err.value.status == 403
                for origin in (f"http://{host}", "http://trusted.example"):
                    conn = await connect(session, url, origin=origin)
                    await conn.ws.close()

        run_async(scenario())


@pytest.mark.integration
def test_a_stalled_client_is_skipped_and_dropped_while_others_get_every_frame() -> None:
    config = web_config(seed=4, tick_rate=60.0, serve__heartbeat=1.0, serve__fps=60.0)
    with serving(config) as run:
        assert run.url is not None and run.server is not None
        url, server = run.url, run.server
        port = int(url.rsplit(":", 1)[1])
        stalled = stalled_client(url)
        half_open = socket.create_connection(("127.0.0.1", port))
        half_open.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest

        async def scenario() -> None:
            async with aiohttp.ClientSession() as session:
                conn = await connect(session, url)
                wait_for(lambda: len(server.clients) == 2, what="both clients")
                start = run.sim.tick
                await conn.until(lambda: conn.view.frames >= 120, timeout=30)
                assert conn.view.gaps == 0 and conn.view.broken == 0
                assert run.sim.tick - start >= 100
                limit = config.serve.client_queue
                assert all(len(c.queue) <= limit for c in server.clients)
                # The stalled one never answers a ping: the heartbeat drops it.
                wait_for(lambda: len(server.clients) == 1, timeout=10, what="heartbeat drop")
                assert get_json(url + "/api/state")["clients"] == 1
                await conn.until(lambda: conn.view.frames >= 150)
                assert conn.view.gaps == 0

        try:
            run_async(scenario())
        finally:
            stalled.close()
            half_open.close()
        assert get_json(url + "/healthz")["status"] == "ok"


@pytest.mark.integration
def test_pulse_and_wave_over_the_socket() -> None:
    config = web_config(seed=5, tick_rate=30.0, pulse__enabled=True)

    async def scenario(run: LiveRun, conn: Conn, session: aiohttp.ClientSession) -> None:
        hello = conn.view.hello
        assert hello is not None and "rule_persist" in hello.adapters
        ack = await conn.send("wave", bot=[2, 2], adapter="rule_persist")
        assert isinstance(ack, Ack)
        bad = await conn.send("wave", bot=[2, 2], adapter="nope")
        assert isinstance(bad, Error) and "nope" in bad.error
        outside = await conn.send("pulse", bot=[7, 0])
        assert isinstance(outside, Error) and "outside" in outside.error
        await conn.until(lambda: conn.frames[-1:] != [] and all(
            b.adapter == "rule_persist" for b in conn.frames[-1].bots), timeout=20)
        assert isinstance(await conn.send("pulse", bot=[0, 0]), Ack)
        await conn.until(lambda: any(e.kind == "pulse" for f in conn.frames
                                     for e in f.events))

    client_test(config, scenario)


@pytest.mark.integration
def test_serve_sigterm_sends_close_frames_and_flushes_the_log(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "game.app.cli", "serve", "--port", "0",
                             "--backend", "numpy", "--events", str(events)],
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stderr is not None
        url = proc.stderr.readline().split()[-1]
        token = proc.stderr.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:") and token

        async def scenario() -> int | None:
            async with aiohttp.ClientSession() as session:
                conn = await connect(session, url)
                assert isinstance(await conn.send("rate", token=token, value=20), Ack)
                await conn.until(lambda: conn.view.frames >= 5)
                proc.send_signal(signal.SIGTERM)
                while not conn.ws.closed:
                    await conn.ws.receive(timeout=10)
                return conn.ws.close_code

        assert run_async(scenario()) == 1001
        assert proc.wait(timeout=10) == 0
        assert read_events(events)[-1].kind == "stop"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.unit
def test_a_client_that_falls_behind_skips_to_a_keyframe_and_still_decodes() -> None:
    from game.app.build import build_sim
    from game.engine.loop import FixedStepLoop
    from web.control import Controller
    from web.frames import FrameEncoder, hello_for
    from web.server import Client, MirrorServer

    config = web_config(seed=6, serve__client_queue=4)
    sim = build_sim(config, mirror=True)
    try:
        loop = FixedStepLoop(sim.step, 30.0)
        controller = Controller(sim, loop, TOKEN)
        hello = hello_for(sim, [], 4096)
        server = MirrorServer(sim.frames, controller, hello, config.serve)
        client = Client(ws=cast(Any, None))  # offer() only queues: the socket is untouched
        encoder = FrameEncoder()
        truth = {}
        for _ in range(6):
            sim.step()
            frame = sim.frames.take()
            assert frame is not None
            encoded = encoder.encode(frame, server.stats(frame))
            truth[encoded.seq] = sim.substrate.alive.copy()
            server.offer(client, encoded)
            if encoded.seq == 4:
                assert len(client.queue) == 4 and client.skips == 0  # key, then 3 deltas
        assert client.skips == 4 and len(client.queue) == 2  # 1-4 dropped; key 5, delta 6
        view = MirrorView()
        view.apply(hello)
        for data in client.queue:
            view.apply(decode(data))
        assert view.keyframes == 1 and view.broken == 0 and view.seq == 6
        assert np.array_equal(view.cells(), truth[6])
    finally:
        sim.close()


@pytest.mark.unit
def test_frames_replaced_before_the_server_took_them_pass_their_events_on() -> None:
    from game.app.build import build_sim

    sim = build_sim(web_config(seed=2), mirror=True)
    try:
        sim.step()
        first = sim.frames.take()
        assert first is not None and [e.kind for e in first.events] == ["start"]
        from game.engine.commands import Reseed

        sim.post(Reseed(5))
        sim.step(3)  # three frames put, none taken: the reseed must not be lost
        frame = sim.frames.take()
        assert frame is not None and frame.tick == 4
        assert [e.kind for e in frame.events] == ["input", "reseed"]
        assert sim.frames.take() is None
        sim.step()
        after = sim.frames.take()
        assert after is not None and after.events == []
    finally:
        sim.close()


@pytest.mark.integration
def test_a_paused_run_still_sends_a_keyframe_a_second_and_one_to_each_newcomer() -> None:
    """Paused, keyframes keep their period (``serve.keyframe_every``, a timer: judged against
    it on the server's own send stamps, not the test's clock); a newcomer gets its keyframe on
    joining, before the next periodic one (by sequence number, not by a time limit)."""
    config = web_config(seed=3, tick_rate=30.0)
    every = config.serve.keyframe_every

    def keys(frames: list[Frame]) -> list[Frame]:
        return [f for f in frames if f.key]

    async def scenario(run: LiveRun, conn: Conn, session: aiohttp.ClientSession) -> None:
        tick = await pause_and_catch_up(conn, run, 5)
        seen = len(conn.frames)
        await conn.until(lambda: len(keys(conn.frames[seen:])) == 1)  # join just after one
        newcomer = await connect(session, conn.url)
        await newcomer.until(lambda: newcomer.view.keyframes == 1)
        joined = newcomer.frames[0]
        assert joined.key and joined.tick == tick
        assert np.array_equal(newcomer.view.cells(), conn.view.cells())
        await conn.until(lambda: len(keys(conn.frames[seen:])) == 4)
        quiet = conn.frames[seen:]
        assert {f.tick for f in quiet} == {tick} and all(not f.events for f in quiet)
        periodic = keys(quiet)
        assert joined.seq < periodic[1].seq  # on joining, not on the period
        spacing = np.diff([f.sent_at for f in periodic]) / 1e3
        assert all(0.5 * every <= s <= 2 * every for s in spacing), spacing
        assert conn.view.gaps == 0 and conn.view.broken == 0

    client_test(config, scenario)


@pytest.mark.unit
def test_block_means_add_in_reduceats_order_bit_for_bit() -> None:
    from systems.mirror import block_means

    rng = np.random.default_rng(4)
    # 80² and 1024² (the 5×5 and 64×64 meshes), ragged edge blocks, runs over 128 (f = 130).
    for shape in [(80, 80), (1024, 1024), (100, 37), (700, 1300), (48, 80), (8320, 70)]:
        field = (rng.standard_exponential(shape) ** 6 * rng.random(shape)).astype(np.float32)
        field[rng.random(shape) < 0.3] = 0.0
        h, w = shape
        f = max(1, -(-max(h, w) // 64))
        ys, xs = np.arange(0, h, f), np.arange(0, w, f)
        sums = np.add.reduceat(np.add.reduceat(field.astype(np.float64), ys, axis=0), xs, axis=1)
        counts = np.outer(np.diff(np.append(ys, h)), np.diff(np.append(xs, w)))
        assert np.array_equal(block_means(field), sums / counts), shape


@pytest.mark.unit
def test_a_frame_read_later_still_shows_its_own_tick() -> None:
    from components.mesh import MeshCell, TileStats
    from game.app.build import build_sim
    from systems.mirror import energy_view

    sim = build_sim(web_config(seed=1, traffic__rate=2.0), mirror=True)
    try:
        sim.step(25)
        frame = sim.frames.take()
        assert frame is not None and sim.net is not None
        energy = energy_view(sim.substrate.energy.copy())
        bots = [(b.row, b.col, b.state, len(b.inbox), b.adapter or "")
                for b in sorted(sim.net.bots.values(), key=lambda b: (b.row, b.col))]
        tiles = sorted((c.row, c.col, s.population, round(s.energy_mean, 6))
                       for _, (c, s) in esper.get_components(MeshCell, TileStats))
        shards = sorted((s.id, *s.at) for _, s in esper.get_component(Shard))
        sim.step(10)  # the views are built now, from the snapshot of tick 25
        assert frame.tick == 25 and frame.energy == energy
        assert [(b.row, b.col, b.state, b.inbox, b.adapter) for b in frame.bots] == bots
        assert [(t.row, t.col, t.population, t.energy) for t in frame.tiles] == tiles
        assert sorted((s.id, s.row, s.col) for s in frame.shards) == shards and shards
        assert frame.in_flight == len(shards)
        assert frame.population == int(sum(t[2] for t in tiles))
    finally:
        sim.close()
