"""Glider system: shards ride gliders through the lattice, tier 2 meeting tier 1.

A shard the route system handed over (``net.boarding``) gets a glider stamped in its bot's tile,
heading diagonally toward its target, on a spot whose surroundings and lane ahead are empty.
The next tick the detect system tracks the new glider and the shard boards it (``board``).
Every tick a riding shard takes its glider's position; when the glider enters another bot's
tile, that bot takes the shard (``handoff``, a hop) and delivers it if it is the target. The
shard goes on by link (``alight``) when no diagonal leg is left (``aligned``), when its glider
dies or collides (``track_lost``), when no glider was ever tracked (``no_track``), or when the
tile had no room to stamp one (``no_room``). A shard that alights joins the inbox of the bot
whose tile it is in even when that inbox is full: no shard is ever lost to glider transport.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import esper
import numpy as np

from components.pattern import GliderTrack
from components.shard import Shard
from game.events import Alight, Board, Expired, Handoff
from game.routers import DELIVER
from game.schedule import System
from game.shardnet import ShardNet
from game.topology import Cell, ring_offset
from game.world import Sim

GLIDER_SE = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)  # moves +x, +y (y grows down)
HEADINGS = {(1, 1): "SE", (1, -1): "NE", (-1, 1): "SW", (-1, -1): "NW"}  # (sx, sy) -> name
LANE = 8  # cells ahead (diagonally) that must be empty for a preferred spot
MATCH = 3.0  # how far from its stamp a newborn track may be to carry the stamped shard


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
class Stamped:
    """A glider stamped for a shard, waiting for the detect system to track it."""

    tick: int
    cx: float
    cy: float
    direction: str


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


def wrapped_distance(ax: float, ay: float, bx: float, by: float, w: int, h: int) -> float:
    """Euclidean distance on the torus."""
    dx = abs(ax - bx) % w
    dy = abs(ay - by) % h
    return math.hypot(min(dx, w - dx), min(dy, h - dy))


class GliderSystem(System):
    """Stamps gliders for boarding shards, moves riders with their tracks, hands them over."""

    phase = "glider"

    def __init__(self, sim: Sim, net: ShardNet) -> None:
        self.sim = sim
        self.net = net
        self.tile = sim.config.mesh.tile
        self.stamped: dict[int, Stamped] = {}
        self.riding: dict[int, None] = {}  # shard entities, in boarding order
        self.tracking = TrackingStats()
        self.boards = self.handoffs = 0
        self.alights: dict[str, int] = {}
        # Tile offsets a spot search's window reaches: whatever the heading, the tile and
        # LANE + 2 cells on each side (see find_spots).
        t = self.tile
        tiles = range(-(LANE + 2) // t, (t + LANE + 1) // t + 1)
        self._reach = [(dr, dc) for dr in tiles for dc in tiles]

    def process(self) -> None:
        """Board, ride, stamp, in that order (a glider stamped now is tracked next tick)."""
        tick = self.sim.tick + 1
        if self.stamped or self.riding:  # else no need to look at the tracks
            tracks = {t.track: t for _, t in esper.get_component(GliderTrack)}
            self._board(tick, tracks)
            self._ride(tick, tracks)
        self._stamp(tick)

    def _board(self, tick: int, tracks: dict[int, GliderTrack]) -> None:
        if not self.stamped:
            return
        h, w = self.sim.shape
        taken = {esper.component_for_entity(e, Shard).track for e in self.riding}
        stamped = list(self.stamped.items())
        near = self._candidates(tracks, [st for _, st in stamped])
        for (eid, st), candidates in zip(stamped, near, strict=True):
            shard = esper.component_for_entity(eid, Shard)
            best, best_d = None, MATCH
            for track in candidates:  # in track order, so ties go as over all tracks
                if track.track in taken:
                    continue
                d = wrapped_distance(track.cx, track.cy, st.cx, st.cy, w, h)
                if d <= best_d:
                    best, best_d = track, d
            if best is not None:
                del self.stamped[eid]
                taken.add(best.track)
                shard.track, shard.x, shard.y = best.track, best.cx, best.cy
                self.riding[eid] = None
                self.boards += 1
                self.sim.events.emit(Board(tick=tick, shard=shard.id, at=shard.at,
                                           track=best.track, direction=best.direction,
                                           x=round(best.cx, 3), y=round(best.cy, 3)))
            elif tick - st.tick >= 2:
                del self.stamped[eid]
                self._alight(tick, eid, shard, "no_track")

    def _candidates(self, tracks: dict[int, GliderTrack], stamps: list[Stamped]
                    ) -> list[list[GliderTrack]]:
        """Per stamp, in track order, the tracks heading its way in the tiles within ``MATCH``.

        Tracks are filed by tile once, so a stamp looks at a few tiles' tracks, not at all of
        them; the exact distance then decides among these.
        """
        if not tracks:
            return [[] for _ in stamps]
        t = self.tile
        rows, cols = self.net.rows, self.net.cols
        filed: dict[tuple[str, int, int], list[tuple[int, GliderTrack]]] = {}
        for i, track in enumerate(tracks.values()):
            home = (math.floor(track.cy / t) % rows, math.floor(track.cx / t) % cols)
            filed.setdefault((track.direction, *home), []).append((i, track))
        reach = MATCH + 1e-6  # the lattice is whole tiles: a box this wide wraps tile by tile
        out: list[list[GliderTrack]] = []
        for st in stamps:
            ys = range(math.floor((st.cy - reach) / t), math.floor((st.cy + reach) / t) + 1)
            xs = range(math.floor((st.cx - reach) / t), math.floor((st.cx + reach) / t) + 1)
            keys = {(st.direction, r % rows, c % cols) for r in ys for c in xs}
            near = sorted((found for key in keys for found in filed.get(key, ())),
                          key=lambda found: found[0])
            out.append([track for _, track in near])
        return out

    def _ride(self, tick: int, tracks: dict[int, GliderTrack]) -> None:
        if not self.riding:
            return
        alive = self.sim.substrate.alive
        h, w = alive.shape
        riders = [(eid, esper.component_for_entity(eid, Shard)) for eid in self.riding]
        ridden = [tracks.get(shard.track or 0) for _, shard in riders]
        # Each rider with a track takes its position, then is checked against the lattice's
        # true centroid there: all in one pass, in riding order (nothing below reads them).
        live = [t for t in ridden if t is not None]
        tx, ty = np.array([t.cx for t in live]), np.array([t.cy for t in live])
        cx, cy, found = true_centroids(alive, tx, ty)
        dx, dy = np.abs(tx - cx)[found] % w, np.abs(ty - cy)[found] % h
        # math.hypot as wrapped_distance has it: the same last bit
        self.tracking.add_all(list(map(math.hypot, np.minimum(dx, w - dx).tolist(),
                                       np.minimum(dy, h - dy).tolist())))
        for (eid, shard), track in zip(riders, ridden, strict=True):
            if track is None:
                # Lost: the shard is where its glider last was.
                cell = (int(shard.y) // self.tile, int(shard.x) // self.tile)
                del self.riding[eid]
                if cell != shard.at and not self.net.bots[cell].down:
                    if self._handoff(tick, eid, shard, cell):
                        continue
                self._alight(tick, eid, shard, "track_lost")
                continue
            shard.x, shard.y = track.cx, track.cy
            cell = (track.row, track.col)
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
            shard.x, shard.y = float(x + 1), float(y + 1)
            self.stamped[eid] = Stamped(tick, x + 1.0, y + 1.0, HEADINGS[(sx, sy)])
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
