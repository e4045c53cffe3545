"""The tick order, written down once, and the schedule that runs systems in it with timings.

Like Bevy's ``FixedUpdate`` or flecs' phases: every tick runs each phase's system in this order.
A phase whose tier is not built into a world simply has no system in it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Final

import esper

TICK_ORDER: Final[tuple[str, ...]] = (
    "input",  # apply queued user commands (stamp, reseed, inject)
    "ca",  # one generation of the lattice on the chosen backend
    "detect",  # objects, apgcodes, glider tracks
    "energy",  # deposit, decay, diffusion; per-tile means
    "embed",  # one batched sentence-embedding encode
    "route",  # next hop per shard, queues, terminal events
    "glider",  # shards riding gliders
    "pulse",  # batched LoRA pulses
    "log",  # write this tick's events (JSONL)
    "mirror",  # hand a frame to the web mirror without blocking
)


class System(esper.Processor):
    """A tick system: one job, run once per tick in its phase."""

    phase: str = ""

    def process(self) -> None:
        """Run this system's work for the current tick."""
        raise NotImplementedError

    def hand_over(self) -> None:
        """Start this tick's work beside the loop; called once every system has run the tick.

        A worker woken in the middle of a tick cost the systems after it a stall of a scheduler
        slice (~4–5 ms on this VM); woken at the end of the tick, it starts while the loop waits
        for the next one.
        """

    def close(self) -> None:
        """Release what the system holds beyond the tick (a worker, a file); called once."""


class Schedule:
    """Runs the registered systems in :data:`TICK_ORDER` and times each with perf_counter."""

    def __init__(self) -> None:
        self._by_phase: dict[str, System] = {}
        self.last_ms: dict[str, float] = {}
        self.history: dict[str, deque[float]] | None = None
        self._keep: int | None = None

    def add(self, system: System) -> None:
        """Put ``system`` in its phase (one system per phase) and register it with esper."""
        if system.phase not in TICK_ORDER:
            raise ValueError(f"unknown phase {system.phase!r}; see game.engine.schedule.TICK_ORDER")
        if system.phase in self._by_phase:
            raise ValueError(f"phase {system.phase!r} already has a system")
        self._by_phase[system.phase] = system
        # esper runs higher priorities first: the same order, should anyone call esper.process().
        esper.add_processor(system, priority=len(TICK_ORDER) - TICK_ORDER.index(system.phase))

    def get(self, phase: str) -> System | None:
        """The system in ``phase``, if any."""
        return self._by_phase.get(phase)

    def systems(self) -> Iterator[System]:
        """The registered systems in tick order."""
        return (self._by_phase[p] for p in TICK_ORDER if p in self._by_phase)

    def record_history(self, keep: int | None = None) -> None:
        """Keep per-system durations for the bench's percentiles.

        All of them, or the last ``keep`` ticks' (a long soak must not grow its own measurement).
        """
        self._keep = keep
        self.history = {s.phase: deque(maxlen=keep) for s in self.systems()}

    def run(self) -> None:
        """One tick: every system once, in order."""
        clock = time.perf_counter
        for system in self.systems():
            t0 = clock()
            system.process()
            ms = (clock() - t0) * 1e3
            self.last_ms[system.phase] = ms
            if self.history is not None:
                self.history.setdefault(system.phase, deque(maxlen=self._keep)).append(ms)
        for system in self.systems():
            system.hand_over()
