"""``cybermesh serve``: the simulation headless at its tick rate, a status line, the web mirror."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from game.config import Config
from game.loop import FixedStepLoop
from game.world import Sim, build_sim


class StatusLine:
    """One live line: rewritten in place on a terminal, a new line every second otherwise."""

    def __init__(self, stream: Any = sys.stderr, interval: float = 1.0) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval if not self.tty else 0.1
        self._last = 0.0
        self._width = 0

    def show(self, text: str, force: bool = False) -> None:
        """Print ``text`` if the interval has passed (or ``force``)."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the live line."""
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def status_text(sim: Sim, loop: FixedStepLoop, url: str | None) -> str:
    """The status line's content: tick, ticks/s, population (and where the mirror is)."""
    state = "paused" if loop.paused else f"{loop.ticks_per_second():6.1f} ticks/s"
    text = f"tick {sim.tick:>8} | {state} | population {sim.population():>7}"
    return f"{text} | {url}" if url else text


def run_serve(args: argparse.Namespace, config: Config) -> int:
    """Run until --ticks is reached or SIGINT/SIGTERM; returns the exit code."""
    host = args.host or config.serve.host
    port = config.serve.port if args.port is None else args.port
    sim = build_sim(config, events_path=args.events, mirror=not args.no_web)
    if sim.net is not None:
        # Load the embedding model now, not inside the first tick (it takes seconds).
        print("loading the embedding model ...", file=sys.stderr, flush=True)
        try:
            sim.net.embedder.load()
        except BaseException:
            sim.close()
            raise
    limit = args.ticks

    def tick() -> None:
        if limit is None or sim.tick < limit:
            sim.step()

    loop = FixedStepLoop(
        tick,
        config.tick_rate,
        config.loop.max_frame_time,
        config.loop.max_ticks_per_frame,
    )
    server = None
    url = None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    status = StatusLine()
    try:
        if not args.no_web:
            from web.server import MirrorServer

            server = MirrorServer(sim.snapshots, lambda: _loop_state(loop), host, port)
            bound_host, bound_port = server.start()
            url = f"http://{bound_host}:{bound_port}"
            print(f"web mirror on {url}", file=sys.stderr, flush=True)
        print(
            f"backend {sim.backend.name}, lattice {sim.shape[1]}x{sim.shape[0]}, "
            f"rule {sim.rule}, seed {config.seed}, {config.tick_rate:g} ticks/s",
            file=sys.stderr,
            flush=True,
        )
        while not stop.is_set():
            loop.frame()
            status.show(status_text(sim, loop, url))
            if limit is not None and sim.tick >= limit:
                break
            stop.wait(min(0.05, loop.time_to_next_tick()))
        status.show(status_text(sim, loop, url), force=True)
    finally:
        status.close()
        for s, handler in old.items():
            signal.signal(s, handler)
        if server is not None:
            server.stop()
        sim.close()
    return 0


def _loop_state(loop: FixedStepLoop) -> dict[str, Any]:
    return {
        "paused": loop.paused,
        "tick_rate": loop.tick_rate,
        "ticks_per_second": round(loop.ticks_per_second(), 2),
    }
