"""The fixed-timestep loop: an accumulator, a clamp against the spiral of death, and controls.

Simulation time advances in fixed ticks of ``1 / tick_rate`` seconds whatever the frame rate;
the renderer (viewer) or the status line runs once per frame. Controls (pause, resume, single
step, tick-rate change) may come from any thread: they are queued and applied at the next frame.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

MIN_RATE = 0.25
MAX_RATE = 100000.0

ControlName = Literal["pause", "resume", "toggle", "step", "rate", "faster", "slower"]


@dataclass(frozen=True, slots=True)
class Control:
    """A loop control: ``rate`` carries the new ticks per second in ``value``."""

    name: ControlName
    value: float = 0.0


class FixedStepLoop:
    """Runs ``tick()`` at ``tick_rate`` ticks per second of wall time, frame by frame.

    ``max_frame_time`` caps how much wall time one frame may account for (a stall, a debugger
    breakpoint), and ``max_ticks_per_frame`` caps the catch-up ticks of one frame; the backlog
    past it is dropped instead of snowballing (the spiral of death). ``tick_budget`` (seconds,
    0: none) ends a frame's catch-up once its ticks have taken that long, so a window keeps
    drawing when ticks are slower than the rate (the viewer); the backlog is dropped the same way.
    """

    def __init__(
        self,
        tick: Callable[[], None],
        tick_rate: float,
        max_frame_time: float = 0.25,
        max_ticks_per_frame: int = 8,
        clock: Callable[[], float] = time.perf_counter,
        tick_budget: float = 0.0,
    ) -> None:
        self._tick = tick
        self.tick_rate = float(tick_rate)
        self.max_frame_time = max_frame_time
        self.max_ticks_per_frame = max_ticks_per_frame
        self.tick_budget = tick_budget
        self.clock = clock
        self.paused = False
        self.accumulator = 0.0
        self.dropped_ticks = 0
        self.busy = 0.0  # seconds spent inside ticks since the start (the pacer's load signal)
        self._pending_steps = 0
        self._last: float | None = None
        self._controls: queue.SimpleQueue[Control] = queue.SimpleQueue()
        self._tick_times: deque[float] = deque(maxlen=256)

    @property
    def dt(self) -> float:
        """Seconds of simulated time per tick."""
        return 1.0 / self.tick_rate

    # -- controls (thread-safe: queued, applied at the next frame) ------------------------------

    def post(self, control: Control) -> None:
        """Queue a control from any thread."""
        self._controls.put(control)

    def _apply(self, c: Control) -> None:
        if c.name == "pause":
            self.paused = True
        elif c.name == "resume":
            self.paused = False
            self._last = None  # do not charge the paused time to the accumulator
        elif c.name == "toggle":
            self._apply(Control("resume" if self.paused else "pause"))
        elif c.name == "step":
            self._pending_steps += 1
        elif c.name == "rate":
            self.tick_rate = min(MAX_RATE, max(MIN_RATE, c.value))
        elif c.name == "faster":
            self.tick_rate = min(MAX_RATE, self.tick_rate * 2)
        elif c.name == "slower":
            self.tick_rate = max(MIN_RATE, self.tick_rate / 2)

    # -- frames ----------------------------------------------------------------------------------

    def frame(self) -> int:
        """Apply queued controls and run the ticks due since the last frame; returns how many.

        Controls that arrive during a frame's catch-up ticks are applied between them, so a
        pause takes effect after the tick running when it came, not after the whole backlog.
        """
        self._drain_controls()
        now = self.clock()
        ran = 0
        if self.paused:
            self._last = now
            self.accumulator = 0.0
            while self._pending_steps:
                self._pending_steps -= 1
                self._run_tick()
                ran += 1
            return ran
        self._pending_steps = 0
        elapsed = 0.0 if self._last is None else now - self._last
        self._last = now
        self.accumulator += min(elapsed, self.max_frame_time)
        dt = self.dt
        started = now
        while self.accumulator >= dt and ran < self.max_ticks_per_frame:
            self._run_tick()
            self.accumulator -= dt
            ran += 1
            if self.tick_budget and self._tick_times[-1] - started >= self.tick_budget:
                break
            if not self._controls.empty():
                self._drain_controls()
                if self.paused:
                    self.accumulator = 0.0
                    return ran
                dt = self.dt
        if self.accumulator >= dt:
            # Still behind after the per-frame cap: drop the backlog, keep the phase.
            dropped = int(self.accumulator / dt)
            self.dropped_ticks += dropped
            self.accumulator -= dropped * dt
        return ran

    def _drain_controls(self) -> None:
        while True:
            try:
                self._apply(self._controls.get_nowait())
            except queue.Empty:
                break

    def _run_tick(self) -> None:
        start = self.clock()
        self._tick()
        end = self.clock()
        self.busy += end - start
        self._tick_times.append(end)

    def ticks_per_second(self) -> float:
        """Measured tick rate over the last second (0 when idle)."""
        times = tuple(self._tick_times)  # one C-level copy: the tick thread may be appending
        if len(times) < 2:
            return 0.0
        now = self.clock()
        recent = [t for t in times if now - t <= 1.0]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        return (len(recent) - 1) / span if span > 0 else 0.0

    def time_to_next_tick(self) -> float:
        """Seconds until the next tick is due (how long a headless runner may sleep)."""
        if self.paused:
            return 0.05
        since = 0.0 if self._last is None else self.clock() - self._last
        return max(0.0, self.dt - self.accumulator - since)
