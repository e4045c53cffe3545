"""Accuracy of the census on generated lattices: known objects placed at random, found again.

Each trial places objects from a set of apgcodes on a torus, each in a random one of its 8
orientations, a random phase and a random position (also across the seams), far enough apart
not to interact within the census horizon. The census must find every one with the right
apgcode and bounding box (accuracy) and nothing else (false positives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from game.cells import Cells
from game.patterns.apgcode import decode_apgcode, orientations
from game.patterns.census import Census
from game.patterns.classify import classify
from game.rules import CONWAY, Rule


@dataclass(frozen=True, slots=True)
class Placed:
    """An object put on the lattice: its apgcode and bounding box (top-left on the torus)."""

    apgcode: str
    x: int
    y: int
    w: int
    h: int


@dataclass(slots=True)
class Score:
    """Tally of trials: placed, found right, detected in all, and the misses for diagnosis."""

    placed: int = 0
    found: int = 0
    detected: int = 0
    misses: list[str] | None = None

    @property
    def accuracy(self) -> float:
        """Found right / placed."""
        return self.found / self.placed if self.placed else 1.0

    @property
    def false_positive_rate(self) -> float:
        """Detected objects that match nothing placed / all detected."""
        return (self.detected - self.found) / self.detected if self.detected else 0.0


def random_lattice(
    rng: np.random.Generator,
    shape: tuple[int, int],
    codes: Sequence[str],
    count: int,
    rule: Rule = CONWAY,
    margin: int = 8,
) -> tuple[Cells, list[Placed]]:
    """A torus with up to ``count`` objects from ``codes``, ``margin`` cells apart at least."""
    h, w = shape
    lattice = np.zeros(shape, np.uint8)
    taken = np.zeros(shape, bool)
    placed: list[Placed] = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        code = codes[int(rng.integers(len(codes)))]
        images = orientations(decode_apgcode(code))
        base = images[int(rng.integers(len(images)))]
        c = classify(base, rule)
        phase = c.phases[int(rng.integers(max(1, c.period)))]
        ph, pw = phase.shape
        if ph + 2 * margin > h or pw + 2 * margin > w:
            continue
        x, y = int(rng.integers(w)), int(rng.integers(h))
        ys = np.arange(y - margin, y + ph + margin) % h
        xs = np.arange(x - margin, x + pw + margin) % w
        if taken[np.ix_(ys, xs)].any():
            continue
        taken[np.ix_(ys, xs)] = True
        lattice[np.ix_(np.arange(y, y + ph) % h, np.arange(x, x + pw) % w)] = phase
        placed.append(Placed(code, x, y, pw, ph))
    return lattice, placed


def score_trial(census: Census, lattice: Cells, placed: Sequence[Placed], tally: Score) -> None:
    """Run the census on ``lattice`` and add how well it recovered ``placed`` to ``tally``."""
    result = census.run(lattice)
    found = {(o.apgcode, o.x, o.y, o.w, o.h) for o in result.objects()}
    want = {(p.apgcode, p.x, p.y, p.w, p.h) for p in placed}
    tally.placed += len(placed)
    tally.detected += len(result)
    tally.found += len(found & want)
    if tally.misses is not None:
        tally.misses.extend(f"missed {m}" for m in sorted(want - found, key=str)[:5])
        tally.misses.extend(f"false {m}" for m in sorted(found - want, key=str)[:5])


def accuracy_run(
    codes: Sequence[str],
    trials: int,
    seed: int,
    sizes: Sequence[tuple[int, int]] = ((80, 80), (64, 100), (128, 128)),
    per_trial: int = 12,
    rule: Rule = CONWAY,
) -> Score:
    """Accuracy and false positives over ``trials`` random lattices of each size."""
    rng = np.random.default_rng(seed)
    tally = Score(misses=[])
    census = Census(rule, horizon=8, max_period=100)
    for shape in sizes:
        for _ in range(trials):
            lattice, placed = random_lattice(rng, shape, codes, per_trial, rule)
            score_trial(census, lattice, placed, tally)
    return tally
