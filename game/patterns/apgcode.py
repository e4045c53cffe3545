"""apgcodes: the community's canonical names for still lifes, oscillators and spaceships.

An apgcode is ``x<kind><n>_<rep>``: ``xs<population>`` for a still life, ``xp<period>`` for an
oscillator, ``xq<period>`` for a spaceship, then ``rep``, the *Extended Wechsler* encoding of the
object, minimised over all its phases and the 8 symmetries of the square. Everything here follows
lifelib (``bitworld.h``: ``canonise_orientation``, ``comprep``, ``wechslerise``; ``pattern2.h``:
``apgcode``) character for character, because Catagolue and every other census tool name objects
that way and our names must match theirs.

Arrays are ``cells[y, x]`` (row ``y`` grows downwards, column ``x`` to the right), uint8 0/1.

Extended Wechsler in brief: the pattern is cut into strips of 5 rows; each column of a strip
becomes one character of ``0-9a-v`` whose bit ``k`` is the strip's row ``k``; runs of empty columns
shrink to ``0`` (1), ``w`` (2), ``x`` (3), ``y?`` (4..39, ``?`` being the character for the run
length − 4); empty columns at the end of a strip are dropped; strips are joined by ``z``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from game.cells import Cells

#: lifelib's ``charnames``: the character for a 5-bit column value, and for a zero-run length.
CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"

#: lifelib's defaults in ``apgcode()``, which apgsearch and so Catagolue use: a phase whose box,
#: padded by one cell on each side, holds more cells gives no representation, and representations
#: longer than MAX_LENGTH are skipped; with nothing left the code is ``ov_…``. python-lifelib's
#: ``Pattern.apgcode`` instead passes no limits (pass None for both to match it on huge objects).
MAX_AREA = 40000
MAX_LENGTH = 1280

_BITS = np.array([1, 2, 4, 8, 16], dtype=np.uint8)

# Strip matrices become text with one bytes.translate: column values 0..31 map to their
# characters, _STRIP_END to the 'z' after every strip, _IMAGE_END to a '|' between the images of a
# batch, and _DROP (empty columns after a strip's last live one, which lifelib never writes) is
# deleted.
_STRIP_END = 32
_IMAGE_END = 33
_DROP = 255
_TO_TEXT = CHARS[:32].encode("ascii") + b"z|" + bytes(256 - 34)
_DROP_BYTES = bytes([_DROP])
_ZERO_RUN = re.compile(r"0{2,}")
_APGCODE = re.compile(r"^x([spq])(\d+)_([0-9a-z]+)$")


@functools.lru_cache(maxsize=4096)
def _zero_run(n: int) -> str:
    """The encoding of ``n`` >= 1 empty columns that precede a non-empty one."""
    out = []
    while n >= 40:
        # lifelib emits 'yz' (39 columns) while 40 or more remain, so 40 is 'yz0', not 'yz' + '0'.
        out.append("yz")
        n -= 39
    if n == 1:
        out.append("0")
    elif n == 2:
        out.append("w")
    elif n == 3:
        out.append("x")
    elif n >= 4:
        out.append("y" + CHARS[n - 4])
    return "".join(out)


def _zero_run_match(m: re.Match[str]) -> str:
    return _zero_run(m.end() - m.start())


def _strip_values(cells: Cells) -> Cells:
    """Column values per 5-row strip, shape (strips, width); a strip's row ``k`` is bit ``k``."""
    h, w = cells.shape
    strips = (h + 4) // 5
    padded = np.zeros((strips * 5, w), dtype=np.uint8)
    padded[:h] = cells
    values: Cells = _BITS @ padded.reshape(strips, 5, w)
    return values


def _encode_batch(values: Cells) -> list[str]:
    """Extended Wechsler texts of a batch of strip matrices, shape (images, strips, width).

    Empty columns after the last live one of a strip and empty strips at the end are not
    encoded, so images of different sizes may share a batch padded with zeros.
    """
    images, strips, w = values.shape
    if strips == 0 or w == 0:
        return ["0"] * images
    live = values != 0
    # Columns up to a strip's last live one: a running OR taken from the right.
    kept = np.logical_or.accumulate(live[:, :, ::-1], axis=2)[:, :, ::-1]
    text = np.empty((images, strips * (w + 1) + 1), dtype=np.uint8)
    body = text[:, :-1].reshape(images, strips, w + 1)
    body[:, :, :w] = np.where(kept, values, _DROP)
    body[:, :, w] = _STRIP_END
    text[:, -1] = _IMAGE_END
    raw = text.tobytes().translate(_TO_TEXT, _DROP_BYTES).decode("ascii")
    reps = raw.split("|")
    del reps[-1]
    for k, rep in enumerate(reps):
        # Single empty columns are already the '0' they encode to; only longer runs need work.
        if "00" in rep:
            rep = _ZERO_RUN.sub(_zero_run_match, rep)
        reps[k] = rep.rstrip("z") or "0"
    return reps


def _eight_reps(a: Cells) -> list[str]:
    """Encodings of the 8 images of a cropped, non-empty ``a``, computed as one numpy batch.

    The batch stacks ``a``, ``a`` flipped in y, the transpose and the transpose flipped, padded
    with empty rows and columns to a common square (harmless, see :func:`_encode_batch`). A flip
    in x only reverses the columns of every strip, so those four strip matrices give all eight
    images. One batch keeps the numpy call count, which dominates for small objects, low.
    """
    h, w = a.shape
    n = max(h, w)
    strips = (n + 4) // 5
    padded = np.zeros((4, strips * 5, n), dtype=np.uint8)
    padded[0, :h, :w] = a
    padded[1, :h, :w] = a[::-1]
    padded[2, :w, :h] = a.T
    padded[3, :w, :h] = a.T[::-1]
    values = _BITS @ padded.reshape(4, strips, 5, n)
    images = np.zeros((8, strips, n), dtype=np.uint8)
    images[0::2] = values
    # An x-flip reverses the image's own columns only, not the padding after them.
    images[1:4:2, :, :w] = values[0:2, :, w - 1 :: -1]
    images[5:8:2, :, :h] = values[2:4, :, h - 1 :: -1]
    return _encode_batch(images)


def _as_cells(cells: npt.ArrayLike) -> Cells:
    arr = np.asarray(cells)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array of cells, got shape {arr.shape}")
    out: Cells = arr if arr.dtype == np.uint8 else (arr != 0).astype(np.uint8)
    return out


def wechsler(cells: npt.ArrayLike) -> str:
    """Extended Wechsler encoding of ``cells[y, x]`` exactly as given (one orientation, no crop).

    This is lifelib's ``canonise_orientation`` with the identity transform over the array's own
    box: empty leading rows or columns are encoded, empty trailing ones vanish. The empty
    pattern is ``"0"``.
    """
    arr = _as_cells(cells)
    if arr.size == 0:
        return "0"
    return _encode_batch(_strip_values(arr)[None])[0]


def orientations(cells: npt.ArrayLike) -> tuple[Cells, ...]:
    """The 8 images of ``cells`` under the symmetries of the square (rotations and reflections).

    Order as lifelib's ``wechslerise``: identity, flip x, flip y, rotate 180°, then the transpose
    and its three flips. The arrays are views where numpy allows.
    """
    a = _as_cells(cells)
    t = a.T
    return (a, a[:, ::-1], a[::-1], a[::-1, ::-1], t, t[:, ::-1], t[::-1], t[::-1, ::-1])


def crop(cells: npt.ArrayLike) -> tuple[Cells, tuple[int, int]]:
    """Crop to the bounding box of the live cells: (cropped view, (x, y) of its top-left).

    The empty pattern crops to shape (0, 0) at (0, 0).
    """
    arr = _as_cells(cells)
    if arr.size == 0:
        return np.zeros((0, 0), dtype=np.uint8), (0, 0)
    # bytes.find on the row/column masks is much cheaper than flatnonzero for small arrays.
    rows = arr.any(axis=1).tobytes()
    y0 = rows.find(1)
    if y0 < 0:
        return np.zeros((0, 0), dtype=np.uint8), (0, 0)
    cols = arr.any(axis=0).tobytes()
    x0 = cols.find(1)
    return arr[y0 : rows.rfind(1) + 1, x0 : cols.rfind(1) + 1], (x0, y0)


def _better(a: str, b: str) -> bool:
    """Whether ``a`` is strictly simpler than ``b`` in lifelib's ``comprep`` order.

    Shorter wins; equal lengths compare in plain ASCII order.
    """
    return len(a) < len(b) or (len(a) == len(b) and a < b)


def _phase_reps(phase: Cells, max_area: int | None) -> list[str]:
    """The 8 oriented encodings of one cropped phase, or [] when lifelib's area limit rejects it."""
    h, w = phase.shape
    if h == 0 or w == 0:
        return ["0"]
    if max_area is not None and (w + 2) * (h + 2) > max_area:
        return []
    return _eight_reps(phase)


def best_rep(
    cropped_phases: Sequence[Cells],
    *,
    max_area: int | None = MAX_AREA,
    max_length: int | None = MAX_LENGTH,
) -> str | None:
    """:func:`canonical_wechsler` for phases already cropped to their bounding boxes (0/1 uint8)."""
    best: str | None = None
    for phase in cropped_phases:
        for rep in _phase_reps(phase, max_area):
            if (max_length is None or len(rep) <= max_length) and (
                best is None or _better(rep, best)
            ):
                best = rep
    return best


def canonical_wechsler(
    phases: Sequence[npt.ArrayLike],
    *,
    max_area: int | None = MAX_AREA,
    max_length: int | None = MAX_LENGTH,
) -> str | None:
    """The canonical representation: the simplest encoding over every phase and all 8 symmetries.

    Each phase is cropped to its own bounding box first. "Simplest" is lifelib's ``comprep``:
    shorter wins, then the smaller in plain ASCII order. Like lifelib's ``apgcode()``, a phase
    whose box padded by one cell on each side exceeds ``max_area`` cells contributes nothing, and
    encodings longer than ``max_length`` are skipped; None when nothing remains (an ``ov_`` code).
    A limit of None means no limit.
    """
    cropped = [crop(phase)[0] for phase in phases]
    return best_rep(cropped, max_area=max_area, max_length=max_length)


def apgcode(
    phases: Sequence[npt.ArrayLike],
    period: int,
    dx: int = 0,
    dy: int = 0,
    *,
    cropped: bool = False,
    max_area: int | None = MAX_AREA,
    max_length: int | None = MAX_LENGTH,
) -> str:
    """The apgcode of a periodic object given its ``period`` phases and displacement per period.

    ``xs<population>_…`` for period 1 without displacement (population of ``phases[0]``),
    ``xp<period>_…`` for an oscillator, ``xq<period>_…`` for a spaceship, ``xs0_0`` for the empty
    pattern. When the size limits (see :data:`MAX_AREA`; None for none) leave no representation
    the code is ``ov_s<population>``, ``ov_p<period>`` or ``ov_q<period>``, exactly as lifelib
    writes it. ``cropped=True`` promises that every phase is already a 0/1 uint8 array cropped to
    its bounding box (skips the crop).
    """
    if period < 1:
        raise ValueError(f"period must be at least 1, got {period}")
    if not phases:
        raise ValueError("apgcode needs at least one phase")
    first = _as_cells(phases[0])
    population = int(np.count_nonzero(first))
    if population == 0:
        return "xs0_0"
    if period == 1 and dx == 0 and dy == 0:
        prefix = f"s{population}"
    elif dx == 0 and dy == 0:
        prefix = f"p{period}"
    else:
        prefix = f"q{period}"
    if cropped:
        rep = best_rep([_as_cells(p) for p in phases], max_area=max_area, max_length=max_length)
    else:
        rep = canonical_wechsler(phases, max_area=max_area, max_length=max_length)
    if rep is None:
        return "ov_" + prefix
    return f"x{prefix}_{rep}"


def decode_wechsler(rep: str) -> Cells:
    """Cells of an Extended Wechsler encoding: the inverse of :func:`wechsler`.

    Empty rows and columns at the end are trimmed (the encoding cannot hold them), so for a
    pattern cropped to its bounding box ``decode_wechsler(wechsler(a))`` equals ``a``. ``"0"``
    (and ``""``) decode to the empty (0, 0) array. Raises ValueError on a malformed encoding.
    """
    strips: list[list[int]] = [[]]
    i = 0
    n = len(rep)
    while i < n:
        ch = rep[i]
        if ch == "z":
            strips.append([])
        elif ch == "w":
            strips[-1].extend((0, 0))
        elif ch == "x":
            strips[-1].extend((0, 0, 0))
        elif ch == "y":
            i += 1
            if i >= n:
                raise ValueError(f"Wechsler encoding {rep!r} ends inside a 'y' run")
            strips[-1].extend([0] * (4 + CHARS.index(rep[i])))
        else:
            value = CHARS.find(ch)
            if not 0 <= value < 32:
                raise ValueError(f"Wechsler encoding {rep!r}: unexpected character {ch!r}")
            strips[-1].append(value)
        i += 1
    width = max(len(s) for s in strips)
    values = np.zeros((len(strips), width), dtype=np.uint8)
    for k, s in enumerate(strips):
        values[k, : len(s)] = s
    # Unpack the 5 bits of each value into the 5 rows of its strip.
    bits = (values[:, None, :] >> np.arange(5, dtype=np.uint8)[None, :, None]) & 1
    cells = bits.reshape(len(strips) * 5, width).astype(np.uint8)
    rows = np.flatnonzero(cells.any(axis=1))
    cols = np.flatnonzero(cells.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    return np.ascontiguousarray(cells[: rows[-1] + 1, : cols[-1] + 1])


def parse_apgcode(code: str) -> tuple[str, int, str]:
    """Split ``x<kind><n>_<rep>`` into (kind letter ``s``/``p``/``q``, n, rep); ValueError else."""
    m = _APGCODE.match(code)
    if not m:
        raise ValueError(
            f"not a decodable apgcode: {code!r} (expected xs<pop>_…, xp<period>_… or xq<period>_…)"
        )
    return m.group(1), int(m.group(2)), m.group(3)


def decode_apgcode(code: str) -> Cells:
    """Cells of one phase of the object an apgcode names (cropped to its bounding box).

    Raises ValueError for codes that carry no pattern (``ov_…``, ``xg…``, pseudo/multi-layer
    codes) and for a still-life code whose population disagrees with its cells.
    """
    kind, n, rep = parse_apgcode(code)
    cells = decode_wechsler(rep)
    if kind == "s" and int(np.count_nonzero(cells)) != n:
        raise ValueError(f"apgcode {code!r}: population {n} but the encoding has a different one")
    return cells
