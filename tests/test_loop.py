"""The fixed-timestep loop with a fake clock: accumulator, clamp, controls."""

from __future__ import annotations

import pytest

from game.engine.loop import Control, FixedStepLoop
from tests.helpers import FakeClock

pytestmark = pytest.mark.unit


def make(rate: float = 10.0, **kw: float) -> tuple[FixedStepLoop, FakeClock, list[int]]:
    clock = FakeClock()
    ticks: list[int] = []
    loop = FixedStepLoop(lambda: ticks.append(1), rate, clock=clock, **kw)  # type: ignore[arg-type]
    loop.frame()  # first frame only starts the clock
    return loop, clock, ticks


def test_ticks_follow_wall_time_not_frame_rate() -> None:
    loop, clock, ticks = make(10.0)
    for _ in range(100):  # 100 frames of 16 ms = 1.6 s
        clock.now += 0.016
        loop.frame()
    assert len(ticks) == 16
    assert loop.accumulator < loop.dt


def test_spiral_of_death_clamp() -> None:
    loop, clock, ticks = make(100.0, max_frame_time=0.25, max_ticks_per_frame=8)
    clock.now += 10.0  # a 10 s stall
    ran = loop.frame()
    assert ran == 8  # capped per frame
    assert loop.accumulator < loop.dt  # backlog dropped, not carried
    assert 16 <= loop.dropped_ticks <= 17  # 0.25 s counted at 100 ticks/s, 8 run


def test_tick_budget_ends_the_catch_up_and_drops_the_backlog() -> None:
    clock = FakeClock()
    ticks: list[int] = []

    def slow_tick() -> None:  # each tick takes 30 ms of wall time
        ticks.append(1)
        clock.now += 0.03

    loop = FixedStepLoop(slow_tick, 100.0, max_frame_time=0.25, max_ticks_per_frame=8,
                         clock=clock, tick_budget=0.05)
    loop.frame()
    clock.now += 0.1  # 10 ticks due
    assert loop.frame() == 2  # 30 ms, then 60 ms >= the 50 ms budget: draw now
    assert loop.accumulator < loop.dt and loop.dropped_ticks == 8
    unlimited = FixedStepLoop(slow_tick, 100.0, max_frame_time=0.25, max_ticks_per_frame=8,
                              clock=clock)
    unlimited.frame()
    clock.now += 0.1
    assert unlimited.frame() == 8


def test_pause_step_resume_and_rate() -> None:
    loop, clock, ticks = make(10.0)
    loop.post(Control("pause"))
    clock.now += 1.0
    assert loop.frame() == 0 and loop.paused
    loop.post(Control("step"))
    loop.post(Control("step"))
    assert loop.frame() == 2
    clock.now += 5.0
    assert loop.frame() == 0  # paused time is not owed
    loop.post(Control("resume"))
    loop.frame()
    clock.now += 0.15
    assert loop.frame() == 1
    loop.post(Control("faster"))
    loop.frame()
    assert loop.tick_rate == 20.0
    loop.post(Control("rate", 5.0))
    loop.frame()
    assert loop.tick_rate == 5.0
    loop.post(Control("slower"))
    loop.post(Control("toggle"))
    loop.frame()
    assert loop.tick_rate == 2.5 and loop.paused


def test_rate_is_clamped() -> None:
    loop, _, _ = make(10.0)
    loop.post(Control("rate", 0.0))
    loop.frame()
    assert loop.tick_rate > 0


def test_measured_ticks_per_second() -> None:
    loop, clock, _ = make(50.0)
    for _ in range(100):
        clock.now += 0.01
        loop.frame()
    assert loop.ticks_per_second() == pytest.approx(50.0, rel=0.1)


def test_a_pause_during_catch_up_ticks_stops_the_backlog_at_once() -> None:
    clock = FakeClock()
    loop: FixedStepLoop

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 2:  # another thread pauses while the frame is catching up
            loop.post(Control("pause"))
            loop.post(Control("step"))

    ticks: list[int] = []
    loop = FixedStepLoop(tick, 100.0, max_frame_time=0.25, max_ticks_per_frame=8, clock=clock)
    loop.frame()
    clock.now += 0.08  # 8 ticks due
    assert loop.frame() == 2 and loop.paused
    clock.now += 0.08
    assert loop.frame() == 1  # the queued step, and nothing of the backlog
    assert len(ticks) == 3
