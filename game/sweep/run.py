"""Running a plan: keep the pool full, write each row as it comes, run again what was lost.

A run that raises is retried up to the spec's ``retries`` times, then written as failed with its
error; an attempt lost with its worker runs again. Ctrl-C and SIGTERM stop the sweep, but never
halfway through its clean-up: the workers are stopped and ``runs.parquet`` written.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from game.sweep.pools import LocalPool, Pool, RayPool
from game.sweep.scenarios import Metrics
from game.sweep.spec import Plan, Run
from game.sweep.table import Row, Table
from game.sweep.worker import Task


@dataclass(slots=True)
class SweepResult:
    """What one ``run_sweep`` did."""

    out: Path
    runs: int
    skipped: int
    ok: int = 0
    failed: int = 0
    retries: int = 0
    wall_s: float = 0.0
    #: Seconds from the sweep's start at which each run of this session was written.
    finish_times: list[float] = field(default_factory=list)
    pool: str = ""
    capacity: int = 0

    @property
    def done(self) -> int:
        """Runs written in this session (ok and failed)."""
        return self.ok + self.failed

    def runs_per_s(self) -> float:
        """Runs written per second of the whole sweep, worker start-up included."""
        return self.done / self.wall_s if self.wall_s > 0 else 0.0

    def warm_runs_per_s(self) -> float:
        """Runs per second once every worker has returned its first run (start-up left out)."""
        t = sorted(self.finish_times)
        k = min(self.capacity, len(t))
        if k < 1 or len(t) <= k or t[-1] <= t[k - 1]:
            return self.runs_per_s()
        return (len(t) - k) / (t[-1] - t[k - 1])


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS has no affinity call
        return os.cpu_count() or 1


def _task(plan: Plan, run: Run) -> Task:
    point = plan.points[run.point]
    faults = plan.spec.faults
    return Task(run.index, run.run_id, plan.scenario.name, run.seed,
                {**point.config, "seed": run.seed}, point.params,
                kill=run.index in faults.kill, fail=faults.fail.get(run.index, 0) >= 1)


def _again(plan: Plan, task: Task, culprit: bool) -> Task:
    """The next attempt of ``task``; faults fire only on the attempts they name."""
    attempt = task.attempt + 1
    return replace(task, attempt=attempt, failures=task.failures + culprit, kill=False,
                   fail=plan.spec.faults.fail.get(task.index, 0) >= attempt)


def _row(plan: Plan, task: Task, status: str, error: str, metrics: Metrics | None,
         wall_s: float, worker: str) -> Row:
    run = plan.runs[task.index]
    metrics = metrics or {}
    return {"run": run.index, "run_id": run.run_id, "seed": run.seed,
            **plan.points[run.point].values,
            **{m: metrics.get(m) for m in plan.scenario.metrics},
            "status": status, "error": error, "attempt": task.attempt, "wall_s": wall_s,
            "worker": worker}


@contextmanager
def _handling(handler: Callable[[int, Any], None], *signums: int) -> Iterator[None]:
    """``handler`` for ``signums`` inside the block, the previous handlers after it."""
    try:
        old = {s: signal.signal(s, handler) for s in signums}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for signum, previous in old.items():
            signal.signal(signum, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the workers stop and the table is written.

    A signal that arrives meanwhile takes effect after (as KeyboardInterrupt): it stops the
    sweep, but never halfway through its cleanup (orphaned workers, no runs.parquet).
    """
    caught: list[int] = []
    with _handling(lambda signum, frame: caught.append(signum), signal.SIGINT, signal.SIGTERM):
        yield
    if caught:
        raise KeyboardInterrupt


def run_sweep(plan: Plan, out: Path, workers: int | None = None, ray: str | None = None,
              resume: bool = False, quiet: bool = False) -> SweepResult:
    """Run every run of ``plan`` not yet in ``out``'s table; rows stream in as runs finish.

    ``workers``: local processes (default: the CPUs), or with ``ray`` the most tasks in
    flight (default: the cluster's CPUs). A run that raises is retried up to the spec's
    ``retries`` times, then written as failed with its error; an attempt lost with its worker
    is run again (counted against ``retries`` only when its own worker died).
    """
    from tqdm import tqdm

    # SIGTERM stops a sweep as Ctrl-C does: the pool is stopped, the table written.
    with _handling(_interrupt, signal.SIGTERM):
        # Ray first: a cluster that cannot be joined must not leave an empty table behind.
        pool: Pool | None = RayPool(ray, workers) if ray is not None else None
        try:
            table = Table(out, plan, resume)
        except BaseException:
            if pool is not None:
                pool.close()
            raise
        done_before = table.finished
        todo = deque(_task(plan, r) for r in plan.runs if r.run_id not in done_before)
        result = SweepResult(out, len(plan.runs), len(plan.runs) - len(todo))
        started = time.monotonic()
        bar = tqdm(total=len(plan.runs), initial=result.skipped, unit="run", file=sys.stderr,
                   disable=quiet, desc=f"sweep {plan.name}", dynamic_ncols=True,
                   smoothing=0.05)
        try:
            if todo:
                if pool is None:
                    pool = LocalPool(min(workers or default_workers(), len(todo)))
                result.pool, result.capacity = pool.description, pool.capacity
                _drive(plan, pool, todo, table, result, bar, started)
        finally:
            with _signals_held():
                bar.close()
                if pool is not None:
                    pool.close()
                table.close()
    result.wall_s = time.monotonic() - started
    return result


def _drive(plan: Plan, pool: Pool, todo: deque[Task], table: Table, result: SweepResult,
           bar: Any, started: float) -> None:
    """Keep the pool full, write each row as it comes, requeue what was lost."""
    retries = plan.spec.retries

    def write(task: Task, status: str, error: str, metrics: Metrics | None, wall: float,
              worker: str) -> None:
        table.append(_row(plan, task, status, error, metrics, wall, worker))
        result.finish_times.append(time.monotonic() - started)
        if status == "ok":
            result.ok += 1
        else:
            result.failed += 1
        bar.update(1)

    shown = ""
    while todo or pool.in_flight():
        while todo and pool.in_flight() < pool.capacity:
            pool.submit(todo.popleft())
        status = (f"running {pool.in_flight()}, failed {result.failed}, "
                  f"retried {result.retries}")
        if status != shown:
            bar.set_postfix_str(status)
            shown = status
        finished, crashes = pool.wait(0.25)
        for task, outcome in finished:
            if outcome.error is None:
                write(task, "ok", "", outcome.metrics, outcome.wall_s, outcome.worker)
            elif task.failures < retries:
                result.retries += 1
                todo.appendleft(_again(plan, task, True))
            else:
                write(task, "failed", outcome.error, None, outcome.wall_s, outcome.worker)
        for crash in crashes:
            task = crash.task
            if not crash.started:
                todo.appendleft(task)
            elif crash.culprit and task.failures >= retries:
                write(task, "failed", f"lost with its worker on every attempt: {crash.reason}",
                      None, 0.0, "")
            else:
                result.retries += 1
                todo.appendleft(_again(plan, task, crash.culprit))
