"""Graceful degradation: pacing steps down while ticks overrun their budget, and back up after.

Every ``window`` seconds the :class:`Pacer` looks at the loop: the share of wall time spent
inside ticks and the ticks dropped by the spiral-of-death clamp. Overloaded (ticks dropped, or
ticks filling more than :data:`BUSY_HIGH` of the time), it takes one step down :data:`STEPS`:
first the web mirror's frame rate halves, then the viewer's render rate, then the tick rate
falls to three quarters and a half of what the user set. Calm for :data:`CALM_WINDOWS`
windows in a row, with room for the step above, it steps back up. Each step is logged.

Only pacing against the wall clock changes — how often frames are sent and drawn, how many
ticks a second are attempted — never what a tick computes, so a run's event log is the same
whatever the load (determinism holds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, Protocol

from game.engine.loop import Control, FixedStepLoop

#: (mirror fps, render fps, tick rate) as fractions of their set values, one row per level.
STEPS: Final = (
    (1.0, 1.0, 1.0),
    (0.5, 1.0, 1.0),
    (0.5, 0.5, 1.0),
    (0.5, 0.5, 0.75),
    (0.5, 0.5, 0.5),
)
BUSY_HIGH: Final = 0.9  # ticks filling more of the wall time than this: overloaded
BUSY_ROOM: Final = 0.7  # the level above must be expected to stay under this to step up
CALM_WINDOWS: Final = 3

log = logging.getLogger("cybermesh.pacing")


class Paced(Protocol):
    """Something with a frame rate the pacer may lower: the mirror (``fps``) or a window."""

    def set_rate(self, fps: float) -> None:
        """Pace at ``fps`` frames a second from now on."""


@dataclass
class Step:
    """One change of level, for the log and ``/api/state``."""

    at: float
    level: int
    reason: str


class Pacer:
    """Watches ``loop`` and steps the mirror's, the window's and the loop's pacing."""

    def __init__(self, loop: FixedStepLoop, window: float = 2.0) -> None:
        self.loop = loop
        self.window = window
        self.level = 0
        self.steps: list[Step] = []
        self._mirror: tuple[Paced, float] | None = None
        self._render: tuple[Paced, float] | None = None
        self._rate = loop.tick_rate  # the user's rate; the pacer sets fractions of it
        self._since: float | None = None
        self._busy = 0.0
        self._dropped = 0
        self._calm = 0

    def pace_mirror(self, mirror: Paced, fps: float) -> None:
        """Let the pacer lower ``mirror``'s frame rate (set at ``fps``)."""
        self._mirror = (mirror, fps)

    def pace_render(self, window: Paced, fps: float) -> None:
        """Let the pacer lower ``window``'s render rate (set at ``fps``)."""
        self._render = (window, fps)

    def state(self) -> dict[str, Any]:
        """The level and what it means now (for ``/api/state``)."""
        mirror, render, rate = STEPS[self.level]
        return {"level": self.level, "mirror_fps_factor": mirror, "render_fps_factor": render,
                "tick_rate_factor": rate, "steps": len(self.steps)}

    def update(self, now: float) -> None:
        """Look at the last window (call once a frame; does something once a window)."""
        loop = self.loop
        if self._since is None or loop.paused:
            self._restart(now)
            return
        span = now - self._since
        if span < self.window:
            return
        expected = self._rate * STEPS[self.level][2]
        if abs(loop.tick_rate - expected) > 1e-9 * expected:  # the user changed the rate
            self._rate = loop.tick_rate / STEPS[self.level][2]
        busy = (loop.busy - self._busy) / span
        dropped = loop.dropped_ticks - self._dropped
        self._restart(now)
        if (dropped > 0 or busy > BUSY_HIGH) and self.level < len(STEPS) - 1:
            self._calm = 0
            self._go(now, self.level + 1, f"ticks filled {busy:.0%} of the time, "
                                          f"{dropped} dropped")
            return
        up = self.level - 1
        room = busy * STEPS[up][2] / STEPS[self.level][2] if self.level else 1.0
        if self.level and dropped == 0 and room < BUSY_ROOM:
            self._calm += 1
            if self._calm >= CALM_WINDOWS:
                self._calm = 0
                self._go(now, up, f"ticks filled {busy:.0%} of the time for "
                                  f"{CALM_WINDOWS} windows")
        else:
            self._calm = 0

    def _restart(self, now: float) -> None:
        self._since = now
        self._busy = self.loop.busy
        self._dropped = self.loop.dropped_ticks

    def _go(self, now: float, level: int, reason: str) -> None:
        self.level = level
        mirror, render, rate = STEPS[level]
        if self._mirror is not None:
            self._mirror[0].set_rate(self._mirror[1] * mirror)
        if self._render is not None:
            self._render[0].set_rate(self._render[1] * render)
        self.loop.post(Control("rate", self._rate * rate))
        self.steps.append(Step(now, level, reason))
        log.info("pacing level %d (mirror x%g, render x%g, tick rate %g/s): %s", level, mirror,
                 render, self._rate * rate, reason)
