"""Glider system: shards ride gliders through the lattice, tier 2 meeting tier 1.

A shard the route system handed over (``net.boarding``) gets a glider stamped in its bot's tile,
heading diagonally toward its target, on a spot whose surroundings and lane ahead are empty.
The system follows the gliders it stamps itself (a *flight*): a lone glider's next generation is
known, so each tick it reads the 5×5 window around where the glider must now be and checks that
it holds exactly that phase and nothing else. A glider that flew its first generation so takes
its shard aboard (``board``); a riding shard takes its glider's centroid every tick, and when
the glider enters another bot's tile, that bot takes the shard (``handoff``, a hop) and delivers
it if it is the target. The shard goes on by link (``alight``) when no diagonal leg is left
(``aligned``), when its glider's window no longer holds what a lone glider's would (it hit
something or something hit it: ``track_lost``), when the stamped glider did not fly its first
generation (``no_track``), or when the tile had no room to stamp one (``no_room``). A shard
that alights joins the inbox of the bot whose tile it is in even when that inbox is full: no
shard is ever lost to glider transport.

Following its own gliders, the system needs no census: it works with detection off, run on a
cadence or in a worker (the detect system's glider tracks are for the overlays and events).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import esper
import numpy as np

from components.pattern import DIRECTIONS
from components.shard import Shard
from game.backends.reference import reference_step
from game.cells import Cell
from game.engine.events import Alight, Board, Expired, Handoff
from game.engine.schedule import System
from game.engine.world import Sim
from game.errors import BadInput
from game.routers import DELIVER
from game.rules import CONWAY, Rule
from game.shardnet import ShardNet
from game.topology import ring_offset

GLIDER_SE = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)  # moves +x, +y (y grows down)
LANE = 8  # cells ahead (diagonally) that must be empty for a preferred spot


@dataclass(slots=True)
class TrackingStats:
    """Per riding shard and tick: distance from the shard to its glider's true centroid."""

    samples: int = 0
    within: int = 0  # samples within ``limit`` cells
    worst: float = 0.0
    total: float = 0.0
    limit: float = 2.5

    def add(self, error: float) -> None:
        """Record one sample."""
        self.samples += 1
        self.within += error <= self.limit
        self.worst = max(self.worst, error)
        self.total += error

    def add_all(self, errors: list[float]) -> None:
        """Record samples in order (``total`` sums them one by one, as ``add`` would)."""
        for error in errors:
            self.add(error)

    @property
    def share_within(self) -> float:
        """Fraction of samples within ``limit`` (1.0 when there are none)."""
        return self.within / self.samples if self.samples else 1.0


@dataclass(slots=True)
class Flight:
    """A glider the system stamped and follows: its 3×3 box, phase and centroid.

    ``y, x`` is the box's top-left (not wrapped: it is taken modulo the lattice when read),
    ``sx, sy`` the heading, ``phase`` counts generations since the stamp modulo 4, and
    ``track`` numbers the flight in the events (``board``, ``handoff``, ``alight``).
    """

    track: int
    tick: int
    y: int
    x: int
    sx: int
    sy: int
    phase: int = 0
    cx: float = 0.0
    cy: float = 0.0

    @property
    def direction(self) -> str:
        """NE, NW, SE or SW."""
        return DIRECTIONS[(self.sx, self.sy)]


@functools.lru_cache(maxsize=16)
def flight_phases(sx: int, sy: int, rule: Rule = CONWAY
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A lone glider heading (sx, sy), stamped as :data:`GLIDER_SE` mirrored, phase by phase.

    Worked out by stepping it under ``rule`` with the reference backend, not written by hand.
    Returns ``windows`` (4, 5, 5): phase k's 3×3 box with its empty 1-cell border; ``moves``
    (4, 2): how the box's top-left (y, x) moves from phase k to k + 1; ``centroids`` (4, 2): the
    live cells' centroid (y, x) from the box's top-left. None when under ``rule`` the pattern
    does not come back as itself one cell further along its diagonal after 4 generations (it is
    no glider there).
    """
    cells = np.zeros((12, 12), np.uint8)
    cells[4:7, 4:7] = GLIDER_SE[::sy, ::sx]
    windows = np.zeros((5, 5, 5), np.uint8)
    corners = np.zeros((5, 2), np.int64)
    centroids = np.zeros((5, 2), np.float64)
    for k in range(5):
        ys, xs = np.nonzero(cells)
        if not len(ys) or np.ptp(ys) != 2 or np.ptp(xs) != 2:
            return None
        y, x = corners[k] = ys.min(), xs.min()
        windows[k, 1:4, 1:4] = cells[y:y + 3, x:x + 3]
        centroids[k] = ys.mean() - y, xs.mean() - x
        cells = reference_step(cells, rule)
    if not np.array_equal(windows[4], windows[0]) or tuple(corners[4] - corners[0]) != (sy, sx):
        return None
    out = windows[:4], np.diff(corners, axis=0), centroids[:4]
    for a in out:
        a.flags.writeable = False
    return out


def true_centroid(alive: np.ndarray, x: float, y: float) -> tuple[float, float] | None:
    """Centroid of the live cells in the 5×5 window around (x, y), wrapped; None if empty.

    Read from the lattice itself, so it checks a track's estimate independently.
    """
    cx, cy, found = true_centroids(alive, np.array([x]), np.array([y]))
    return (float(cx[0]), float(cy[0])) if found[0] else None


def true_centroids(alive: np.ndarray, x: np.ndarray, y: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`true_centroid` for many points at once: centroids x, y and whether any was found.

    Where a window is empty its centroid is NaN and ``found`` is False.
    """
    h, w = alive.shape
    # Python's round() and np.rint both round half to even: the same windows as one by one.
    ox = np.rint(x).astype(np.int64) - 2
    oy = np.rint(y).astype(np.int64) - 2
    five = np.arange(5)
    flat = ((oy[:, None] + five) % h * w)[:, :, None] + ((ox[:, None] + five) % w)[:, None, :]
    window = np.take(alive, flat)  # a flat take is much cheaper than a 2-D fancy index
    count = window.sum(axis=(1, 2), dtype=np.int64)
    found = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        # Integer sums are exact, so sum / count is bit-identical to the mean of the indices.
        mx = (window.sum(axis=1, dtype=np.int64) @ five) / count
        my = (window.sum(axis=2, dtype=np.int64) @ five) / count
    return (mx + ox) % w, (my + oy) % h, found


class GliderSystem(System):
    """Stamps gliders for boarding shards, follows them, moves riders, hands them over."""

    phase = "glider"

    def __init__(self, sim: Sim, net: ShardNet) -> None:
        self.sim = sim
        self.net = net
        self.tile = sim.config.mesh.tile
        if flight_phases(1, 1, sim.rule) is None:
            raise BadInput(f"route.transport {sim.config.route.transport}: under rule "
                           f"{sim.rule} a glider does not fly; use route.transport: link")
        self.stamped: dict[int, Flight] = {}  # shard entity -> its glider, before boarding
        self.riding: dict[int, Flight] = {}  # in boarding order
        self.tracking = TrackingStats()
        self.boards = self.handoffs = 0
        self.alights: dict[str, int] = {}
        self._flights = 0
        # Tile offsets a spot search's window reaches: whatever the heading, the tile and
        # LANE + 2 cells on each side (see find_spots).
        t = self.tile
        tiles = range(-(LANE + 2) // t, (t + LANE + 1) // t + 1)
        self._reach = [(dr, dc) for dr in tiles for dc in tiles]

    def process(self) -> None:
        """Follow, board, ride, stamp, in that order (a glider stamped now boards next tick)."""
        tick = self.sim.tick + 1
        flights = [*self.stamped.values(), *self.riding.values()]
        if flights:
            lost = self._follow(flights)
            self._board(tick, lost)
            self._ride(tick, lost)
            self.net.flush_trails()  # the trails of shards delivered off a glider
        self._stamp(tick)

    def _follow(self, flights: list[Flight]) -> set[int]:
        """Move every flight one generation on; the tracks whose window is not as predicted.

        All flights at once: each one's box moves as its phase says, and the 5×5 window around
        it must hold exactly the glider's next phase, with nothing else in its 1-cell border.
        """
        alive = self.sim.substrate.alive
        h, w = alive.shape
        rule = self.sim.rule
        tops = np.empty((len(flights), 2), np.int64)
        expected = np.empty((len(flights), 5, 5), np.uint8)
        for i, f in enumerate(flights):
            phases = flight_phases(f.sx, f.sy, rule)
            assert phases is not None  # totalistic rules are symmetric: checked at start
            windows, moves, centroids = phases
            f.y += int(moves[f.phase, 0])
            f.x += int(moves[f.phase, 1])
            f.phase = (f.phase + 1) % 4
            f.cy = (f.y + float(centroids[f.phase, 0])) % h
            f.cx = (f.x + float(centroids[f.phase, 1])) % w
            tops[i] = f.y - 1, f.x - 1
            expected[i] = windows[f.phase]
        five = np.arange(5)
        flat = ((tops[:, 0, None] + five) % h * w)[:, :, None] + ((tops[:, 1, None] + five)
                                                                  % w)[:, None, :]
        intact = (np.take(alive, flat) == expected).all(axis=(1, 2)).tolist()
        return {f.track for f, ok in zip(flights, intact, strict=True) if not ok}

    def _board(self, tick: int, lost: set[int]) -> None:
        """Stamped gliders that flew their first generation take their shards aboard."""
        for eid, flight in list(self.stamped.items()):
            del self.stamped[eid]
            shard = esper.component_for_entity(eid, Shard)
            if flight.track in lost:
                self._alight(tick, eid, shard, "no_track")
                continue
            shard.track, shard.x, shard.y = flight.track, flight.cx, flight.cy
            self.riding[eid] = flight
            self.boards += 1
            self.sim.events.emit(Board(tick=tick, shard=shard.id, at=shard.at,
                                       track=flight.track, direction=flight.direction,
                                       x=round(flight.cx, 3), y=round(flight.cy, 3)))

    def _ride(self, tick: int, lost: set[int]) -> None:
        if not self.riding:
            return
        alive = self.sim.substrate.alive
        h, w = alive.shape
        riders = [(eid, esper.component_for_entity(eid, Shard), f)
                  for eid, f in self.riding.items()]
        # Each flying rider takes its glider's centroid, checked against the lattice's true
        # centroid there (an independent reading): all in one pass, in riding order.
        live = [f for _, _, f in riders if f.track not in lost]
        tx, ty = np.array([f.cx for f in live]), np.array([f.cy for f in live])
        cx, cy, found = true_centroids(alive, tx, ty)
        dx, dy = np.abs(tx - cx)[found] % w, np.abs(ty - cy)[found] % h
        # the wrapped distance on the torus
        self.tracking.add_all(list(map(math.hypot, np.minimum(dx, w - dx).tolist(),
                                       np.minimum(dy, h - dy).tolist())))
        for eid, shard, flight in riders:
            if flight.track in lost:
                # Lost: the shard is where its glider last flew as a glider.
                cell = (int(shard.y) // self.tile, int(shard.x) // self.tile)
                del self.riding[eid]
                if cell != shard.at and not self.net.bots[cell].down:
                    if self._handoff(tick, eid, shard, cell):
                        continue
                self._alight(tick, eid, shard, "track_lost")
                continue
            shard.x, shard.y = flight.cx, flight.cy
            cell = (int(flight.cy) // self.tile, int(flight.cx) // self.tile)
            if cell == shard.at or self.net.bots[cell].down:
                continue
            if self._handoff(tick, eid, shard, cell):
                del self.riding[eid]
                continue
            target = shard.target
            assert target is not None
            net = self.net
            if not ring_offset(cell[0], target[0], net.rows) or not ring_offset(
                    cell[1], target[1], net.cols):
                del self.riding[eid]
                self._alight(tick, eid, shard, "aligned")

    def _handoff(self, tick: int, eid: int, shard: Shard, cell: Cell) -> bool:
        """Move the shard to the bot of ``cell``; True when that ended the shard."""
        self.handoffs += 1
        self.sim.events.emit(Handoff(tick=tick, shard=shard.id, from_=shard.at, to=cell,
                                     track=shard.track or 0))
        shard.at = cell
        shard.path.append(cell)
        shard.hops += 1
        router = self.net.router
        assert router is not None
        if router.decide(shard, cell, shard.path) == DELIVER:
            self.net.deliver(self.sim.events, tick, eid, shard)
            return True
        if shard.hops >= shard.ttl:
            self.net.end(self.sim.events, eid,
                         Expired(tick=tick, shard=shard.id, at=cell, hops=shard.hops))
            return True
        return False

    def _alight(self, tick: int, eid: int, shard: Shard, reason: str) -> None:
        """Back to link transport in the inbox of the bot holding the shard (even if full)."""
        self.alights[reason] = self.alights.get(reason, 0) + 1
        self.sim.events.emit(Alight(tick=tick, shard=shard.id, at=shard.at,
                                    track=shard.track or 0, reason=reason))
        shard.transport = "link"
        shard.track = None
        shard.waiting = 0
        self.net.bots[shard.at].inbox.append(eid)

    def _stamp(self, tick: int) -> None:
        net = self.net
        if not net.boarding:
            return
        sim = self.sim
        pending: list[tuple[int, Shard, int, int]] = []
        for eid in net.boarding:
            shard = esper.component_for_entity(eid, Shard)
            shard.rides += 1
            target = shard.target
            assert target is not None
            sx = 1 if ring_offset(shard.at[1], target[1], net.cols) > 0 else -1
            sy = 1 if ring_offset(shard.at[0], target[0], net.rows) > 0 else -1
            pending.append((eid, shard, sx, sy))
        net.boarding.clear()
        cells = sim.backend.get_cells()
        # Search every tile at once, then stamp in boarding order. A stamp changes only the
        # searches whose window reaches its tile: those are searched again on the stamped
        # lattice, so each shard finds what a search in turn would have found.
        spots = find_spots(cells, self.tile, [p[1].at for p in pending],
                           np.array([p[2] for p in pending]), np.array([p[3] for p in pending]))
        rows, cols = net.rows, net.cols
        spoiled: set[int] = set()  # tiles as r·cols + c: plain ints, nothing for the gc to track
        changed = False
        for (eid, shard, sx, sy), spot in zip(pending, spots, strict=True):
            r, c = shard.at
            if spot is not None and r * cols + c in spoiled:  # stamps only add cells: None stays
                spot = find_spots(cells, self.tile, [shard.at], np.array([sx]), np.array([sy]))[0]
            if spot is None:
                self._alight(tick, eid, shard, "no_room")
                continue
            y, x = spot
            cells[y:y + 3, x:x + 3] |= GLIDER_SE[::sy, ::sx]  # inside the tile: no wrap
            changed = True
            spoiled.update((r - dr) % rows * cols + (c - dc) % cols for dr, dc in self._reach)
            self._flights += 1
            flight = Flight(self._flights, tick, y, x, sx, sy)
            phases = flight_phases(sx, sy, sim.rule)
            assert phases is not None
            flight.cy, flight.cx = (float(y + phases[2][0, 0]), float(x + phases[2][0, 1]))
            shard.x, shard.y = flight.cx, flight.cy
            self.stamped[eid] = flight
        if changed:
            sim.backend.set_cells(cells)
            np.copyto(sim.substrate.alive, cells)


def find_spots(cells: np.ndarray, tile: int, ats: list[Cell], sx: np.ndarray, sy: np.ndarray
               ) -> list[tuple[int, int] | None]:
    """Top-left (y, x) in each tile ``ats[i]`` for a glider heading (sx[i], sy[i]), or None.

    The glider's 7×7 surroundings must be empty; spots whose lane ahead (``LANE`` cells
    diagonally) is empty too are preferred. Ties go to the spot nearest the tile's centre, then
    to the first in the tile's row-major order. Each tile is searched on ``cells`` as given.
    """
    n = tile - 2  # glider centres per side whose 3×3 stays inside the tile
    if n < 1 or not ats:
        return [None] * len(ats)
    h, w = cells.shape
    top = np.array([a[0] for a in ats], np.int64) * tile
    left = np.array([a[1] for a in ats], np.int64) * tile
    offsets, places, tier = _search_layout(tile)
    # One window per tile, stacked on the last axis (long contiguous runs for numpy), mirrored
    # so that its glider heads +x, +y: the same slices then serve every heading.
    rows = offsets[:, (sy < 0).astype(np.intp)] + top
    cols = offsets[:, (sx < 0).astype(np.intp)] + left
    flat = (rows % h * w)[:, None, :] + (cols % w)[None, :, :]
    empty = np.take(cells, flat) == 0  # a flat take is much cheaper than a 2-D fancy index
    clear = _runs(_runs(empty, 7, (0, 1)), 7, (1, 0))  # no live cell within 3 of a centre
    free = clear[:n, :n]
    lane = _runs(clear, LANE + 1, (1, 1))  # ... nor of the LANE centres ahead
    place = places[:, :, 2 * (sy < 0) + (sx < 0)]
    best = (place + np.where(lane, 0, np.where(free, tier, 2 * tier))).reshape(n * n, -1).min(0)
    spot = best % (n * n)
    ys, xs = (top + spot // n).tolist(), (left + spot % n).tolist()
    found = (best < 2 * tier).tolist()
    return [(y, x) if f else None for y, x, f in zip(ys, xs, found, strict=True)]


@functools.lru_cache(maxsize=4)
def _search_layout(tile: int) -> tuple[np.ndarray, np.ndarray, int]:
    """What :func:`find_spots` needs for a tile size, worked out once.

    ``offsets`` (L, 2): the rows (or columns) of a search window from the tile's corner, as
    they are (0) or mirrored (1). The window holds only what can matter, not the lattice: the
    7×7 surroundings of the centres (offsets 1 to n) and of their lanes ahead.

    ``places`` (n, n, 4), by heading 2·(sy < 0) + (sx < 0): each spot's key in the window,
    least is best: distance from the tile's centre (its square, times 4 to stay integer; the
    same mirrored), then the spot's place in the tile's own row-major order. ``tier`` is more
    than any place: add it for a spot with no clear lane, twice for no room at all.
    """
    n = tile - 2
    u = np.arange(-2, n + LANE + 4)
    offsets = np.stack((u, tile - 1 - u), axis=1)
    j = np.arange(n)
    near = (2 * j - (n - 1)) ** 2
    order = (near[:, None] + near[None, :]) * (n * n)
    places = np.empty((n, n, 4), np.int64)
    for heading in range(4):
        ry = j if heading < 2 else n - 1 - j  # the spot's row and column in the tile
        rx = j if heading % 2 == 0 else n - 1 - j
        places[:, :, heading] = order + ry[:, None] * n + rx[None, :]
    offsets.flags.writeable = places.flags.writeable = False  # shared by every call
    return offsets, places, (2 * (n - 1) ** 2 + 1) * n * n


def _runs(a: np.ndarray, length: int, step: tuple[int, int]) -> np.ndarray:
    """Where ``a`` (Y, X, k) holds at ``length`` points from p on, ``step`` (dy, dx) apart.

    Doubling the run each time: a few whole-array ANDs, not one per point. The result is
    (Y - (length - 1)·dy, X - (length - 1)·dx, k).
    """
    dy, dx = step
    have = 1
    while have < length:
        s = min(have, length - have)  # two runs of ``have`` that overlap or touch
        y, x = a.shape[0] - s * dy, a.shape[1] - s * dx
        a = a[:y, :x] & a[s * dy:, s * dx:]
        have += s
    return a
