"""Graceful degradation: the pacer steps pacing down under load and back up after (fake clock)."""

from __future__ import annotations

import pytest

from game.engine.loop import Control, FixedStepLoop
from game.engine.pacing import STEPS, Pacer
from tests.helpers import FakeClock

pytestmark = pytest.mark.unit


class Knob:
    """A mirror or a window: remembers the rates it was set to."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def set_rate(self, fps: float) -> None:
        self.rates.append(fps)


class Run:
    """A loop whose ticks take ``cost`` seconds of the fake clock, drawn every 16 ms."""

    def __init__(self, rate: float = 30.0) -> None:
        self.clock = FakeClock()
        self.cost = 0.0
        self.ticks = 0
        self.loop = FixedStepLoop(self._tick, rate, clock=self.clock)
        self.pacer = Pacer(self.loop, window=2.0)
        self.mirror, self.window = Knob(), Knob()
        self.pacer.pace_mirror(self.mirror, 30.0)
        self.pacer.pace_render(self.window, 60.0)

    def _tick(self) -> None:
        self.ticks += 1
        self.clock.now += self.cost

    def run(self, seconds: float) -> None:
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now += 0.016
            self.loop.frame()
            self.pacer.update(self.clock())


def test_overload_steps_mirror_then_render_then_tick_rate_and_recovery_steps_back() -> None:
    run = Run(30.0)
    run.cost = 0.045  # 30 ticks/s of 45 ms: 135 % of the time
    run.run(30.0)
    assert run.pacer.level == len(STEPS) - 1
    assert [s.level for s in run.pacer.steps] == [1, 2, 3, 4]
    assert run.mirror.rates[:1] == [15.0] and run.window.rates[1:2] == [30.0]
    assert run.loop.tick_rate == 15.0  # half the set rate: 15 x 45 ms = 68 % busy, it holds
    run.cost = 0.004  # the load passes
    run.run(60.0)
    assert run.pacer.level == 0
    assert [s.level for s in run.pacer.steps] == [1, 2, 3, 4, 3, 2, 1, 0]
    assert run.loop.tick_rate == 30.0 and run.mirror.rates[-1] == 30.0
    assert run.window.rates[-1] == 60.0


def test_a_steady_load_within_budget_changes_nothing() -> None:
    run = Run(30.0)
    run.cost = 0.02  # 60 % busy
    run.run(30.0)
    assert run.pacer.steps == [] and run.loop.tick_rate == 30.0


def test_the_users_rate_change_is_kept_under_the_pacer() -> None:
    run = Run(30.0)
    run.cost = 0.045
    while run.pacer.level < 3:
        run.run(0.1)
    run.run(0.1)  # the pacer's rate control is applied at the next frame
    assert run.pacer.level == 3 and run.loop.tick_rate == 22.5
    run.loop.post(Control("rate", 8.0))  # the user asks for 8 ticks/s while paced
    run.cost = 0.004
    run.run(60.0)
    assert run.pacer.level == 0
    assert run.loop.tick_rate == pytest.approx(8.0 / 0.75)  # the user's 8 was set at level 3


def test_a_paused_run_is_never_paced() -> None:
    run = Run(30.0)
    run.loop.post(Control("pause"))
    run.cost = 1.0
    run.run(20.0)
    assert run.pacer.steps == [] and run.pacer.state()["level"] == 0
