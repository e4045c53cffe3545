"""Islands: the 8-connected components of live cells on a torus, with bounding boxes and keys.

Labelling runs on the plane (scipy.ndimage), then labels that touch across the torus seams are
merged. Per-island statistics are vectorised over all live cells at once (sorted by label), so
a 1024² lattice of ash (thousands of islands) costs milliseconds, not a Python loop per island.

Coordinates: ``x`` is the column, ``y`` the row, as in RLE. An island that crosses a seam is
unwrapped: its top-left ``(x0, y0)`` lies in the lattice and its cells run on past the edge,
modulo the torus size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.ndimage as ndi

IntArray = npt.NDArray[np.int64]
_EIGHT = np.ones((3, 3), dtype=bool)
# Random 64-bit tables for Zobrist shape keys: the key of an island is the XOR of the entries at
# its cells' offsets from its top-left corner (with its width and height). Two independent
# tables give 128 bits: collisions are not a practical concern.
_KEY_SIDE = 256
_ZOBRIST = np.random.default_rng(0x5EED).integers(
    0, 2**63, size=(2, _KEY_SIDE, _KEY_SIDE), dtype=np.int64
)

ShapeKey = tuple[int, int, int, int]


@dataclass(slots=True)
class Islands:
    """All islands of one lattice: ``count`` islands, arrays indexed by island 0..count-1."""

    shape: tuple[int, int]
    count: int
    x0: IntArray
    y0: IntArray
    width: IntArray
    height: IntArray
    population: IntArray
    # Cells of island i are ys[starts[i]:starts[i+1]], xs[...] (unwrapped: may exceed the torus).
    ys: IntArray
    xs: IntArray
    starts: IntArray
    # Shapes: island i has shape key_ids[i]; keys[k] is shape k's key, key_rep[k] one island of it.
    key_ids: IntArray
    keys: list[ShapeKey]
    key_rep: IntArray
    # Plane labels of the lattice (0 = dead) and the island of each plane label (-1 for 0).
    labels: npt.NDArray[np.int32]
    island_of: IntArray

    def cells_of(self, i: int) -> tuple[IntArray, IntArray]:
        """Unwrapped (ys, xs) of island ``i``."""
        a, b = self.starts[i], self.starts[i + 1]
        return self.ys[a:b], self.xs[a:b]

    def crop(self, i: int) -> npt.NDArray[np.uint8]:
        """Island ``i`` as a uint8 array cropped to its bounding box."""
        ys, xs = self.cells_of(i)
        out = np.zeros((int(self.height[i]), int(self.width[i])), np.uint8)
        out[ys - self.y0[i], xs - self.x0[i]] = 1
        return out


def stable_hash(data: bytes) -> int:
    """A 63-bit hash of ``data`` that is the same in every process.

    Python's ``hash`` is salted per run, which would make shape order, and so which shapes a
    budgeted census classifies first, differ between runs.
    """
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


def _find(parent: list[int], a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def torus_labels(
    alive: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], int, set[int]]:
    """8-connected labels on the torus.

    Returns the plane labels (0 = dead), a map from plane label to island (0..n-1, or -1 for 0),
    the number of islands n, and the islands that cross a seam. The plane labels are not
    rewritten: merging across the seams only changes the small map.
    """
    labels, n_plane = ndi.label(alive, structure=_EIGHT)
    labels = labels.astype(np.int32, copy=False)
    h, w = alive.shape
    pairs: list[tuple[int, int]] = []
    # Left/right seam: (y, W-1) touches (y-1..y+1, 0); top/bottom: (H-1, x) touches (0, x-1..x+1).
    right, left = labels[:, w - 1], labels[:, 0]
    bottom, top = labels[h - 1, :], labels[0, :]
    for d in (-1, 0, 1):
        for edge, other in ((right, left), (bottom, top)):
            shifted = np.concatenate([other[d:], other[:d]]) if d else other
            m = (edge > 0) & (shifted > 0)
            if m.any():
                pairs.extend(zip(edge[m].tolist(), shifted[m].tolist(), strict=True))
    roots = np.arange(n_plane + 1, dtype=np.int64)
    crossing: set[int] = set()
    if pairs:
        parent = list(range(n_plane + 1))
        for a, b in pairs:
            ra, rb = _find(parent, a), _find(parent, b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
            crossing.update((a, b))
        for a in crossing:
            roots[a] = _find(parent, a)
    uniq, dense = np.unique(roots, return_inverse=True)  # uniq[0] == 0 (background)
    island_of = dense.astype(np.int64) - 1
    crossing_islands = {int(island_of[a]) for a in crossing}
    return labels, island_of, int(len(uniq) - 1), crossing_islands


def _unwrap(values: IntArray, size: int) -> IntArray:
    """Shift coordinates on a circle of ``size`` so they form the shortest covering interval."""
    present = np.unique(values)
    if len(present) == size:
        return values  # wraps all the way round: nothing to unwrap
    gaps = np.diff(np.concatenate([present, [present[0] + size]]))
    cut = int(np.argmax(gaps))  # the largest empty arc: the interval starts just after it
    start = int(present[(cut + 1) % len(present)])
    out: IntArray = np.where(values >= start, values, values + size)
    return out


def find_islands(alive: npt.NDArray[np.uint8]) -> Islands:
    """Label ``alive`` (uint8 H×W torus) and describe every island."""
    h, w = alive.shape
    labels, island_of, n, crossing = torus_labels(alive)
    flat = np.flatnonzero(labels)
    lab = island_of[labels.ravel()[flat]]
    order = np.argsort(lab, kind="stable")
    lab = lab[order]
    flat = flat[order]
    ys = flat // w
    xs = flat % w
    counts = np.bincount(lab, minlength=n)
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    for i in sorted(crossing):
        a, b = starts[i], starts[i + 1]
        ys[a:b] = _unwrap(ys[a:b], h)
        xs[a:b] = _unwrap(xs[a:b], w)
    if n:
        seg = starts[:-1]
        x0 = np.minimum.reduceat(xs, seg)
        y0 = np.minimum.reduceat(ys, seg)
        width = np.maximum.reduceat(xs, seg) - x0 + 1
        height = np.maximum.reduceat(ys, seg) - y0 + 1
    else:
        x0 = y0 = width = height = np.zeros(0, np.int64)
    key_ids, keys, key_rep = _shape_keys(ys, xs, lab, x0, y0, width, height, starts, n)
    return Islands((h, w), n, x0, y0, width, height, counts.astype(np.int64), ys, xs, starts,
                   key_ids, keys, key_rep, labels, island_of)


def _shape_keys(
    ys: IntArray, xs: IntArray, lab: IntArray, x0: IntArray, y0: IntArray, width: IntArray,
    height: IntArray, starts: IntArray, n: int,
) -> tuple[IntArray, list[ShapeKey], IntArray]:
    """Translation-invariant shape keys: (shape id per island, key per shape, an island each)."""
    if n == 0:
        return np.zeros(0, np.int64), [], np.zeros(0, np.int64)
    ry = ys - y0[lab]
    rx = xs - x0[lab]
    big = (ry >= _KEY_SIDE) | (rx >= _KEY_SIDE)
    ry_c = np.minimum(ry, _KEY_SIDE - 1)
    rx_c = np.minimum(rx, _KEY_SIDE - 1)
    seg = starts[:-1]
    k1 = np.bitwise_xor.reduceat(_ZOBRIST[0][ry_c, rx_c], seg)
    k2 = np.bitwise_xor.reduceat(_ZOBRIST[1][ry_c, rx_c], seg)
    if big.any():
        # Islands larger than the table: key them by a hash of their exact bytes instead.
        for i in np.unique(lab[big]).tolist():
            a, b = starts[i], starts[i + 1]
            grid = np.zeros((int(height[i]), int(width[i])), np.uint8)
            grid[ry[a:b], rx[a:b]] = 1
            k1[i], k2[i] = stable_hash(grid.tobytes()), -1
    # One 64-bit word per island for a fast 1-D unique; the full 4-tuple is kept as the key.
    mixed = k1 ^ (k2 * np.int64(0x9E3779B97F4A7C15 - 2**64)) ^ (height << 40) ^ (width << 20)
    _, rep, key_ids = np.unique(mixed, return_index=True, return_inverse=True)
    keys: list[ShapeKey] = [
        (int(height[i]), int(width[i]), int(k1[i]), int(k2[i])) for i in rep.tolist()
    ]
    return key_ids.ravel().astype(np.int64), keys, rep.astype(np.int64)
