"""Components of pattern entities: a detected object, and a glider's track across ticks."""

from __future__ import annotations

from dataclasses import dataclass

#: A diagonal heading by the signs of its steps (x, y), y growing downwards: (1, -1) is NE.
DIRECTIONS = {(1, -1): "NE", (-1, -1): "NW", (1, 1): "SE", (-1, 1): "SW"}


def _sign(v: int) -> int:
    return (v > 0) - (v < 0)


@dataclass(frozen=True, slots=True)
class DetectedObject:
    """One object of a census, in lattice coordinates (x: column, y: row).

    ``x, y`` is the top-left of its bounding box (the box may wrap across the seams), ``phase``
    its phase in its cycle (phase 0 is fixed per object: its phases count up from there),
    ``dx, dy`` its displacement per ``period`` (spaceships only), ``cx, cy`` its centroid.
    """

    apgcode: str | None
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
    population: int
    cx: float
    cy: float

    @property
    def direction(self) -> str | None:
        """NE, NW, SE or SW for diagonal spaceships (y grows downwards); None otherwise."""
        if not self.dx or not self.dy:
            return None
        return DIRECTIONS[(_sign(self.dx), _sign(self.dy))]


@dataclass(frozen=True, slots=True)
class Pattern(DetectedObject):
    """A settled object found by the detect system, as seen at ``tick`` (first seen at ``born``).

    Stationary objects are not rewritten every tick: their phase at a later tick t is
    ``(phase + t - tick) % period``.
    """

    tick: int
    born: int

    def phase_at(self, tick: int) -> int:
        """The phase at ``tick`` (stationary objects advance one phase a tick)."""
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
