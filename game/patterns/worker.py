"""A census beside the loop: one :class:`Census` in a worker process, fed lattices in order.

The detect system hands a lattice over on a detection tick and collects the result on the next
one (``detect.every`` ticks later), carried forward to that tick (:func:`carry`). What the
entities see then depends on ticks alone, never on how fast the worker was: the tick that
collects waits for a late result instead of going on without it. The worker runs the same
calls in the same order as the detect system would inline, so its shape cache, and with it the
classification budget's choices, evolve exactly as they would there.

A process, not a thread: the census is mostly Python, and a thread would take its time from the
loop's share of the interpreter lock.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from multiprocessing.connection import Connection

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from game.backends.bitpacked import BitPackedBackend
from game.engine.beside import beside_the_loop
from game.patterns.census import Census, CensusResult, _concat, _select, moved_on
from game.patterns.classify import Classification
from game.rules import Rule, parse_rule

_census: Census | None = None
_lookahead: BitPackedBackend | None = None


def _start(rule: str, horizon: int, max_period: int, budget: int | None) -> None:
    """Worker initialiser: the process's census and its private lattice for the future."""
    global _census  # noqa: PLW0603 - one census per worker process, by design
    _census = Census(parse_rule(rule), horizon=horizon, max_period=max_period, budget=budget)


def _run(packed: np.ndarray, shape: tuple[int, int], ahead: int) -> CensusResult:
    """Census of the lattice ``packed`` (np.packbits of its cells), carried ``ahead`` ticks.

    Carried here, not on the loop: moving thousands of objects on costs a few ms.
    """
    global _lookahead  # noqa: PLW0603 - the worker's one private lattice
    census = _census
    assert census is not None, "the worker was started without its census"
    alive = np.unpackbits(packed, count=shape[0] * shape[1]).reshape(shape)
    if _lookahead is None or _lookahead.shape != shape:
        _lookahead = BitPackedBackend(census.rule, shape, threads=1)
    _lookahead.set_cells(alive)
    future = []
    for _ in range(census.horizon):
        _lookahead.step(1)
        future.append(_lookahead.get_cells())
    return _shipped(carry(census.run(alive, future), ahead))


def _shipped(result: CensusResult) -> CensusResult:
    """``result`` as it travels to the loop: only what the detect system reads of it.

    Its islands are dropped, and its classes are those its objects use, without their phase
    cells (names, kinds and motion only). Unpickling a hundred full classes cost the loop's
    detection tick ~0.6 ms; these cost ~0.1 ms.
    """
    used, result.cls = np.unique(result.cls, return_inverse=True)
    light: dict[int, Classification] = {}  # one light copy of a class used twice
    result.classes = [light.setdefault(id(c), replace(c, phases=(), offsets=()))
                      for c in (result.classes[i] for i in used.tolist())]
    result.islands = result.owner = None
    return result


def _serve(conn: Connection, rule: str, horizon: int, max_period: int,
           budget: int | None) -> None:
    """The worker process: answer each ``(packed, shape, ahead)`` with its census, in order.

    A result goes back as ``(True, CensusResult)``, a failure as ``(False, one line)``; a None
    or the parent's end of the pipe closing ends the process.
    """
    threadpool_limits(1)  # the census is one thread's work: no BLAS team beside it
    beside_the_loop(process=True)
    _start(rule, horizon, max_period, budget)
    conn.send((True, None))  # ready
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the parent is gone
            return
        if job is None:
            return
        try:
            conn.send((True, _run(*job)))
        except Exception as err:  # noqa: BLE001 - reported to the parent, which raises it
            conn.send((False, f"{type(err).__name__}: {err}"))


class CensusWorker:
    """A census of one rule in its own process; :meth:`submit` returns a :class:`Pending`.

    A plain process and pipe, not a ``ProcessPoolExecutor``: the executor's manager thread
    takes the interpreter lock to unpickle each result whenever it arrives, and the loop's
    systems waited for it at random ticks (up to 5 ms, the lock's switch interval). Here the
    result is read on the loop, at the tick that joins it, and nowhere else.
    """

    def __init__(self, rule: Rule, horizon: int, max_period: int, budget: int | None) -> None:
        # spawn, not fork: the parent may hold torch's and the mirror's threads.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        # A daemonic process (a sweep's worker) may not have daemonic children; either way
        # the census ends when the parent's end of the pipe closes.
        self._process = ctx.Process(target=_serve, name="census",
                                    args=(child, str(rule), horizon, max_period, budget),
                                    daemon=not multiprocessing.current_process().daemon)
        self._process.start()
        child.close()
        self._sent = self._received = 0
        self._results: dict[int, CensusResult] = {}
        self._receive()  # start the process now (~1 s), not on the first detection tick

    def submit(self, alive: np.ndarray, ahead: int = 0) -> Pending:
        """Queue a census of ``alive``, carried ``ahead`` ticks forward (:func:`carry`).

        ``alive`` is copied now: the caller may change it at once.
        """
        shape = (int(alive.shape[0]), int(alive.shape[1]))
        try:
            self._conn.send((np.packbits(alive, axis=None), shape, ahead))
        except OSError:
            raise self._died() from None
        self._sent += 1
        return Pending(self, self._sent)

    def ready(self, number: int) -> bool:
        """Whether the ``number``-th result can be read without waiting."""
        return number in self._results or (self._received + 1 == number and self._conn.poll())

    def result(self, number: int) -> CensusResult:
        """The result of the ``number``-th submission (1-based), waiting for it if need be."""
        while number not in self._results:
            self._results[self._received + 1] = self._receive()
            self._received += 1
        return self._results.pop(number)

    def _receive(self) -> CensusResult:
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if not ok:
            raise RuntimeError(f"the census worker failed: {value}")
        result: CensusResult = value
        return result

    def _died(self) -> RuntimeError:
        self._process.join(timeout=1.0)
        return RuntimeError(f"the census worker died (exit code {self._process.exitcode})")

    def close(self) -> None:
        """Stop the worker (a census in progress is abandoned)."""
        if self._process.is_alive():
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._process.join(timeout=2.0)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()
        self._conn.close()


class Pending:
    """A census handed to a :class:`CensusWorker`: :meth:`result` waits for and returns it."""

    def __init__(self, worker: CensusWorker, number: int) -> None:
        self._worker = worker
        self._number = number
        self._result: CensusResult | None = None

    def ready(self) -> bool:
        """Whether :meth:`result` would return at once."""
        return self._result is not None or self._worker.ready(self._number)

    def result(self) -> CensusResult:
        """The census (read from the worker on the first call)."""
        if self._result is None:
            self._result = self._worker.result(self._number)
        return self._result


def carry(result: CensusResult, ticks: int) -> CensusResult:
    """``result`` ``ticks`` generations later: settled objects moved on along their cycles.

    Exact for every object that nothing disturbed meanwhile, which the census verified up to
    its horizon; unsettled objects stay where they were seen.
    """
    if ticks <= 0 or not len(result):
        return result
    settled = np.array([c.period > 0 for c in result.classes], bool)[result.cls]
    moving = moved_on(_select(result, np.flatnonzero(settled)), ticks)
    return _concat([moving, _select(result, np.flatnonzero(~settled))], result.shape)
