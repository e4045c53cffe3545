"""Detect system: the objects of the lattice every tick, as pattern entities, and glider tracks.

Each tick it carries the last :class:`game.patterns.census.Census` result forward and
re-examines only the regions where the lattice stopped following it (a full census on the
first tick, after an edit, or when most of the lattice changed). The whole lattice's next
``lookahead`` generations, which separation needs, are kept in a ring advanced by one generation
a tick on a private bit-packed lattice (rebuilt only when a command edited the lattice), so
looking ahead costs one extra CA step a tick. Shapes are classified once and cached.

Settled objects become pattern entities. Stationary ones keep their entity while they stay put
(identified by apgcode and the centre of their cycle); spaceships are matched to
their position one tick earlier; gliders carry a :class:`GliderTrack` and emit ``track_born``,
``track_crossed`` and ``track_lost`` events.
"""

from __future__ import annotations

from collections import deque

import esper
import numpy as np

from components.pattern import GliderTrack, Pattern
from game.backends.bitpacked import BitPackedBackend
from game.engine.events import TrackBorn, TrackCrossed, TrackLost
from game.engine.schedule import System
from game.engine.world import Sim
from game.errors import ConfigError
from game.patterns.census import Census, CensusResult
from game.patterns.worker import CensusWorker, Pending

GLIDER = "xq4_153"


class Lookahead:
    """The lattice's next generations, kept ``depth`` ahead of the substrate."""

    def __init__(self, sim: Sim, depth: int) -> None:
        self.depth = depth
        self.backend = BitPackedBackend(sim.rule, sim.shape, threads=1)
        self.frames: deque[np.ndarray] = deque()
        self.rebuilt = True  # whether the last call had to recompute (an edit, or the start)

    def future(self, now: np.ndarray) -> list[np.ndarray]:
        """Generations now+1 .. now+depth of ``now``."""
        self.rebuilt = not (self.frames and np.array_equal(self.frames[0], now))
        if not self.rebuilt:
            self.frames.popleft()  # the frame predicted for now; keep the rest
            self.backend.step(1)
            self.frames.append(self.backend.get_cells())
        else:  # first tick, or a command edited the lattice: recompute
            self.backend.set_cells(now)
            self.frames.clear()
            for _ in range(self.depth):
                self.backend.step(1)
                self.frames.append(self.backend.get_cells())
        return list(self.frames)

    def close(self) -> None:
        """Release the private lattice."""
        self.backend.close()


class DetectSystem(System):
    """Census of the lattice each tick; pattern entities; glider tracks and their events."""

    phase = "detect"

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        cfg = sim.config.detect
        if 0 in sim.rule.birth:
            raise ConfigError(
                f"detect: rule {sim.rule} has B0, which detection does not support; "
                "set detect.enabled: false"
            )
        self.every = cfg.every
        # A spaceship moves at most a cell a tick: match within that, plus slack for centroids.
        self.reach = 2.0 + cfg.every
        self.census = Census(sim.rule, horizon=cfg.lookahead, max_period=cfg.max_period,
                             budget=cfg.budget or None)
        # Inline, the loop keeps the look-ahead ring; with a worker, the worker computes it.
        self.lookahead: Lookahead | None = None
        self.worker: CensusWorker | None = None
        if cfg.worker:
            self.worker = CensusWorker(sim.rule, cfg.lookahead, cfg.max_period,
                                       cfg.budget or None)
        else:
            self.lookahead = Lookahead(sim, cfg.lookahead)
        self._pending: Pending | None = None
        self._outbox: np.ndarray | None = None  # a lattice to hand over at the end of the tick
        self.tile = sim.config.mesh.tile
        self.latest: CensusResult | None = None
        self.carried = False  # whether the last result was carried forward, not recomputed
        # Stationary objects: sorted keys (apgcode id, cycle centre) and their entities.
        self._keys = np.zeros(0, np.int64)
        self._entities = np.zeros(0, np.int64)
        self._code_ids: dict[str, int] = {}
        self._moving: dict[int, tuple[str, float, float]] = {}  # entity -> (apgcode, cx, cy)
        self._next_track = 1

    def process(self) -> None:
        """Detect the objects of the tick just computed by the ca system."""
        tick = self.sim.tick + 1
        alive = self.sim.substrate.alive
        if self.worker is not None:
            self._beside(tick)
            return
        assert self.lookahead is not None
        future = self.lookahead.future(alive)
        if tick % self.every:
            return
        result = None
        if self.latest is not None and self.every == 1 and not self.lookahead.rebuilt:
            # Carry the last census forward, re-examining only the regions that changed.
            result = self.census.advance(self.latest, alive, future)
        self.carried = result is not None
        if result is None:
            result = self.census.run(alive, future)
        self.latest = result
        self._update_entities(result, tick)

    def _beside(self, tick: int) -> None:
        """Worker mode: collect the last detection's census, carried to now; keep this lattice.

        The lattice goes to the worker in :meth:`hand_over`, at the end of the tick.

        Waits for a late census rather than go on without it (determinism).
        """
        if tick % self.every:
            if (tick + 1) % self.every == 0 and self._pending is not None and self._pending.ready():
                self._pending.result()  # read (unpickled) now, one tick early, if it is there
            return
        if self._pending is not None:
            self.latest = self._pending.result()  # carried to this tick by the worker
            self._update_entities(self.latest, tick)
        # This tick's lattice, handed over at the end of the tick (later systems edit it).
        self._outbox = self.sim.substrate.alive.copy()

    def hand_over(self) -> None:
        """Worker mode: hand the detection tick's lattice to the census worker."""
        if self._outbox is not None:
            assert self.worker is not None
            self._pending = self.worker.submit(self._outbox, ahead=self.every)
            self._outbox = None

    def close(self) -> None:
        """Stop the census worker, if any, and release the look-ahead lattice."""
        if self.worker is not None:
            self.worker.close()
        if self.lookahead is not None:
            self.lookahead.close()

    def _update_entities(self, r: CensusResult, tick: int) -> None:
        """Stationary objects keep their entity while they stay; spaceships are matched."""
        h, w = r.shape
        code_of = [c.apgcode for c in r.classes]
        moving = np.array([bool(c.dx or c.dy) for c in r.classes], bool)
        settled = np.array([c.apgcode is not None for c in r.classes], bool)
        ids = np.array([self._code_ids.setdefault(code, len(self._code_ids)) if code else -1
                        for code in code_of], np.int64)
        still = np.flatnonzero(settled[r.cls] & ~moving[r.cls])
        # One integer per stationary object: apgcode id, then the centre of its cycle.
        keys = (ids[r.cls[still]] << 44) | (r.anchor_y[still] << 22) | r.anchor_x[still]
        order = np.argsort(keys, kind="stable")
        keys, still = keys[order], still[order]
        kept = np.isin(keys, self._keys)
        gone = ~np.isin(self._keys, keys)
        for entity in self._entities[gone].tolist():
            esper.delete_entity(entity, immediate=True)
        entities = np.zeros(len(keys), np.int64)
        if kept.any():
            entities[kept] = self._entities[np.searchsorted(self._keys, keys[kept])]
        for j in np.flatnonzero(~kept).tolist():
            entities[j] = esper.create_entity(self._pattern(r, int(still[j]), tick, tick))
        self._keys, self._entities = keys, entities
        now = np.flatnonzero(settled[r.cls] & moving[r.cls]).tolist()
        self._update_moving(r, now, tick, (h, w))

    @staticmethod
    def _pattern(r: CensusResult, i: int, tick: int, born: int) -> Pattern:
        return Pattern(**r.fields(i), tick=tick, born=born)

    def _update_moving(self, r: CensusResult, now: list[int], tick: int,
                       shape: tuple[int, int]) -> None:
        """Match spaceships to the last census's by apgcode and nearest centroid."""
        h, w = shape
        previous = dict(self._moving)
        # Last census's spaceships bucketed by apgcode and coarse cell, so each lookup only
        # scans its neighbourhood (hundreds of gliders at 1024²).
        cell = max(4, int(self.reach) + 1)
        buckets: dict[tuple[str, int, int], list[int]] = {}
        for entity, (pcode, px, py) in previous.items():
            buckets.setdefault((pcode, int(px) // cell, int(py) // cell), []).append(entity)
        gx, gy = -(-w // cell), -(-h // cell)
        matched: dict[int, tuple[str, float, float]] = {}
        for i in now:
            code = r.classes[int(r.cls[i])].apgcode
            assert code is not None
            cx, cy = float(r.cx[i]), float(r.cy[i])
            best, best_d = None, self.reach
            bx, by = int(cx) // cell, int(cy) // cell
            for ox in (-1, 0, 1):
                for oy in (-1, 0, 1):
                    for entity in buckets.get((code, (bx + ox) % gx, (by + oy) % gy), ()):
                        if entity not in previous:
                            continue
                        _, px, py = previous[entity]
                        d = max(_wrap_dist(cx, px, w), _wrap_dist(cy, py, h))
                        if d <= best_d:
                            best, best_d = entity, d
            if best is None:
                pattern = self._pattern(r, i, tick, tick)
                entity = esper.create_entity(pattern)
                if code == GLIDER:
                    self._born(entity, pattern, tick)
            else:
                entity = best
                del previous[entity]
                old = esper.component_for_entity(entity, Pattern)
                pattern = self._pattern(r, i, tick, old.born)
                esper.add_component(entity, pattern)
                track = esper.try_component(entity, GliderTrack)
                if track is not None:
                    self._moved(track, pattern, tick)
            matched[entity] = (code, cx, cy)
        for entity, (_, px, py) in previous.items():
            track = esper.try_component(entity, GliderTrack)
            if track is not None:
                reason = "collision" if self._occupied(px, py) else "death"
                self.sim.events.emit(
                    TrackLost(tick=tick, track=track.track, x=round(px, 3), y=round(py, 3),
                              reason=reason)
                )
            esper.delete_entity(entity, immediate=True)
        self._moving = matched

    def _occupied(self, cx: float, cy: float) -> bool:
        """Whether any cell within 3 of (cx, cy) is alive (the glider ran into something)."""
        alive = self.sim.substrate.alive
        h, w = alive.shape
        ys = (np.arange(int(cy) - 3, int(cy) + 4)) % h
        xs = (np.arange(int(cx) - 3, int(cx) + 4)) % w
        return bool(alive[np.ix_(ys, xs)].any())

    def _cell(self, cx: float, cy: float) -> tuple[int, int]:
        return int(cy) // self.tile, int(cx) // self.tile

    def _born(self, entity: int, p: Pattern, tick: int) -> None:
        direction = p.direction
        assert direction is not None  # a glider always moves diagonally
        cx, cy = p.cx, p.cy
        row, col = self._cell(cx, cy)
        track = GliderTrack(self._next_track, direction, cx, cy, p.phase, row, col, tick)
        self._next_track += 1
        esper.add_component(entity, track)
        self.sim.events.emit(TrackBorn(tick=tick, track=track.track, x=round(cx, 3),
                                       y=round(cy, 3), direction=direction, cell=(row, col)))

    def _moved(self, track: GliderTrack, p: Pattern, tick: int) -> None:
        track.cx, track.cy, track.phase = p.cx, p.cy, p.phase
        row, col = self._cell(track.cx, track.cy)
        if (row, col) != (track.row, track.col):
            self.sim.events.emit(TrackCrossed(tick=tick, track=track.track,
                                              x=round(track.cx, 3), y=round(track.cy, 3),
                                              src=(track.row, track.col), dst=(row, col)))
            track.row, track.col = row, col


def _wrap_dist(a: float, b: float, size: int) -> float:
    d = abs(a - b) % size
    return min(d, size - d)
