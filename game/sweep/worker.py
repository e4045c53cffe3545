"""What runs in a worker: one attempt of one run, and the set-up of a local worker process.

:func:`execute` is what a Ray task runs, and a local worker process runs it through
:func:`run_local`. Local workers are started with "spawn" and Ray pickles functions by module
path: both find these functions here by name. A worker uses one thread for torch and the BLAS
libraries.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from game.config import Config
from game.errors import one_line
from game.sweep.scenarios import SCENARIOS, Metrics

if TYPE_CHECKING:
    from multiprocessing.queues import SimpleQueue

#: A failed run's error is kept as one line of its type and message, cut to this many characters.
ERROR_CHARS = 400


@dataclass(frozen=True, slots=True)
class Task:
    """What a worker needs for one attempt of one run (pickled to it)."""

    index: int
    run_id: str
    scenario: str
    seed: int
    config: dict[str, Any]
    params: dict[str, Any]
    attempt: int = 1
    failures: int = 0
    kill: bool = False
    fail: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """A run's result as its worker returns it: metrics, or the error in one line."""

    index: int
    metrics: Metrics | None
    error: str | None
    wall_s: float
    worker: str


@dataclass(frozen=True, slots=True)
class Crash:
    """An attempt lost with its worker; ``culprit``: its own worker died, not a neighbour's."""

    task: Task
    started: bool
    culprit: bool
    reason: str


def _number(value: float | int | None) -> float | None:
    """A metric as the table stores it: a float, or None where it does not apply."""
    return None if value is None else float(value)


_PREPARED = False


def _prepare_worker() -> None:
    """One thread for torch and the BLAS libraries: N workers on N cores scale, none oversubscribe.

    Also makes results independent of the machine's core count (torch's reductions are
    deterministic for a fixed thread count).
    """
    global _PREPARED
    if _PREPARED:
        return
    import torch
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(1)
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed before torch's first parallel work; then it is set
        pass
    _PREPARED = True


def execute(task: Task) -> Outcome:
    """Run one attempt of one run in this process; never raises for the run's own errors."""
    _prepare_worker()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if task.kill:
        os.kill(os.getpid(), signal.SIGKILL)
    start = time.perf_counter()
    try:
        if task.fail:
            raise RuntimeError(f"fault injected into run {task.index}, attempt {task.attempt} "
                               "(the spec's faults.fail)")
        scenario = SCENARIOS[task.scenario]
        config = msgspec.convert(task.config, Config)
        params = msgspec.convert(task.params, scenario.params)
        raw = scenario.run(config, task.seed, params)
        metrics: Metrics = {m: _number(raw.get(m)) for m in scenario.metrics}
    except Exception as err:  # noqa: BLE001 - a run's failure is data: recorded, retried
        error = one_line(f"{type(err).__name__}: {err}", ERROR_CHARS)
        return Outcome(task.index, None, error, time.perf_counter() - start, worker)
    return Outcome(task.index, metrics, None, time.perf_counter() - start, worker)


_STARTS: SimpleQueue[tuple[int, int, int]] | None = None


def init_local_worker(starts: SimpleQueue[tuple[int, int, int]]) -> None:
    """Pool initializer: the start queue, one thread, and an exit when the sweep dies."""
    global _STARTS
    _STARTS = starts
    parent = os.getppid()

    def watch() -> None:
        # A SIGKILLed sweep cannot stop its pool; its workers would wait on their queue forever.
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="sweep-parent-watch", daemon=True).start()
    # Ctrl-C reaches the whole process group: the sweep stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prepare_worker()


def run_local(task: Task) -> Outcome:
    """A local worker's entry: say which process runs the attempt, then run it."""
    if _STARTS is not None:
        _STARTS.put((task.index, task.attempt, os.getpid()))
    return execute(task)
