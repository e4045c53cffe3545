"""Where runs execute: local worker processes, or Ray tasks on a cluster.

A pool keeps attempts in flight and reports each one as returned (an
:class:`~game.sweep.worker.Outcome`) or lost with its worker (a
:class:`~game.sweep.worker.Crash`); :mod:`game.sweep.run` decides what runs again.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Protocol

from game.errors import BadInput, one_line
from game.sweep.worker import (
    ERROR_CHARS,
    Crash,
    Outcome,
    Task,
    execute,
    init_local_worker,
    run_local,
)

if TYPE_CHECKING:
    from multiprocessing.queues import SimpleQueue


class Pool(Protocol):
    """Where runs execute: local processes or a Ray cluster."""

    capacity: int
    description: str

    def submit(self, task: Task) -> None:
        """Start one attempt."""

    def in_flight(self) -> int:
        """Attempts submitted and not yet returned."""

    def wait(self, timeout: float) -> tuple[list[tuple[Task, Outcome]], list[Crash]]:
        """Attempts that ended within ``timeout`` seconds: returned, or lost with a worker."""

    def close(self) -> None:
        """Stop every worker; attempts still in flight are abandoned."""


class LocalPool:
    """Worker processes on this machine ("spawn": torch and fork do not mix).

    A worker that dies breaks the whole ``ProcessPoolExecutor``: the pool is rebuilt and every
    attempt in flight is reported as a :class:`Crash`, the dead worker's own as the culprit.
    """

    #: Pools in a row whose workers died before starting any run, before the sweep gives up.
    MAX_BARREN = 3

    def __init__(self, workers: int) -> None:
        self.capacity = workers
        self.description = f"{workers} local worker{'s' if workers > 1 else ''}"
        self._ctx = multiprocessing.get_context("spawn")
        self._barren = 0
        self._start()

    def _start(self) -> None:
        self._starts: SimpleQueue[tuple[int, int, int]] = self._ctx.SimpleQueue()
        self._executor = ProcessPoolExecutor(self.capacity, mp_context=self._ctx,
                                             initializer=init_local_worker,
                                             initargs=(self._starts,))
        self._futures: dict[Future[Outcome], Task] = {}
        self._pids: dict[tuple[int, int], int] = {}

    def submit(self, task: Task) -> None:
        """Start one attempt (on a pool that broke since the last wait, it is lost with it)."""
        try:
            future = self._executor.submit(run_local, task)
        except BrokenProcessPool as err:
            # A worker died since the last wait: the next wait rebuilds the pool and reports
            # this attempt, never started, among the crashes (retried, not blamed).
            future = Future()
            future.set_exception(err)
        self._futures[future] = task

    def in_flight(self) -> int:
        """Attempts submitted and not yet returned."""
        return len(self._futures)

    def _drain(self) -> None:
        # Read every start message as it comes: a pipe that fills up would block the workers.
        while not self._starts.empty():
            index, attempt, worker = self._starts.get()
            self._pids[(index, attempt)] = worker

    def wait(self, timeout: float) -> tuple[list[tuple[Task, Outcome]], list[Crash]]:
        """Attempts that ended within ``timeout`` seconds: returned, or lost with a worker."""
        done, _ = wait_futures(self._futures, timeout, FIRST_COMPLETED)
        self._drain()
        if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
            return self._recover()
        finished = []
        for future in done:
            task = self._futures.pop(future)
            self._pids.pop((task.index, task.attempt), None)
            finished.append((task, future.result()))
        return finished, []

    def _recover(self) -> tuple[list[tuple[Task, Outcome]], list[Crash]]:
        # Which worker died, and how: the dead one has its signal's exit code, the others were
        # terminated by the executor when it saw the pool broken.
        procs = _processes(self._executor)
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._drain()
        died = {p.pid: p.exitcode for p in procs if p.pid is not None
                and p.exitcode is not None and p.exitcode not in (0, -signal.SIGTERM)}
        finished, crashes = [], []
        for future, task in self._futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                finished.append((task, future.result()))
                continue
            pid = self._pids.get((task.index, task.attempt))
            if pid is not None and pid in died:
                crashes.append(Crash(task, True, True,
                                     f"worker {pid} died ({_exit_name(died[pid])})"))
            else:  # no dead worker identified: every attempt that started is suspect
                crashes.append(Crash(task, pid is not None, pid is not None and not died,
                                     "the worker pool broke"))
        # A pool whose workers die before starting any run (a failing import, no memory for
        # torch) would otherwise be rebuilt for ever.
        self._barren = 0 if finished or any(c.started for c in crashes) else self._barren + 1
        if self._barren >= self.MAX_BARREN:
            ends = ", ".join(sorted({_exit_name(p.exitcode) for p in procs}))
            raise RuntimeError(f"the sweep's worker processes died {self._barren} times before "
                               f"starting a run ({ends})")
        self._start()
        return finished, crashes

    def close(self) -> None:
        """Stop every worker; attempts still in flight are abandoned."""
        if self._futures:  # interrupted: do not wait for runs that nobody will record
            for process in _processes(self._executor):
                process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)


def _processes(executor: ProcessPoolExecutor) -> list[multiprocessing.process.BaseProcess]:
    """The executor's worker processes (a private table: the one place that has them)."""
    table = getattr(executor, "_processes", None) or {}
    return list(table.values())


def _exit_name(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            pass
    return f"exit code {code}"


#: Seconds to wait for a cluster's head to accept a connection.
PROBE_S = 5.0


def _probe(address: str) -> None:
    """A one-line error when nothing listens at ``address`` (``HOST:PORT``, or ``ray://...``).

    ``ray.init`` itself retries an unreachable head for minutes, printing warnings.
    """
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise BadInput(f"--ray {address}: expected auto or HOST:PORT of the cluster's head, "
                       "e.g. head-node:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S).close()
    except OSError as err:
        raise BadInput(f"--ray {address}: nothing answers there ({err.strerror or err}): is "
                       f"the head started (ray start --head --port {port})?") from None


class RayPool:
    """Ray tasks on a cluster (``address``), on a running local one, or on one started here.

    ``auto`` joins a Ray instance already running on this machine, else starts one. A process
    that has called ``ray.init`` itself keeps its Ray: the pool uses it and leaves it running.
    """

    def __init__(self, address: str, workers: int | None) -> None:
        try:
            import ray
        except ImportError:
            raise BadInput("--ray: Ray is not installed: pip install -e '.[ray]' "
                           "(the optional extra)") from None
        # Ray's own annotations are partial (untyped functions): used as a dynamic module.
        self._ray: Any = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            self._connect(address, workers)
        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        self.capacity = min(workers, cpus) if workers else cpus
        self.description = f"Ray, {self.capacity} tasks at a time ({cpus} CPUs in the cluster)"
        self._remote = self._ray.remote(num_cpus=1, max_retries=0)(execute)
        self._refs: dict[Any, Task] = {}

    def _connect(self, address: str, workers: int | None) -> None:
        ray = self._ray
        quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
        if address == "auto":
            try:
                ray.init(address="auto", **quiet)
            except ConnectionError:
                ray.init(num_cpus=workers, include_dashboard=False, **quiet)
            return
        _probe(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, ValueError, RuntimeError, ImportError) as err:
            # ImportError: a ray:// address needs Ray Client, the ray[client] extra.
            why = one_line(f"{type(err).__name__}: {err}", ERROR_CHARS)
            raise BadInput(f"--ray {address}: cannot join the Ray cluster: {why}") from None

    def submit(self, task: Task) -> None:
        """Start one attempt."""
        self._refs[self._remote.remote(task)] = task

    def in_flight(self) -> int:
        """Attempts submitted and not yet returned."""
        return len(self._refs)

    def wait(self, timeout: float) -> tuple[list[tuple[Task, Outcome]], list[Crash]]:
        """Attempts that ended within ``timeout`` seconds: returned, or lost with a worker."""
        ray = self._ray
        refs = list(self._refs)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        finished, crashes = [], []
        for ref in ready:
            task = self._refs.pop(ref)
            try:
                finished.append((task, ray.get(ref)))
            except ray.exceptions.RayError as err:  # the task's worker or node died
                first = (str(err).strip().splitlines() or [""])[0]
                crashes.append(Crash(task, True, True, f"{type(err).__name__}: {first}"[:300]))
        return finished, crashes

    def close(self) -> None:
        """Cancel attempts in flight; shut Ray down if this pool started it."""
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs.clear()
        if self._owned:
            self._ray.shutdown()
