"""Components of pattern entities: a detected object, and a glider's track across ticks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Pattern:
    """A settled object found by the detect system (still life, oscillator or spaceship).

    ``x, y, w, h`` is its bounding box at ``tick`` (top-left on the torus), ``phase`` its phase
    at ``tick`` (phase 0 is fixed per object and its phases count up around its cycle);
    ``dx, dy`` its displacement per ``period`` (zero unless it is a spaceship). Stationary
    objects are not rewritten every tick: their phase at a later tick t is
    ``(phase + t - tick) % period``.
    """

    apgcode: str
    name: str | None
    kind: str
    x: int
    y: int
    w: int
    h: int
    period: int
    dx: int
    dy: int
    phase: int
    tick: int
    born: int

    def phase_at(self, tick: int) -> int:
        """The canonical phase at ``tick`` (stationary objects advance one phase a tick)."""
        return (self.phase + tick - self.tick) % self.period


@dataclass(slots=True)
class GliderTrack:
    """A glider followed across ticks: centroid (wrapped), heading, phase, mesh cell."""

    track: int
    direction: str
    cx: float
    cy: float
    phase: int
    row: int
    col: int
    born: int
