"""Classify one isolated object: still life, oscillator, spaceship, or unsettled.

The object runs alone on the unbounded plane (not the torus: an object must not meet itself across
a seam). Each generation is normalised to its bounding box, so "equal up to translation" is a
cheap equality test; the first generation ``p >= 1`` equal to generation 0 gives the period and
the displacement, as Golly's oscar.py does. The apgcode is then computed over the ``p`` phases.

Objects that do not return to generation 0 within ``max_period`` generations (including transients
that settle into something else), that outgrow ``max_side``, or that die are *unsettled*: they get
no apgcode and no name, so a detector never misnames a transient. A pattern that dies does not
persist, so it is unsettled too (kind ``"unsettled"``, period 0). The empty pattern itself is the
one exception: lifelib calls it ``xs0_0``, and so do we.

Classification is cached per (rule, bounds, array bytes): a detector meets the same few shapes
over and over. Cached results hold read-only arrays so no caller can corrupt the cache.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from game.cells import Cells
from game.patterns.apgcode import apgcode, crop
from game.patterns.catalogue import friendly_name
from game.rules import CONWAY, Rule

Kind = Literal["still", "oscillator", "spaceship", "unsettled"]

#: How many classifications the cache keeps (least recently used are dropped first).
CACHE_SIZE = 1 << 13

#: Arrays with more cells than this are classified but not cached: big objects rarely repeat, and
#: keeping their keys and phases could hold gigabytes.
CACHE_MAX_CELLS = 64 * 64

# Generations of a candidate are kept only up to this many bits in total; beyond that they are
# recomputed once the period is known, so a big growing pattern cannot hold gigabytes of history.
_HISTORY_BITS = 1 << 26

# Re-keying the cache for every phase costs O(period²); long periods are rare enough to skip it.
_PREFILL_MAX_PERIOD = 64

_EMPTY: Cells = np.zeros((0, 0), dtype=np.uint8)
_EMPTY.flags.writeable = False


def _check_rule(rule: Rule) -> None:
    if 0 in rule.birth:
        raise ValueError(
            f"rule {rule}: B0 rules are not supported for pattern classification (the empty plane"
            " would fill every other generation, so an isolated object has no finite phases)"
        )


@functools.lru_cache(maxsize=64)
def _table(rule: Rule) -> Cells:
    """Next state indexed [alive, live cells in the 3×3 block including the cell itself]."""
    _check_rule(rule)
    table = np.zeros((2, 10), dtype=np.uint8)
    for k in rule.birth:
        table[0, k] = 1
    for k in rule.survive:
        table[1, k + 1] = 1
    table.flags.writeable = False
    return table


def plane_step(cells: Cells, rule: Rule = CONWAY) -> tuple[Cells, tuple[int, int]]:
    """One generation of a 0/1 uint8 pattern on the unbounded plane (the simple numpy engine).

    Returns the next generation cropped to its bounding box and the (x, y) offset of its top-left
    relative to the top-left of ``cells``; an empty result is a (0, 0) array at offset (0, 0).
    Raises ValueError for B0 rules.
    """
    table = _table(rule)
    h, w = cells.shape
    if h == 0 or w == 0:
        return _EMPTY, (0, 0)
    # Two cells of padding: one ring for the cells that may be born around the pattern, and one
    # more so that the 3×3 sums of that ring can be taken by plain slicing.
    p = np.zeros((h + 4, w + 4), dtype=np.uint8)
    p[2:-2, 2:-2] = cells
    # The 3×3 box sum is separable: three column shifts, then three row shifts.
    r = p[:, :-2] + p[:, 1:-1] + p[:, 2:]
    s = r[:-2] + r[1:-1] + r[2:]
    nxt: Cells = table[p[1:-1, 1:-1], s]
    out, (x0, y0) = crop(nxt)
    if out.size == 0:
        return _EMPTY, (0, 0)
    return out, (x0 - 1, y0 - 1)


def _frozen(cells: Cells) -> Cells:
    out = np.array(cells, dtype=np.uint8, order="C", copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, slots=True)
class Classification:
    """What an isolated object is, with all its phases.

    ``phases[k]`` is the object ``k`` generations after the classified phase, cropped to its
    bounding box, whose top-left is ``offsets[k]`` (x, y) relative to the top-left of
    ``phases[0]``. After ``period`` generations the object is ``phases[0]`` moved by
    ``(dx, dy)`` (x right, y down; zero unless a spaceship). Unsettled objects have no apgcode,
    no name, period 0 and just their own phase. Arrays are read-only.
    """

    apgcode: str | None
    name: str | None
    kind: Kind
    period: int
    dx: int
    dy: int
    phases: tuple[Cells, ...]
    offsets: tuple[tuple[int, int], ...]
    population: int

    @property
    def settled(self) -> bool:
        """True for still lifes, oscillators and spaceships (everything with an apgcode)."""
        return self.kind != "unsettled"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Classification):
            return NotImplemented
        return (
            self.apgcode == other.apgcode
            and self.name == other.name
            and self.kind == other.kind
            and self.period == other.period
            and (self.dx, self.dy) == (other.dx, other.dy)
            and self.offsets == other.offsets
            and self.population == other.population
            and len(self.phases) == len(other.phases)
            and all(np.array_equal(a, b) for a, b in zip(self.phases, other.phases, strict=True))
        )

    def __hash__(self) -> int:
        return hash((self.apgcode, self.kind, self.period, self.dx, self.dy, self.offsets))


def unsettled(phase0: Cells) -> Classification:
    """The classification of an object that does not settle: just its own (read-only) phase."""
    return Classification(
        apgcode=None,
        name=None,
        kind="unsettled",
        period=0,
        dx=0,
        dy=0,
        phases=(phase0,),
        offsets=((0, 0),),
        population=int(np.count_nonzero(phase0)),
    )


def _settled(
    rule: Rule,
    phases: tuple[Cells, ...],
    offsets: tuple[tuple[int, int], ...],
    period: int,
    dx: int,
    dy: int,
    code: str,
) -> Classification:
    if dx or dy:
        kind: Kind = "spaceship"
    elif period == 1:
        kind = "still"
    else:
        kind = "oscillator"
    return Classification(
        apgcode=code,
        # Friendly names are Catagolue's names in B3/S23; another rule's object with the same
        # code need not be the same thing, so it stays unnamed rather than possibly misnamed.
        name=friendly_name(code) if rule.is_conway else None,
        kind=kind,
        period=period,
        dx=dx,
        dy=dy,
        phases=phases,
        offsets=offsets,
        population=int(np.count_nonzero(phases[0])),
    )


class _BitPlane:
    """A small pattern packed into one Python int: the fast engine behind :func:`classify`.

    Cell (row r, column c) is bit ``r * stride + c``. A generation is ~30 big-int operations
    whatever the pattern's size, several times faster than numpy for objects of tens of cells
    (numpy pays microseconds per call), and equality up to translation is int equality once
    the pattern is normalised to top-left (1, 1). Row 0 and column 0 stay empty and the
    pattern keeps two empty columns at the right, so the shifted neighbour copies never wrap
    from one row into the next.
    """

    __slots__ = ("birth", "bits", "height", "stride", "survive", "width")

    def __init__(self, cells: Cells, rule: Rule, stride: int = 0) -> None:
        h, w = cells.shape
        # Twice the width leaves room to grow before a (rare) re-stride.
        self.stride = max(stride, 2 * w + 8)
        self.height = h
        self.width = w
        buf = np.zeros((h + 1, self.stride), dtype=np.uint8)
        buf[1:, 1 : w + 1] = cells
        self.bits = int.from_bytes(np.packbits(buf, bitorder="little").tobytes(), "little")
        self.birth = tuple(sorted(rule.birth))
        self.survive = tuple(sorted(rule.survive))

    def cells(self) -> Cells:
        """The normalised pattern as a cropped uint8 array."""
        return _unpack(self.bits, self.stride, self.height, self.width)

    def step(self) -> tuple[int, int] | None:
        """Advance one generation; the (x, y) move of the top-left, or None when it died."""
        v = self.bits
        s = self.stride
        # Per row: g = west + east neighbour (bits g0, g1), h = g + the cell itself (h0, h1).
        x = v << 1
        y = v >> 1
        g0 = x ^ y
        g1 = x & y
        h0 = g0 ^ v
        h1 = g1 | (g0 & v)
        # Neighbour count = h(row above) + g(row) + h(row below), added bit-sliced.
        a0 = h0 << s
        a1 = h1 << s
        b0 = h0 >> s
        b1 = h1 >> s
        t = a0 ^ g0
        c0 = t ^ b0
        carry = (a0 & g0) | (t & b0)
        t1 = a1 ^ g1
        t2 = b1 ^ carry
        c1 = t1 ^ t2
        p1 = a1 & g1
        p2 = b1 & carry
        c2 = (p1 ^ p2) | (t1 & t2)
        c3 = p1 & p2
        if self.birth == (3,) and self.survive == (2, 3):
            nxt = c1 & ~c2 & ~c3 & (c0 | v)
        else:
            nxt = self._apply(v, (c0, c1, c2, c3))
        if nxt == 0:
            self.bits = 0
            return None
        return self._normalise(nxt)

    def _apply(self, v: int, count: tuple[int, int, int, int]) -> int:
        """Next state for an arbitrary (B0-free) Life-like rule from the bit-sliced count."""

        def equals(k: int) -> int:
            m = -1
            for i, bit in enumerate(count):
                m &= bit if (k >> i) & 1 else ~bit
            return m

        born = 0
        for k in self.birth:
            born |= equals(k)
        kept = 0
        for k in self.survive:
            kept |= equals(k)
        return (born & ~v) | (kept & v)

    def _normalise(self, v: int) -> tuple[int, int]:
        """Move ``v``'s bounding box to top-left (1, 1) (re-striding if it grew too wide)."""
        s = self.stride
        top = ((v & -v).bit_length() - 1) // s
        bottom = (v.bit_length() - 1) // s
        rows = bottom - top + 1
        # OR all rows onto the top one (doubling) to find the occupied columns.
        fold = v >> (top * s)
        k = 1
        while k < rows:
            fold |= fold >> (k * s)
            k *= 2
        fold &= (1 << s) - 1
        left = (fold & -fold).bit_length() - 1
        width = fold.bit_length() - left
        if width + 3 > s:
            new_stride = 2 * width + 8
            out = 0
            mask = (1 << width) - 1
            for r in range(rows):
                row = (v >> ((top + r) * s + left)) & mask
                out |= row << ((r + 1) * new_stride + 1)
            self.stride = new_stride
            v = out
        else:
            shift = (top - 1) * s + (left - 1)
            v = v >> shift if shift >= 0 else v << -shift
        self.bits = v
        self.height = rows
        self.width = width
        return left - 1, top - 1


def _unpack(bits: int, stride: int, height: int, width: int) -> Cells:
    nbits = (height + 1) * stride
    raw = np.frombuffer(bits.to_bytes((nbits + 7) // 8, "little"), dtype=np.uint8)
    grid = np.unpackbits(raw, bitorder="little", count=nbits).reshape(height + 1, stride)
    return _frozen(grid[1:, 1 : width + 1])


def _run(rule: Rule, phase0: Cells, max_period: int, max_side: int) -> Classification:
    """Classify a cropped 0/1 pattern without the cache."""
    if phase0.size == 0:
        return Classification("xs0_0", None, "still", 1, 0, 0, (_EMPTY,), ((0, 0),), 0)
    if max(phase0.shape) > max_side:
        return unsettled(phase0)
    plane = _BitPlane(phase0, rule)
    target = plane.bits
    stride = plane.stride
    # Every generation seen so far (same stride only): a repeat of any generation other than 0
    # proves generation 0 is a transient that never comes back, so we can stop early.
    seen: dict[int, int] | None = {target: 0}
    history: list[tuple[int, int, int, int]] | None = [(target, stride, plane.height, plane.width)]
    offsets: list[tuple[int, int]] = [(0, 0)]
    stored = target.bit_length()
    x = y = 0
    period = 0
    for gen in range(1, max_period + 1):
        moved = plane.step()
        if moved is None or plane.height > max_side or plane.width > max_side:
            return unsettled(phase0)
        x += moved[0]
        y += moved[1]
        if plane.stride != stride:
            # Re-strided: old ints are in another layout. Rebuild generation 0's key; the seen
            # table is only an optimisation and starts again.
            stride = plane.stride
            target = _BitPlane(phase0, rule, stride).bits
            seen = {} if seen is not None else None
        v = plane.bits
        if v == target:
            period = gen
            break
        if seen is not None:
            if v in seen:
                return unsettled(phase0)
            seen[v] = gen
        offsets.append((x, y))
        if history is not None:
            stored += v.bit_length()
            history.append((v, stride, plane.height, plane.width))
            if stored > _HISTORY_BITS:
                history = seen = None
    else:
        return unsettled(phase0)
    if history is None:
        phases = [phase0]
        again = _BitPlane(phase0, rule)
        for _ in range(1, period):
            again.step()
            phases.append(again.cells())
    else:
        phases = [_unpack(*entry) for entry in history]
    code = apgcode(phases, period, x, y, cropped=True)
    return _settled(rule, tuple(phases), tuple(offsets), period, x, y, code)


def _rephase(c: Classification, j: int) -> Classification:
    """The same object's classification seen from its phase ``j``."""
    p = c.period
    bx, by = c.offsets[j]
    offsets = []
    for k in range(p):
        i = j + k
        ox, oy = c.offsets[i % p]
        if i >= p:
            ox += c.dx
            oy += c.dy
        offsets.append((ox - bx, oy - by))
    phases = c.phases[j:] + c.phases[:j]
    return Classification(
        apgcode=c.apgcode,
        name=c.name,
        kind=c.kind,
        period=p,
        dx=c.dx,
        dy=c.dy,
        phases=phases,
        offsets=tuple(offsets),
        population=int(np.count_nonzero(phases[0])),
    )


_Key = tuple[Rule, int, int, tuple[int, ...], str, bytes]
_cache: OrderedDict[_Key, Classification] = OrderedDict()


def _remember(key: _Key, value: Classification) -> None:
    _cache[key] = value
    _cache.move_to_end(key)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def _key(rule: Rule, max_period: int, max_side: int, cells: npt.NDArray[np.generic]) -> _Key:
    return (rule, max_period, max_side, cells.shape, cells.dtype.str, cells.tobytes())


def classify(
    cells: npt.ArrayLike, rule: Rule = CONWAY, max_period: int = 1000, max_side: int = 512
) -> Classification:
    """Classify the object in ``cells[y, x]`` (nonzero is alive) run alone on the plane.

    The array is cropped to its live cells first; ``offsets`` are relative to that box. The
    object is unsettled when generation 0 does not come back within ``max_period`` generations,
    when a generation is taller or wider than ``max_side``, or when it dies. Results are cached
    (see :func:`clear_cache`); a settled object fills the cache for all its phases at once.
    Raises ValueError for B0 rules and for arrays that are not 2-D. Not thread-safe: call it from
    one thread (the tick's), or use :func:`classify_uncached`.
    """
    _check_rule(rule)
    arr = np.asarray(cells)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array of cells, got shape {arr.shape}")
    if arr.size > CACHE_MAX_CELLS:
        phase0 = _frozen(crop(arr != 0)[0])
        if phase0.size > CACHE_MAX_CELLS:
            return _run(rule, phase0, max_period, max_side)
        return classify(phase0, rule, max_period, max_side)
    # The caller's own bytes are the first key, so a hit costs no crop and no copy.
    raw_key = _key(rule, max_period, max_side, arr)
    hit = _cache.get(raw_key)
    if hit is not None:
        _cache.move_to_end(raw_key)
        return hit
    phase0 = _frozen(crop(arr != 0)[0])
    key = _key(rule, max_period, max_side, phase0)
    result = _cache.get(key)
    if result is None:
        result = _run(rule, phase0, max_period, max_side)
        if 1 < result.period <= _PREFILL_MAX_PERIOD:
            for j in range(1, result.period):
                _remember(_key(rule, max_period, max_side, result.phases[j]), _rephase(result, j))
        _remember(key, result)
    _remember(raw_key, result)
    return result


def classify_uncached(
    cells: npt.ArrayLike, rule: Rule = CONWAY, max_period: int = 1000, max_side: int = 512
) -> Classification:
    """:func:`classify` without reading or filling the cache (for tests and timing)."""
    _check_rule(rule)
    arr = np.asarray(cells)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array of cells, got shape {arr.shape}")
    phase0, _ = crop(arr != 0)
    return _run(rule, _frozen(phase0), max_period, max_side)


def clear_cache() -> None:
    """Forget every cached classification."""
    _cache.clear()


def cache_size() -> int:
    """How many keys the classification cache holds now."""
    return len(_cache)
