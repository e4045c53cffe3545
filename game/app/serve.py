"""``cybermesh serve``: the simulation headless at its tick rate, a status line, the web mirror."""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from game.app.build import build_sim
from game.config import Config
from game.engine.loop import FixedStepLoop
from game.engine.pacing import Pacer
from game.engine.world import Sim, settle_heap
from web.control import Controller
from web.frames import hello_for

if TYPE_CHECKING:
    import moderngl

    from web.server import MirrorServer


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


class LiveRun:
    """A simulation ticking at its rate, with the web mirror beside it (``serve``, ``view``).

    ``frame()`` runs the ticks due now; the caller decides where that happens (the main thread
    of ``serve``, a test's thread, the viewer's render loop). ``close()`` shuts the mirror down
    (clients get a close frame) and then the simulation (the event log is flushed). ``mirror``
    builds the mirror system without the web server (the viewer draws its frames); ``ctx`` is
    the GL context of the gl backend (the viewer's window).
    """

    def __init__(self, config: Config, events: str | None = None, web: bool = True,
                 ticks: int | None = None, token: str | None = None,
                 ctx: moderngl.Context | None = None, mirror: bool | None = None,
                 tick_budget: float = 0.0) -> None:
        self.config = config
        self.limit = ticks
        self.token = token or config.serve.token or secrets.token_urlsafe(12)
        self.server: MirrorServer | None = None
        self.url: str | None = None
        self.sim = build_sim(config, events_path=events, mirror=web if mirror is None else mirror,
                             ctx=ctx)
        self.loop = FixedStepLoop(self._tick, config.tick_rate, config.loop.max_frame_time,
                                  config.loop.max_ticks_per_frame, tick_budget=tick_budget)
        self.pacer = Pacer(self.loop) if config.loop.degrade else None

    def frame(self) -> int:
        """Run the ticks due now, then let the pacer look at the load; returns the ticks run."""
        ran = self.loop.frame()
        if self.pacer is not None:
            self.pacer.update(self.loop.clock())
        return ran

    def _tick(self) -> None:
        if not self.done:
            self.sim.step()

    @property
    def done(self) -> bool:
        """Whether the run has reached its tick limit."""
        return self.limit is not None and self.sim.tick >= self.limit

    def load_model(self) -> None:
        """Load the embedding model and run a warm-up batch now, not inside the first ticks.

        Loading takes seconds and the first forward pass hundreds of milliseconds more; both
        belong before the run's clock starts.
        """
        if self.sim.net is not None:
            self.sim.net.embedder.load()
            self.sim.net.embedder.warm_up(self.sim.net.held_out[:32])
        settle_heap()

    def start_web(self, host: str, port: int) -> str:
        """Start the web mirror; returns its URL (raises BadInput for a busy port)."""
        from web.server import MirrorServer  # loads aiohttp, which only the web mirror needs

        controller = Controller(self.sim, self.loop, self.token)
        hello = hello_for(self.sim, controller.adapters(), self.config.serve.max_message)
        self.server = MirrorServer(self.sim.frames, controller, hello, self.config.serve,
                                   host, port)
        if self.pacer is not None:
            self.pacer.pace_mirror(self.server, self.config.serve.fps)
            self.server.pacing = self.pacer.state
        bound_host, bound_port = self.server.start()
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    def run(self, stop: threading.Event, status: StatusLine | None = None) -> None:
        """Tick until ``stop`` is set or the tick limit is reached."""
        sim, loop = self.sim, self.loop
        while not stop.is_set():
            self.frame()
            if status is not None:
                status.show(status_text(sim, loop, self.url))
            if self.done:
                break
            stop.wait(min(0.05, loop.time_to_next_tick()))

    def close(self) -> None:
        """Close the mirror's clients and server, then the simulation (flushing the log)."""
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            self.sim.close()


def run_serve(args: argparse.Namespace, config: Config) -> int:
    """Run until --ticks is reached or SIGINT/SIGTERM; returns the exit code."""
    host = args.host or config.serve.host
    port = config.serve.port if args.port is None else args.port
    run = LiveRun(config, args.events, web=not args.no_web, ticks=args.ticks, token=args.token)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    status = StatusLine()
    try:
        if run.sim.net is not None:
            print("loading the embedding model ...", file=sys.stderr, flush=True)
            run.load_model()
        if not args.no_web:
            url = run.start_web(host, port)
            print(f"web mirror on {url}", file=sys.stderr, flush=True)
            print(f"control token: {run.token}", file=sys.stderr, flush=True)
        sim = run.sim
        print(
            f"backend {sim.backend.name}, lattice {sim.shape[1]}x{sim.shape[0]}, "
            f"rule {sim.rule}, seed {config.seed}, {config.tick_rate:g} ticks/s",
            file=sys.stderr,
            flush=True,
        )
        run.run(stop, status)
        status.show(status_text(sim, run.loop, run.url), force=True)
    finally:
        status.close()
        for s, handler in old.items():
            signal.signal(s, handler)
        run.close()
    return 0
