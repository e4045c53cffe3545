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
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from game.backends.bitpacked import BitPackedBackend
from game.patterns.census import Census, CensusResult, _concat, _select, moved_on
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
    result = census.run(alive, future)
    result.islands = result.owner = None  # the parent never needs them: do not ship them
    return carry(result, ahead)


def _ready() -> bool:
    return _census is not None


class CensusWorker:
    """A census of one rule in its own process; :meth:`submit` returns the result's future."""

    def __init__(self, rule: Rule, horizon: int, max_period: int, budget: int | None) -> None:
        # spawn, not fork: the parent may hold torch's and the mirror's threads.
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start, initargs=(str(rule), horizon, max_period, budget),
        )
        # Start the process now (~1 s), not on the first detection tick.
        self._pool.submit(_ready).result()

    def submit(self, alive: np.ndarray, ahead: int = 0) -> Future[CensusResult]:
        """Queue a census of ``alive``, carried ``ahead`` ticks forward (:func:`carry`).

        ``alive`` is copied now: the caller may change it at once.
        """
        shape = (int(alive.shape[0]), int(alive.shape[1]))
        return self._pool.submit(_run, np.packbits(alive, axis=None), shape, ahead)

    def close(self) -> None:
        """Stop the worker (a census in progress is abandoned)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


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
