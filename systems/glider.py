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

import math
from dataclasses import dataclass

import esper
import numpy as np
from scipy.ndimage import maximum_filter

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
    h, w = alive.shape
    ox, oy = round(x) - 2, round(y) - 2
    window = alive[np.ix_(np.arange(oy, oy + 5) % h, np.arange(ox, ox + 5) % w)]
    ys, xs = np.nonzero(window)
    if not len(xs):
        return None
    return (float(xs.mean()) + ox) % w, (float(ys.mean()) + oy) % h


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

    def process(self) -> None:
        """Board, ride, stamp, in that order (a glider stamped now is tracked next tick)."""
        if not (self.stamped or self.riding or self.net.boarding):
            return  # nothing rides: no need to look at the tracks
        tick = self.sim.tick + 1
        tracks = {t.track: t for _, t in esper.get_component(GliderTrack)}
        self._board(tick, tracks)
        self._ride(tick, tracks)
        self._stamp(tick)

    def _board(self, tick: int, tracks: dict[int, GliderTrack]) -> None:
        h, w = self.sim.shape
        taken = {esper.component_for_entity(e, Shard).track for e in self.riding}
        for eid, st in list(self.stamped.items()):
            shard = esper.component_for_entity(eid, Shard)
            best, best_d = None, MATCH
            for track in tracks.values():
                if track.track in taken or track.direction != st.direction:
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

    def _ride(self, tick: int, tracks: dict[int, GliderTrack]) -> None:
        alive = self.sim.substrate.alive
        h, w = alive.shape
        for eid in list(self.riding):
            shard = esper.component_for_entity(eid, Shard)
            track = tracks.get(shard.track or 0)
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
            centre = true_centroid(alive, track.cx, track.cy)
            if centre is not None:
                self.tracking.add(wrapped_distance(shard.x, shard.y, *centre, w, h))
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
        cells = sim.backend.get_cells()
        changed = False
        for eid in net.boarding:
            shard = esper.component_for_entity(eid, Shard)
            shard.rides += 1
            target = shard.target
            assert target is not None
            sx = 1 if ring_offset(shard.at[1], target[1], net.cols) > 0 else -1
            sy = 1 if ring_offset(shard.at[0], target[0], net.rows) > 0 else -1
            spot = self.find_spot(cells, shard.at, sx, sy)
            if spot is None:
                self._alight(tick, eid, shard, "no_room")
                continue
            y, x = spot
            h, w = cells.shape
            ys, xs = np.arange(y, y + 3) % h, np.arange(x, x + 3) % w
            cells[np.ix_(ys, xs)] |= GLIDER_SE[::sy, ::sx]
            changed = True
            shard.x, shard.y = float(x + 1), float(y + 1)
            self.stamped[eid] = Stamped(tick, x + 1.0, y + 1.0, HEADINGS[(sx, sy)])
        net.boarding.clear()
        if changed:
            sim.backend.set_cells(cells)
            np.copyto(sim.substrate.alive, cells)

    def find_spot(self, cells: np.ndarray, at: Cell, sx: int, sy: int) -> tuple[int, int] | None:
        """Top-left (y, x) in ``at``'s tile for a glider heading (sx, sy), or None.

        The glider's 7×7 surroundings must be empty; spots whose lane ahead (``LANE`` cells
        diagonally) is empty too are preferred. Ties go to the spot nearest the tile's centre.
        """
        h, w = cells.shape
        t = self.tile
        busy = maximum_filter(cells, size=7, mode="wrap").astype(bool)  # any live cell within 3
        y0, x0 = at[0] * t, at[1] * t
        cy = np.arange(y0 + 1, y0 + t - 1)  # glider centres whose 3×3 stays inside the tile
        cx = np.arange(x0 + 1, x0 + t - 1)
        free = ~busy[np.ix_(cy, cx)]
        lane = free.copy()
        for k in range(1, LANE + 1):
            lane &= ~busy[np.ix_((cy + k * sy) % h, (cx + k * sx) % w)]
        middle = (t - 2) / 2 - 0.5
        for mask in (lane, free):
            ys, xs = np.nonzero(mask)
            if len(ys):
                i = int(np.argmin((ys - middle) ** 2 + (xs - middle) ** 2))
                return int(cy[ys[i]]) - 1, int(cx[xs[i]]) - 1
        return None
