"""Object separation and the census of a lattice: islands grouped where they interact, named.

Separation, in the spirit of apgsearch's census: start from the islands (8-connected live
cells), predict each one's next ``horizon`` generations *in isolation*, and compare the union of
the predictions with the real future of the whole torus. Wherever they disagree, the groups live
in the disagreeing cell's 3×3 neighbourhood one generation earlier could have influenced it, so
they interact: they are merged and predicted again, until the predictions agree. For a rule
without B0 the first disagreement always has at least two such groups, so this terminates.
Pseudo-objects (a bi-block) stay split into their parts; objects whose parts need each other (an
aircraft carrier) or that will collide within the horizon are joined.

Data-oriented: islands of one shape share one cached classification and are predicted and
described together, vectorised over their positions, so thousands of ash objects cost a few
array passes. Only merged groups and unsettled islands are handled one by one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from components.pattern import DetectedObject
from game.backends.bitpacked import BitPackedBackend
from game.cells import Cells
from game.patterns.classify import Classification, classify, plane_step, unsettled
from game.patterns.islands import (
    IntArray,
    Islands,
    ShapeKey,
    _unwrap,
    find_islands,
    stable_hash,
)
from game.rules import Rule

FloatArray = npt.NDArray[np.float64]

_MAX_WINDOWS = 8
SHAPES_KEPT = 8192  # shapes a census remembers (least recently seen forgotten first)
ANCHOR_SCALE = 64  # anchors are kept in 1/64 cells: exact for the centres of small objects


@dataclass(slots=True)
class CensusResult:
    """A census as arrays, one entry per object (data-oriented: thousands of objects at 1024²).

    ``cls[i]`` indexes ``classes``; ``x, y, w, h`` is the bounding box (top-left on the torus);
    ``phase`` the phase in the object's cycle; ``anchor_x, anchor_y`` the centre of its whole
    cycle in 1/``ANCHOR_SCALE`` cells (constant over an oscillator's cycle, so it identifies the
    object across ticks); ``cx, cy`` the centroid of its live cells now (wrapped).
    """

    shape: tuple[int, int]
    classes: list[Classification]
    cls: IntArray
    x: IntArray
    y: IntArray
    w: IntArray
    h: IntArray
    phase: IntArray
    anchor_x: IntArray
    anchor_y: IntArray
    cx: FloatArray
    cy: FloatArray
    population: IntArray
    # Where each object's classified phase 0 lies (unwrapped top-left) and how many ticks it has
    # moved on since: lets a census carry its objects forward without looking again.
    bx: IntArray | None = None
    by: IntArray | None = None
    age: IntArray | None = None
    islands: Islands | None = None
    owner: IntArray | None = None  # object index of each island (None once carried forward)

    @classmethod
    def allocate(cls, shape: tuple[int, int], n: int) -> CensusResult:
        """Arrays for ``n`` objects, to be filled."""
        def z() -> IntArray:
            return np.zeros(n, np.int64)

        return cls(shape, [], z(), z(), z(), z(), z(), z(), z(), z(), np.zeros(n), np.zeros(n),
                   z())

    def cells_of(self, i: int) -> tuple[IntArray, IntArray]:
        """(ys, xs) of object ``i``'s live cells on the torus."""
        assert self.islands is not None and self.owner is not None
        h, w = self.shape
        parts = [self.islands.cells_of(j) for j in np.flatnonzero(self.owner == i).tolist()]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (np.concatenate([p[0] for p in parts]) % h,
                np.concatenate([p[1] for p in parts]) % w)

    def __len__(self) -> int:
        return len(self.cls)

    def apgcodes(self) -> list[str | None]:
        """Each object's apgcode (None when unsettled)."""
        codes = [c.apgcode for c in self.classes]
        return [codes[i] for i in self.cls.tolist()]

    def counts(self) -> dict[str, int]:
        """``{apgcode: count}``, unsettled objects under ``"unsettled"``, most common first."""
        per = np.bincount(self.cls, minlength=len(self.classes))
        counts: dict[str, int] = {}
        for c, k in zip(self.classes, per.tolist(), strict=True):
            if k:
                code = c.apgcode or "unsettled"
                counts[code] = counts.get(code, 0) + k
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def fields(self, i: int) -> dict[str, Any]:
        """Object ``i``'s fields, as :class:`DetectedObject` (and its subclasses) take them."""
        c = self.classes[int(self.cls[i])]
        return {"apgcode": c.apgcode, "name": c.name, "kind": c.kind,
                "x": int(self.x[i]), "y": int(self.y[i]), "w": int(self.w[i]),
                "h": int(self.h[i]), "period": c.period, "dx": c.dx, "dy": c.dy,
                "phase": int(self.phase[i]), "population": int(self.population[i]),
                "cx": float(self.cx[i]), "cy": float(self.cy[i])}

    def object(self, i: int) -> DetectedObject:
        """Object ``i`` as a record."""
        return DetectedObject(**self.fields(i))

    def objects(self) -> list[DetectedObject]:
        """The objects as records, sorted by position (for the CLI and tests)."""
        out = [self.object(i) for i in range(len(self))]
        out.sort(key=lambda o: (o.y, o.x))
        return out


@dataclass(slots=True)
class _Shape:
    """What the census knows of one shape: its classification and derived per-shape figures."""

    c: Classification
    phase: int  # this shape's phase in its cycle
    anchor: tuple[int, int]  # centre of the cycle, in 1/ANCHOR_SCALE cells from the top-left
    centre: tuple[float, float]  # (mean x, mean y) of the shape's cells


@dataclass(slots=True)
class _Merged:
    """A group of several islands (unwrapped coordinates)."""

    ys: IntArray
    xs: IntArray
    islands: list[int]

    @property
    def x0(self) -> int:
        return int(self.xs.min())

    @property
    def y0(self) -> int:
        return int(self.ys.min())

    def crop(self) -> Cells:
        out = np.zeros((int(self.ys.max()) - self.y0 + 1, int(self.xs.max()) - self.x0 + 1),
                       np.uint8)
        out[self.ys - self.y0, self.xs - self.x0] = 1
        return out


class Census:
    """Separates and names the objects of lattices of one rule, caching shapes across calls."""

    def __init__(
        self, rule: Rule, horizon: int = 4, max_period: int = 64, budget: int | None = None
    ) -> None:
        if 0 in rule.birth:
            raise ValueError(f"detection does not support rules with B0 ({rule})")
        self.rule = rule
        self.horizon = horizon
        self.max_period = max_period
        self.budget = budget
        self._spent = 0
        self.windows = 0  # windows censused by advance() so far (for tests and the bench)
        # Least recently seen shapes are forgotten first: common objects are seen every tick
        # and stay; the transient shapes of reactions come and go. Bounded so that a long run
        # with constant reactions (gliders hitting ash) reaches a steady memory.
        self._shapes: OrderedDict[ShapeKey, _Shape] = OrderedDict()

    # -- shapes -----------------------------------------------------------------------------------

    def shape_info(self, key: ShapeKey, crop: Cells) -> _Shape:
        """The cached :class:`_Shape` of ``crop`` (keyed by ``key``)."""
        info = self._shapes.get(key)
        if info is None:
            # An object that outgrows a few times its own size is not periodic: stopping there
            # keeps an active soup (many new, unsettled shapes a tick) affordable.
            side = 4 * max(crop.shape) + 16
            c = classify(crop, self.rule, max_period=self.max_period, max_side=side)
            phase, anchor = 0, (0, 0)
            if c.period:
                # Phase 0 is the phase whose array (as it lies, not reoriented) sorts first, so
                # an object's phases count up consistently around its cycle; the anchor is the
                # centre of the whole cycle, the same whichever phase is seen.
                i = min(range(c.period),
                        key=lambda k: (c.phases[k].shape, c.phases[k].tobytes()))
                centres = [(ox + np.nonzero(ph)[1].mean(), oy + np.nonzero(ph)[0].mean())
                           for ph, (ox, oy) in zip(c.phases, c.offsets, strict=True)]
                phase = (-i) % c.period
                anchor = (round(ANCHOR_SCALE * float(np.mean([a for a, _ in centres]))),
                          round(ANCHOR_SCALE * float(np.mean([b for _, b in centres]))))
            ry, rx = np.nonzero(crop)
            info = _Shape(c, phase, anchor, (float(rx.mean()), float(ry.mean())))
            self._shapes[key] = info
            while len(self._shapes) > SHAPES_KEPT:
                self._shapes.popitem(last=False)
        return info

    # -- the census -------------------------------------------------------------------------------

    def run(
        self, alive: Cells, future: Sequence[Cells] | None = None,
        interior: npt.NDArray[np.bool_] | None = None,
    ) -> CensusResult:
        """All objects of the torus ``alive``; ``future`` is its next generations if known.

        ``interior`` (for a window cut out of a larger lattice) limits the consistency check to
        the cells whose future the window alone determines.
        """
        shape = (alive.shape[0], alive.shape[1])
        isl = find_islands(alive)
        if isl.count == 0:
            return CensusResult.allocate(shape, 0)
        steps = self.horizon if future is None else min(self.horizon, len(future))
        if future is None:
            future = _future(alive, self.rule, steps)
        self._spent = 0
        infos = self._shape_infos(isl)
        merged = self._separate(isl, infos, future[:steps], shape, interior)
        merged = self._gather_sparks(isl, infos, merged, shape)
        return self._describe(isl, infos, merged, shape)

    def advance(
        self, prev: CensusResult, alive: Cells, future: Sequence[Cells], tile: int = 32
    ) -> CensusResult | None:
        """``prev`` carried one tick forward, re-examining only the regions that changed.

        ``prev`` was verified against the real future through its tick + horizon, and so is
        every result carried from it, so a settled object stays valid while its predicted cells
        now agree with ``alive`` and, at the newly visible generation (``future[-1]``), with
        the real lattice. Cells where they disagree, and unsettled objects, mark their
        ``tile``-sized tiles as changed; each cluster of changed tiles is censused again in a
        window one tile wider (its future cut from the real one, conflicts checked only where
        the window alone decides them). Objects whose top-left lies in a changed tile come from
        the windows, all others are carried. Returns None when a full census is the better
        deal (most tiles changed, a window wraps the torus) or a check fails.
        """
        steps = min(self.horizon, len(future))
        if prev.bx is None or prev.by is None or prev.age is None or steps < 1:
            return None
        h, w = prev.shape
        if len(prev) == 0:
            return prev if not alive.any() and not future[steps - 1].any() else None
        settled = np.array([c.period > 0 for c in prev.classes], bool)[prev.cls]
        loose = np.flatnonzero(~settled)
        keep = np.flatnonzero(settled)
        spots = {(int(prev.y[i]) // tile, int(prev.x[i]) // tile) for i in loose.tolist()}
        if len(spots) > 2 * _MAX_WINDOWS:
            return None  # active all over: a full census is cheaper than many windows
        bad: list[IntArray] = []
        dirty = np.zeros(len(prev), bool)
        dirty[loose] = True
        kept = _select(prev, keep)
        table = _phase_table(kept.classes)
        for ahead, target in ((1, alive), (steps + 1, future[steps - 1])):
            flat, idx = _stamp(table, kept, ahead)
            wrong = _mismatch(flat, target)
            if len(wrong):
                bad.append(wrong)
                cy, cx = wrong // w, wrong % w
                near = (((cy[:, None] + _NEAR[0]) % h) * w + (cx[:, None] + _NEAR[1]) % w).ravel()
                hit = _owners(flat, keep[idx], near)
                dirty[hit[hit >= 0]] = True
        if not bad and not len(loose):
            return moved_on(prev)
        th, tw = -(-h // tile), -(-w // tile)
        core = np.zeros((th, tw), bool)
        for cells in bad:
            core[(cells // w) // tile, (cells % w) // tile] = True
        for i in np.flatnonzero(dirty).tolist():
            ys = np.arange(prev.y[i] - 2, prev.y[i] + prev.h[i] + 2) % h // tile
            xs = np.arange(prev.x[i] - 2, prev.x[i] + prev.w[i] + 2) % w // tile
            core[np.ix_(np.unique(ys), np.unique(xs))] = True
        if core.sum() * 2 > core.size:
            return None
        # Ownership by top-left tile *now* (a spaceship may have crossed into another tile).
        moved = moved_on(kept)
        parts = [_select(moved, np.flatnonzero(~core[moved.y // tile, moved.x // tile]))]
        labels, count = ndi.label(core, structure=np.ones((3, 3), bool))
        # Each window costs a census of its own: past eight, one census of the whole lattice
        # is cheaper (measured at 1024² with 64 gliders hitting ash).
        if count > _MAX_WINDOWS:
            return None
        # Windows are a tile wider than their cluster: when together they cover a third of
        # the lattice, one census of the whole is cheaper than theirs.
        area = 0
        for k in range(1, count + 1):
            ty, tx = np.nonzero(labels == k)
            area += int(np.ptp(ty) + 3) * int(np.ptp(tx) + 3) * tile * tile
        if area * 3 > h * w:
            return None
        for k in range(1, count + 1):
            found = self._window(alive, future[:steps], labels == k, core, tile)
            if found is None:
                return None
            parts.append(found)
        result = _concat(parts, prev.shape)
        if not _covers(result, alive):
            return None  # something fell between the windows: do it properly
        return result

    def _window(
        self, alive: Cells, future: Sequence[Cells], cluster: npt.NDArray[np.bool_],
        core: npt.NDArray[np.bool_], tile: int,
    ) -> CensusResult | None:
        """Census of one cluster of changed tiles in a window a tile wider, on the torus."""
        h, w = alive.shape
        ty, tx = np.nonzero(cluster)
        rows = _span(ty, cluster.shape[0])
        cols = _span(tx, cluster.shape[1])
        if rows is None or cols is None:
            return None
        (r0, r1), (c0, c1) = rows, cols
        y0, y1 = (r0 - 1) * tile, (r1 + 2) * tile
        x0, x1 = (c0 - 1) * tile, (c1 + 2) * tile
        pad = len(future) + 2
        if y1 - y0 + 2 * pad >= h or x1 - x0 + 2 * pad >= w:
            return None
        ys, xs = np.arange(y0, y1) % h, np.arange(x0, x1) % w
        size = (y1 - y0 + 2 * pad, x1 - x0 + 2 * pad)

        def cut(frame: Cells) -> Cells:
            out = np.zeros(size, np.uint8)
            out[pad:-pad, pad:-pad] = frame[np.ix_(ys, xs)]
            return out

        self.windows += 1
        interior = np.zeros(size, bool)
        margin = len(future) + 2
        interior[pad + margin : -pad - margin, pad + margin : -pad - margin] = True
        found = self.run(cut(alive), [cut(f) for f in future], interior)
        dx, dy = x0 - pad, y0 - pad
        tyx = ((found.y + dy) % h) // tile, ((found.x + dx) % w) // tile
        mine = np.flatnonzero(core[tyx] & cluster[tyx])
        return _shift(_select(found, mine), dx, dy, (h, w))

    def _shape_infos(self, isl: Islands) -> list[_Shape]:
        """What is known of every shape of ``isl``, classifying new ones within the budget.

        New shapes are classified smallest first, each charged its period (a settled one) or
        ``max_period`` (an unsettled one), until ``budget`` generations are spent; the rest
        count as unsettled for now and are not cached, so a later census classifies them.
        Deterministic: the order and the charges depend on the shapes alone.
        """
        shapes = self._shapes
        infos: list[_Shape | None] = [shapes.get(key) for key in isl.keys]
        for key, info in zip(isl.keys, infos, strict=True):
            if info is not None:
                shapes.move_to_end(key)
        new = [k for k, info in enumerate(infos) if info is None]
        if new:
            reps = isl.key_rep[new]
            new = [new[j] for j in np.argsort(isl.population[reps], kind="stable").tolist()]
        for k in new:
            infos[k] = self._info(isl.keys[k], isl.crop(int(isl.key_rep[k])))
        return [i for i in infos if i is not None]

    def _info(self, key: ShapeKey, crop: Cells) -> _Shape:
        """The shape's info: cached, or classified if this census still has budget."""
        info = self._shapes.get(key)
        if info is not None:
            return info
        if self.budget is not None and self._spent >= self.budget:
            return _provisional(crop)
        info = self.shape_info(key, crop)
        self._spent += info.c.period or self.max_period
        return info

    def _separate(
        self, isl: Islands, infos: list[_Shape], future: Sequence[Cells], shape: tuple[int, int],
        interior: npt.NDArray[np.bool_] | None = None,
    ) -> list[_Merged]:
        """Merge islands until the groups' isolated predictions agree with the real future.

        Group ids: island i is group i while on its own; merged group j is group n + j.
        """
        h, w = shape
        n = isl.count
        steps = len(future)
        group_of = np.arange(n, dtype=np.int64)  # island -> its group id
        merged: list[_Merged | None] = list(self._cluster_unsettled(isl, infos, shape))
        for j, g in enumerate(merged):
            assert g is not None
            group_of[g.islands] = n + j
        preds = self._predict_islands(isl, infos, steps, shape, merged)
        while True:
            conflict = _first_conflict(preds, future, interior)
            if conflict is None:
                break
            t, cells = conflict
            cy, cx = cells // w, cells % w
            near = np.stack(
                [((cy + dy) % h) * w + (cx + dx) % w for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
                axis=1,
            )
            # The groups live in a conflict cell's 3x3 neighbourhood one generation earlier
            # could have influenced it: they interact and are merged.
            if t == 1:
                island = isl.island_of[isl.labels.ravel()[near]]
                neigh = np.where(island >= 0, group_of[island], -1)
            else:
                neigh = _owners(*preds[t - 2], near)
            parent: dict[int, int] = {}
            for row in neigh.tolist():
                found = sorted({g for g in row if g >= 0})
                for other in found[1:]:
                    _union(parent, found[0], other)
            sets = {r: m for r, m in _sets(parent).items() if len(m) > 1}
            if not sets:
                break  # nobody to blame: impossible without B0, but never loop forever
            gone: list[int] = []
            fresh: list[int] = []
            for members in sets.values():
                islands: list[int] = []
                for gid in members:
                    if gid < n:
                        islands.append(gid)
                    else:
                        old = merged[gid - n]
                        assert old is not None
                        islands.extend(old.islands)
                        merged[gid - n] = None
                gone.extend(members)
                group = _join(isl, islands, shape)
                merged.append(group)
                new_id = n + len(merged) - 1
                group_of[islands] = new_id
                fresh.append(new_id)
            drop = np.asarray(gone, np.int64)
            for t_ in range(steps):
                flat, ids = preds[t_]
                keep = ~np.isin(ids, drop)
                preds[t_] = (flat[keep], ids[keep])
            extra = []
            for new_id in fresh:
                fresh_group = merged[new_id - n]
                assert fresh_group is not None
                extra.append((new_id, self._predict_group(fresh_group, steps, shape)))
            preds = _append(preds, extra)
        return [g for g in merged if g is not None]

    def _gather_sparks(
        self, isl: Islands, infos: list[_Shape], merged: list[_Merged], shape: tuple[int, int]
    ) -> list[_Merged]:
        """Rejoin unsettled pieces to neighbours when together they are one settled object.

        Some phases of spaceships and oscillators carry cells that influence nothing and die
        (an MWSS has phases with two such cells). The consistency check rightly finds them
        independent, but alone neither part recurs. Any unsettled group is therefore tried
        together with the groups within four cells of it; the union is kept when it settles.
        """
        n = isl.count
        group_of = np.arange(n, dtype=np.int64)
        for j, g in enumerate(merged):
            group_of[g.islands] = n + j
        settled_key = np.array([info.c.period > 0 for info in infos], bool)
        lonely = (group_of < n) & ~settled_key[isl.key_ids]
        unsettled = np.flatnonzero(lonely).tolist() + [
            n + j for j, g in enumerate(merged) if not self._settled(g.crop())
        ]
        if not unsettled:
            return merged

        def members(gid: int) -> list[int]:
            return [gid] if gid < n else merged[gid - n].islands

        parent: dict[int, int] = {}
        for gid in unsettled:
            for other in np.unique(group_of[_islands_near(isl, members(gid), _RING)]).tolist():
                if other != gid:
                    _union(parent, gid, other)
        clusters = _sets(parent)
        out = list(merged)
        absorbed: set[int] = set()
        unsettled_set = set(unsettled)
        for gids in clusters.values():
            for cand in (gids, [g for g in gids if g in unsettled_set]):
                if len(cand) < 2:
                    continue
                group = _join(isl, sorted(i for g in cand for i in members(g)), shape)
                if self._settled(group.crop()):
                    out.append(group)
                    absorbed.update(g for g in cand if g >= n)
                    break
        return [g for j, g in enumerate(out) if j >= len(merged) or n + j not in absorbed]

    def _settled(self, crop: Cells) -> bool:
        return self._info(_bytes_key(crop), crop).c.period > 0

    def _predict_islands(
        self, isl: Islands, infos: list[_Shape], steps: int, shape: tuple[int, int],
        clusters: Sequence[_Merged | None] = (),
    ) -> list[tuple[IntArray, IntArray]]:
        """Per t = 1..steps: (flat torus indices, group id) of every island alone.

        Islands of settled shapes are stamped all at once from their classes' phases; unsettled
        islands are stepped one by one on the plane.
        """
        settled = np.array([info.c.period > 0 for info in infos], bool)
        on_path = np.flatnonzero(settled[isl.key_ids])
        table = _phase_table([info.c for info in infos])
        cls, x0, y0 = isl.key_ids[on_path], isl.x0[on_path], isl.y0[on_path]
        age = np.zeros(len(on_path), np.int64)
        preds = []
        for t in range(1, steps + 1):
            flat, idx = _stamp_arrays(table, cls, x0, y0, age, t, shape)
            preds.append((flat, on_path[idx]))
        in_cluster = np.zeros(isl.count, bool)
        for g in clusters:
            if g is not None:
                in_cluster[g.islands] = True
        loose = [(i, self._predict_group(_Merged(*isl.cells_of(i), [i]), steps, shape))
                 for i in np.flatnonzero(~settled[isl.key_ids] & ~in_cluster).tolist()]
        loose += [(isl.count + j, self._predict_group(g, steps, shape))
                  for j, g in enumerate(clusters) if g is not None]
        return _append(preds, loose)

    def _cluster_unsettled(
        self, isl: Islands, infos: list[_Shape], shape: tuple[int, int]
    ) -> list[_Merged]:
        """Unsettled islands within three cells of each other, pre-joined into groups.

        In an active region every island is unsettled and interacts with its neighbours;
        joining them up front saves predicting each alone only to merge them after. Whether
        joined or not they are unsettled, so no name depends on it; settled islands are left
        to the exact consistency check.
        """
        settled = np.array([info.c.period > 0 for info in infos], bool)
        loose = np.flatnonzero(~settled[isl.key_ids])
        if len(loose) < 2:
            return []
        # Every pair of loose islands with cells within the block of each other, found for all
        # cells at once (an island at a time: 0.19-0.21 s on an active 1024² soup, 0.12-0.15).
        is_loose = np.zeros(isl.count, bool)
        is_loose[loose] = True
        owner = np.repeat(np.arange(isl.count), np.diff(isl.starts))
        mine = is_loose[owner]
        h, w = isl.shape
        ys, xs, of = isl.ys[mine] % h, isl.xs[mine] % w, owner[mine]
        pairs = []
        for dy, dx in zip(_NEAR[0].ravel().tolist(), _NEAR[1].ravel().tolist(), strict=True):
            if dy or dx:
                label = isl.labels[(ys + dy) % h, (xs + dx) % w]
                hit = label > 0
                mine_hit, other = of[hit], isl.island_of[label[hit]]
                near = is_loose[other] & (other != mine_hit)
                pairs.append(mine_hit[near] * isl.count + other[near])
        edges = np.unique(np.concatenate(pairs))
        if not len(edges):
            return []
        a, b = np.divmod(edges, isl.count)
        graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(isl.count, isl.count))
        _, component = connected_components(graph, directed=False)
        # Groups in the order of their smallest island, each sorted: what joining the pairs
        # one by one in island order (smaller root wins) gives.
        members = np.unique(a)  # ascending, and kept so within each group by the stable sort
        members = members[np.argsort(component[members], kind="stable")]
        cuts = np.flatnonzero(np.diff(component[members])) + 1
        groups = sorted(np.split(members, cuts), key=lambda m: int(m[0]))
        return [_join(isl, m.tolist(), shape) for m in groups]

    def _predict_group(self, g: _Merged, steps: int, shape: tuple[int, int]) -> list[IntArray]:
        """Flat torus indices of one group's cells at t = 1..steps, alone on the plane."""
        h, w = shape
        cells, x, y = g.crop(), g.x0, g.y0
        out = []
        for _ in range(steps):
            cells, (ox, oy) = plane_step(cells, self.rule)
            x, y = x + ox, y + oy
            ry, rx = np.nonzero(cells)
            out.append(((ry + y) % h) * w + (rx + x) % w)
        return out

    def _describe(
        self, isl: Islands, infos: list[_Shape], merged: list[_Merged], shape: tuple[int, int]
    ) -> CensusResult:
        """Islands still on their own, vectorised per shape; merged groups one by one."""
        h, w = shape
        alone = np.ones(isl.count, bool)
        for g in merged:
            alone[g.islands] = False
        idx = np.flatnonzero(alone)
        res = CensusResult.allocate(shape, len(idx) + len(merged))
        res.classes = [_fits(info.c, shape) for info in infos]
        res.islands = isl
        res.owner = np.zeros(isl.count, np.int64)
        res.owner[idx] = np.arange(len(idx))
        k = isl.key_ids[idx]
        phase = np.array([i.phase for i in infos], np.int64)
        ax = np.array([i.anchor[0] for i in infos], np.int64)
        ay = np.array([i.anchor[1] for i in infos], np.int64)
        mx = np.array([i.centre[0] for i in infos])
        my = np.array([i.centre[1] for i in infos])
        m = len(idx)
        x0, y0 = isl.x0[idx], isl.y0[idx]
        res.cls[:m] = k
        res.x[:m], res.y[:m] = x0 % w, y0 % h
        res.w[:m], res.h[:m] = isl.width[idx], isl.height[idx]
        res.phase[:m] = phase[k]
        sw, sh = w * ANCHOR_SCALE, h * ANCHOR_SCALE
        res.anchor_x[:m] = (x0 * ANCHOR_SCALE + ax[k]) % sw
        res.anchor_y[:m] = (y0 * ANCHOR_SCALE + ay[k]) % sh
        res.cx[:m], res.cy[:m] = (x0 + mx[k]) % w, (y0 + my[k]) % h
        res.population[:m] = isl.population[idx]
        res.bx = np.zeros(len(res), np.int64)
        res.by = np.zeros(len(res), np.int64)
        res.age = np.zeros(len(res), np.int64)
        res.bx[:m], res.by[:m] = x0, y0
        for j, g in enumerate(merged, start=m):
            res.owner[g.islands] = j
            crop = g.crop()
            info = self._info(_bytes_key(crop), crop)
            res.cls[j] = len(res.classes)
            res.classes.append(_fits(info.c, shape))
            res.x[j], res.y[j] = g.x0 % w, g.y0 % h
            res.h[j], res.w[j] = crop.shape
            res.phase[j] = info.phase
            res.anchor_x[j] = (g.x0 * ANCHOR_SCALE + info.anchor[0]) % sw
            res.anchor_y[j] = (g.y0 * ANCHOR_SCALE + info.anchor[1]) % sh
            res.cx[j], res.cy[j] = (g.x0 + info.centre[0]) % w, (g.y0 + info.centre[1]) % h
            res.population[j] = len(g.ys)
            res.bx[j], res.by[j] = g.x0, g.y0
        return res


# Offsets of the 9×9 block around a cell: unsettled pieces within 4 cells of other groups are
# tried together with them (a pentadecathlon has phases in pieces 3 cells apart).
_RING = tuple(a.ravel()[None, :] for a in np.mgrid[-4:5, -4:5])
# The 7×7 block: unsettled islands within 3 cells of each other are pre-joined; advance() also
# uses it for the objects next to a cell that did not follow its prediction.
_NEAR = tuple(a.ravel()[None, :] for a in np.mgrid[-3:4, -3:4])


def moved_on(r: CensusResult, ticks: int = 1) -> CensusResult:
    """``r`` (settled objects) ``ticks`` later: phases, boxes and centroids."""
    assert r.bx is not None and r.by is not None and r.age is not None
    h, w = r.shape
    t = _phase_table(r.classes)
    out = CensusResult.allocate(r.shape, len(r))
    out.classes, out.cls, out.population = r.classes, r.cls, r.population
    p, dx, dy = t.period[r.cls], t.dx[r.cls], t.dy[r.cls]
    lap = (r.age + ticks) // p
    out.bx, out.by, out.age = r.bx + lap * dx, r.by + lap * dy, (r.age + ticks) % p
    out.phase = (r.phase + ticks) % p
    # Stationary anchors stay; a spaceship's moves on with each lap of its cycle.
    out.anchor_x = (r.anchor_x + lap * dx * ANCHOR_SCALE) % (w * ANCHOR_SCALE)
    out.anchor_y = (r.anchor_y + lap * dy * ANCHOR_SCALE) % (h * ANCHOR_SCALE)
    combo = t.first_phase[r.cls] + out.age
    x0, y0 = out.bx + t.ox[combo], out.by + t.oy[combo]
    out.x, out.y = x0 % w, y0 % h
    out.w, out.h = t.pw[combo], t.ph[combo]
    out.cx, out.cy = (x0 + t.mx[combo]) % w, (y0 + t.my[combo]) % h
    return out


def _islands_near(isl: Islands, islands: list[int], block: tuple[IntArray, ...]) -> IntArray:
    """Islands with a live cell in ``block`` (offsets) around any cell of ``islands``."""
    h, w = isl.shape
    cells = [isl.cells_of(i) for i in islands]
    ys = np.concatenate([c[0] for c in cells])[:, None] + block[0]
    xs = np.concatenate([c[1] for c in cells])[:, None] + block[1]
    near = isl.labels[ys % h, xs % w].ravel()
    found: IntArray = isl.island_of[near[near > 0]]
    return found


def _append(
    preds: list[tuple[IntArray, IntArray]], extra: list[tuple[int, list[IntArray]]]
) -> list[tuple[IntArray, IntArray]]:
    """Add groups' predictions (group id, per-t flat indices) to ``preds`` in one copy per t."""
    if not extra:
        return preds
    out = []
    for t, (flat, ids) in enumerate(preds):
        out.append((
            np.concatenate([flat] + [f[t] for _, f in extra]),
            np.concatenate([ids] + [np.full(len(f[t]), gid, np.int64) for gid, f in extra]),
        ))
    return out


def _select(r: CensusResult, idx: IntArray) -> CensusResult:
    """The objects ``idx`` of ``r`` (same classes)."""
    out = CensusResult.allocate(r.shape, len(idx))
    out.classes = r.classes
    for name in ("cls", "x", "y", "w", "h", "phase", "anchor_x", "anchor_y", "cx", "cy",
                 "population"):
        setattr(out, name, getattr(r, name)[idx])
    for name in ("bx", "by", "age"):
        arr = getattr(r, name)
        setattr(out, name, arr[idx] if arr is not None else np.zeros(len(idx), np.int64))
    return out


def _shift(r: CensusResult, dx: int, dy: int, shape: tuple[int, int]) -> CensusResult:
    """``r`` found in a window, moved to the torus of ``shape`` (window origin at dx, dy)."""
    h, w = shape
    r.shape = shape
    r.x, r.y = (r.x + dx) % w, (r.y + dy) % h
    r.cx, r.cy = (r.cx + dx) % w, (r.cy + dy) % h
    r.anchor_x = (r.anchor_x + dx * ANCHOR_SCALE) % (w * ANCHOR_SCALE)
    r.anchor_y = (r.anchor_y + dy * ANCHOR_SCALE) % (h * ANCHOR_SCALE)
    assert r.bx is not None and r.by is not None
    r.bx, r.by = r.bx + dx, r.by + dy
    r.islands = r.owner = None
    return r


def _concat(parts: Sequence[CensusResult], shape: tuple[int, int]) -> CensusResult:
    """One result from several (each with its own classes)."""
    n = sum(len(p) for p in parts)
    out = CensusResult.allocate(shape, n)
    offset = 0
    cls = []
    for p in parts:
        cls.append(p.cls + offset)
        out.classes = out.classes + p.classes
        offset += len(p.classes)
    out.cls = np.concatenate(cls) if cls else np.zeros(0, np.int64)
    for name in ("x", "y", "w", "h", "phase", "anchor_x", "anchor_y", "cx", "cy", "population",
                 "bx", "by", "age"):
        arrays = [getattr(p, name) for p in parts]
        setattr(out, name, np.concatenate(arrays) if arrays else getattr(out, name))
    return out


def _span(values: IntArray, size: int) -> tuple[int, int] | None:
    """The shortest circular interval [a, b] (b may pass ``size``) covering ``values``."""
    present = np.unique(values)
    if len(present) == size:
        return None
    un = _unwrap(present, size)
    return int(un.min()), int(un.max())


def _covers(r: CensusResult, alive: Cells) -> bool:
    """Whether the objects of ``r`` are exactly the live cells of ``alive``, none twice."""
    flat, _ = _stamp(_phase_table(r.classes), r, 0)
    return not len(_mismatch(flat, alive))


def _stamp(table: _PhaseTable, r: CensusResult, ahead: int) -> tuple[IntArray, IntArray]:
    """Flat cells of every object of ``r``, ``ahead`` ticks on, and each cell's object index."""
    assert r.bx is not None and r.by is not None and r.age is not None
    return _stamp_arrays(table, r.cls, r.bx, r.by, r.age, ahead, r.shape)


def _stamp_arrays(
    table: _PhaseTable, cls: IntArray, bx: IntArray, by: IntArray, age: IntArray, ahead: int,
    shape: tuple[int, int],
) -> tuple[IntArray, IntArray]:
    """Flat cells of objects ``ahead`` ticks on, and each cell's object index.

    Object i has class ``cls[i]`` (an index into the table's classes) and its phase 0 lay at
    (``bx[i]``, ``by[i]``) ``age[i]`` ticks ago. One ragged gather over the table of every
    (class, phase): no loop over objects or shapes. An unsettled object has only its own
    phase: it can be stamped at ``ahead`` 0 only.
    """
    h, w = shape
    t = age + ahead
    k, laps = t % table.period[cls], t // table.period[cls]
    combo = table.first_phase[cls] + k
    count = table.count[combo]
    owner = np.repeat(np.arange(len(cls)), count)
    pick = np.repeat(table.start[combo] - (np.cumsum(count) - count), count) + np.arange(
        len(owner))
    ys = (by + table.oy[combo] + laps * table.dy[cls])[owner] + table.ry[pick]
    xs = (bx + table.ox[combo] + laps * table.dx[cls])[owner] + table.rx[pick]
    return (ys % h) * w + xs % w, owner


@dataclass(slots=True)
class _PhaseTable:
    """Every phase of a list of classes, flattened for vectorised stamping."""

    period: IntArray  # per class (1 for unsettled)
    dx: IntArray
    dy: IntArray
    first_phase: IntArray  # per class: index of its phase 0 in the per-phase arrays
    start: IntArray  # per phase: first cell in ry/rx
    count: IntArray
    ox: IntArray
    oy: IntArray
    pw: IntArray  # per phase: its bounding box and the mean of its cells
    ph: IntArray
    mx: FloatArray
    my: FloatArray
    ry: IntArray  # all cells of all phases, relative to each phase's top-left
    rx: IntArray


# Each classification's phases as cell coordinates, least recently used forgotten first: the
# same bound as the shape caches, since an active soup classifies thousands of new shapes.
_PHASE_CELLS: OrderedDict[int, tuple[Classification, list[tuple[IntArray, IntArray]]]] = (
    OrderedDict())


def _nonzero64(cells: Cells) -> tuple[IntArray, IntArray]:
    ry, rx = np.nonzero(cells)
    return ry.astype(np.int64), rx.astype(np.int64)


def _phase_table(classes: Sequence[Classification]) -> _PhaseTable:
    """Every phase of ``classes`` flattened into arrays (cells cached per classification)."""
    periods, dxs, dys, firsts, counts, oxs, oys, pws, phs, mxs, mys, rys, rxs = (
        [] for _ in range(13))
    n_phases = 0
    for c in classes:
        cached = _PHASE_CELLS.get(id(c))
        if cached is None or cached[0] is not c:
            cached = (c, [_nonzero64(ph) for ph in c.phases])
            _PHASE_CELLS[id(c)] = cached
            while len(_PHASE_CELLS) > SHAPES_KEPT:
                _PHASE_CELLS.popitem(last=False)
        else:
            _PHASE_CELLS.move_to_end(id(c))
        cells = cached[1]
        periods.append(max(c.period, 1))
        dxs.append(c.dx)
        dys.append(c.dy)
        firsts.append(n_phases)
        n_phases += len(cells)
        for (ry, rx), (ox, oy), phase in zip(cells, c.offsets, c.phases, strict=True):
            counts.append(len(ry))
            oxs.append(ox)
            oys.append(oy)
            phs.append(phase.shape[0])
            pws.append(phase.shape[1])
            mxs.append(float(rx.mean()) if len(rx) else 0.0)
            mys.append(float(ry.mean()) if len(ry) else 0.0)
            rys.append(ry)
            rxs.append(rx)

    def ints(values: list[int]) -> IntArray:
        return np.array(values, np.int64)

    count = ints(counts)
    return _PhaseTable(
        ints(periods), ints(dxs), ints(dys), ints(firsts), np.cumsum(count) - count, count,
        ints(oxs), ints(oys), ints(pws), ints(phs), np.array(mxs), np.array(mys),
        np.concatenate(rys), np.concatenate(rxs),
    )


def _fits(c: Classification, shape: tuple[int, int]) -> Classification:
    """``c``, or unsettled when its cycle is too big for the torus to leave it alone.

    Classification runs on the plane; on a torus an object whose cycle, with the cells it
    touches, spans the whole width or height would meet itself across a seam (a row of three
    on a 3-wide torus is no blinker), so it is never named.
    """
    if not c.period:
        return c
    h, w = shape
    xs = [ox for ox, _ in c.offsets] + [ox + ph.shape[1] for (ox, _), ph in
                                        zip(c.offsets, c.phases, strict=True)]
    ys = [oy for _, oy in c.offsets] + [oy + ph.shape[0] for (_, oy), ph in
                                        zip(c.offsets, c.phases, strict=True)]
    if max(xs) - min(xs) + 2 + abs(c.dx) <= w and max(ys) - min(ys) + 2 + abs(c.dy) <= h:
        return c
    return unsettled(c.phases[0])


def _provisional(crop: Cells) -> _Shape:
    """An unclassified shape, counted as unsettled until a census has budget for it."""
    frozen = crop.copy()
    frozen.flags.writeable = False
    ry, rx = np.nonzero(crop)
    return _Shape(unsettled(frozen), 0, (0, 0), (float(rx.mean()), float(ry.mean())))


def _owners(flat: IntArray, ids: IntArray, query: IntArray) -> IntArray:
    """The group id predicted at each flat index in ``query`` (-1 where none)."""
    order = np.argsort(flat, kind="stable")
    sorted_flat = flat[order]
    pos = np.minimum(np.searchsorted(sorted_flat, query), max(len(flat) - 1, 0))
    if not len(flat):
        return np.full(query.shape, -1, np.int64)
    hit = sorted_flat[pos] == query
    out: IntArray = np.where(hit, ids[order][pos], -1)
    return out


def _union(parent: dict[int, int], a: int, b: int) -> None:
    """Join the sets of ``a`` and ``b`` (the smaller root wins, for a deterministic order)."""
    ra, rb = _root(parent, a), _root(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _sets(parent: dict[int, int]) -> dict[int, list[int]]:
    """The sets of a union-find forest: root -> members."""
    out: dict[int, list[int]] = {}
    for a in list(parent):
        out.setdefault(_root(parent, a), []).append(a)
    return out


def _root(parent: dict[int, int], a: int) -> int:
    parent.setdefault(a, a)
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def _bytes_key(crop: Cells) -> ShapeKey:
    return (crop.shape[0], crop.shape[1], stable_hash(crop.tobytes()), -2)


def _join(isl: Islands, islands: list[int], shape: tuple[int, int]) -> _Merged:
    """One group from several islands: re-unwrap the union so parts across a seam meet."""
    h, w = shape
    ys = np.concatenate([isl.cells_of(i)[0] for i in islands]) % h
    xs = np.concatenate([isl.cells_of(i)[1] for i in islands]) % w
    return _Merged(_unwrap(ys, h), _unwrap(xs, w), sorted(islands))


def _first_conflict(
    preds: list[tuple[IntArray, IntArray]], future: Sequence[Cells],
    interior: npt.NDArray[np.bool_] | None = None,
) -> tuple[int, IntArray] | None:
    """Earliest t >= 1 where the union of predictions differs from ``future[t-1]`` (or overlaps).

    ``preds[t-1]`` holds the predictions for generation t. Only cells in ``interior`` count
    when it is given.
    """
    for t in range(1, len(future) + 1):
        bad = _mismatch(preds[t - 1][0], future[t - 1], interior)
        if len(bad):
            return t, bad
    return None


def _mismatch(
    flat: IntArray, target: Cells, interior: npt.NDArray[np.bool_] | None = None
) -> IntArray:
    """Flat cells where ``flat`` stamped on an empty lattice differs from ``target``.

    Cells stamped twice count as different; with ``interior``, only cells inside it count.
    """
    predicted = np.zeros(target.size, np.uint8)
    predicted[flat] = 1
    bad = np.flatnonzero(predicted != target.ravel())
    if len(flat) != int(np.count_nonzero(predicted)):
        uniq, counts = np.unique(flat, return_counts=True)
        bad = np.union1d(bad, uniq[counts > 1])
    if interior is not None and len(bad):
        bad = bad[interior.ravel()[bad]]
    return bad


def _future(alive: Cells, rule: Rule, steps: int) -> list[Cells]:
    """The next ``steps`` generations of the whole torus."""
    backend = BitPackedBackend(rule, (alive.shape[0], alive.shape[1]), threads=1)
    backend.set_cells(alive)
    frames = []
    for _ in range(steps):
        backend.step(1)
        frames.append(backend.get_cells())
    backend.close()
    return frames
