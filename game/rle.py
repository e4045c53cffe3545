"""Read and write Golly's RLE pattern format.

A file is optional ``#`` lines (``#N`` name, ``#C``/``#c``/``#O`` comments, ``#CXRLE Pos=x,y``), a
header ``x = W, y = H[, rule = B3/S23[:Tw,h]]`` and run-length encoded cells ending with ``!``:
``b``/``.`` dead, ``o``/``A`` alive, ``$`` end of row, each optionally preceded by a count.

Both directions are vectorised with numpy because patterns the size of a whole lattice (a 1024²
soup is about a megabyte of RLE and half a million runs) must load and save in tens of
milliseconds, faster than Golly itself; even a regex tokeniser alone takes ~200 ms there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import numpy.typing as npt

from game.cells import Cells
from game.errors import RleError, RuleError, one_line
from game.files import read_bytes, write_bytes
from game.rules import CONWAY, Rule, parse_rule_and_torus

_IntArray = npt.NDArray[np.int64]

#: Largest pattern box or torus we agree to allocate, in cells (256 MiB as uint8).
MAX_CELLS = 2**28

#: Golly's writer keeps body lines to 70 characters; so do we.
LINE_LIMIT = 70

_HEADER = re.compile(
    r"^x\s*=\s*(?P<x>[+-]?\d+)\s*,\s*y\s*=\s*(?P<y>[+-]?\d+)"
    r"(?:\s*,\s*rule\s*=\s*(?P<rule>.*?))?\s*$",
    re.IGNORECASE,
)
# Bounded digits keep absurd positions from overflowing int64 later; such a Pos is ignored.
_XRLE_POS = re.compile(r"\bPos\s*=\s*([+-]?\d{1,15})\s*,\s*([+-]?\d{1,15})\b", re.IGNORECASE)

# Byte classes for the body tokeniser; one table lookup classifies the whole body at once.
_WS, _DIGIT, _DEAD, _ALIVE, _EOL, _MULTI, _BAD = range(7)
_CLASS = np.full(256, _BAD, dtype=np.uint8)
for _ch in b" \t\r\n\f\v":  # _WHITESPACE
    _CLASS[_ch] = _WS
_CLASS[ord("0") : ord("9") + 1] = _DIGIT
for _ch in b"b.":
    _CLASS[_ch] = _DEAD
for _ch in b"oA":
    _CLASS[_ch] = _ALIVE
_CLASS[ord("$")] = _EOL
# Golly's multi-state encoding: states 1..24 are 'A'..'X' ('A' is our alive), 'p'..'y' prefix
# higher states. They are recognised only to give a clearer message than "unexpected character".
for _ch in b"BCDEFGHIJKLMNOPQRSTUVWXpqrstuvwxy":
    _CLASS[_ch] = _MULTI
_CLASS_TABLE = _CLASS.tobytes()
_WHITESPACE = b" \t\r\n\f\v"
_DIGITS = b"0123456789"

# No count of 10 digits can be valid under MAX_CELLS; the cap lets counts live in int32.
_MAX_COUNT_DIGITS = 9
_POW10 = 10 ** np.arange(19, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class RlePattern:
    """A parsed RLE file: the pattern's own box of cells plus its header and comment metadata.

    ``cells`` is read-only uint8 of shape (y, x) from the header, indexed ``cells[row, column]``.
    ``origin`` is where the box's top-left corner sits (``#CXRLE Pos=``), (0, 0) by default.
    """

    cells: Cells
    rule: Rule = CONWAY
    torus: tuple[int, int] | None = None
    name: str | None = None
    comments: list[str] = field(default_factory=list)
    origin: tuple[int, int] = (0, 0)
    #: Where the pattern came from, for error messages; not part of equality.
    source: str = "<string>"

    @property
    def width(self) -> int:
        """Width of the pattern box (the header's x)."""
        return int(self.cells.shape[1])

    @property
    def height(self) -> int:
        """Height of the pattern box (the header's y)."""
        return int(self.cells.shape[0])

    @property
    def population(self) -> int:
        """Number of live cells."""
        return int(np.count_nonzero(self.cells))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RlePattern):
            return NotImplemented
        return (
            self.rule == other.rule
            and self.torus == other.torus
            and self.name == other.name
            and self.comments == other.comments
            and self.origin == other.origin
            and np.array_equal(self.cells, other.cells)
        )


def _line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset (only computed on the error path)."""
    return text.count("\n", 0, offset) + 1


def _show(text: str, limit: int = 40) -> str:
    """Quote user text safely for a one-line message (repr escapes newlines)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_rle(text: str, source: str = "<string>") -> RlePattern:
    """Parse RLE text into an :class:`RlePattern`; raise :class:`RleError` naming ``source``."""
    if not text.strip():
        raise RleError(f"{source}: empty file: expected an RLE header 'x = <width>, y = <height>'")
    name: str | None = None
    comments: list[str] = []
    origin = (0, 0)
    pos = 0
    lineno = 0
    header: re.Match[str] | None = None
    # Only the lines up to the header are walked one by one; the body is handled in bulk.
    while pos < len(text):
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        line = text[pos:end].strip()
        lineno += 1
        pos = end + 1
        if not line:
            continue
        if line.startswith("#"):
            tag, rest = line[:2], line[2:].strip()
            if line.upper().startswith("#CXRLE"):
                m = _XRLE_POS.search(line)
                if m:
                    origin = (int(m.group(1)), int(m.group(2)))
            elif tag == "#N":
                name = rest or None
            elif tag in ("#C", "#c", "#O"):
                comments.append(rest)
            continue
        if not re.match(r"x\b|x\s*=", line, re.IGNORECASE):
            raise RleError(
                f"{source}: line {lineno}: no header: expected 'x = <width>, y = <height>'"
                f" before the pattern data, found {_show(line)}"
            )
        header = _HEADER.match(line)
        if header is None:
            raise RleError(
                f"{source}: line {lineno}: malformed header {_show(line)}: expected"
                " 'x = <width>, y = <height>[, rule = <rule>]'"
            )
        break
    if header is None:
        raise RleError(
            f"{source}: no header: expected 'x = <width>, y = <height>' after the # lines"
        )

    if max(len(header.group("x")), len(header.group("y"))) > 15:
        # Also keeps int() away from Python's 4300-digit conversion limit (a ValueError).
        raise RleError(
            f"{source}: line {lineno}: pattern size is too large"
            f" (at most 2**28 = {MAX_CELLS} cells are supported)"
        )
    width, height = int(header.group("x")), int(header.group("y"))
    # Golly saves an empty universe as "x = 0, y = 0"; any other zero or negative side is wrong.
    if width < 0 or height < 0 or (width == 0) != (height == 0):
        raise RleError(
            f"{source}: line {lineno}: pattern size {width}x{height} is invalid:"
            " x and y must be positive (or both 0 for an empty pattern)"
        )
    if width * height > MAX_CELLS:
        raise RleError(
            f"{source}: line {lineno}: pattern size {width}x{height} = {width * height} cells"
            f" is too large (at most 2**28 = {MAX_CELLS} cells are supported)"
        )
    rule, torus = CONWAY, None
    rule_text = header.group("rule")
    if rule_text:
        try:
            rule, torus = parse_rule_and_torus(rule_text)
        except RuleError as err:
            raise RuleError(f"{source}: line {lineno}: {err}") from err

    body_start = min(pos, len(text))
    bang = text.find("!", body_start)
    if bang < 0:
        raise RleError(
            f"{source}: truncated: no '!' terminator after the pattern data"
            f" (file ends at line {_line_of(text, len(text))})"
        )
    cells = _decode_body(text, body_start, bang, width, height, source)
    return RlePattern(
        cells=cells,
        rule=rule,
        torus=torus,
        name=name,
        comments=comments,
        origin=origin,
        source=source,
    )


def _decode_body(text: str, start: int, stop: int, width: int, height: int, source: str) -> Cells:
    """Decode ``text[start:stop]`` (the data before ``!``) into a (height, width) uint8 array."""
    # Speed notes, measured on a 1024² soup: numpy's ``a[bool_mask]`` is ~5x slower than
    # ``np.compress`` / ``flatnonzero`` + ``take`` on irregular masks, and freshly faulted memory
    # costs about as much as the arithmetic, so masks are applied with compress/take and large
    # int64 buffers are reused in place. Error positions are recomputed only on failure.
    body = text[start:stop]

    def fail_at(offset: int, problem: str) -> RleError:
        return RleError(f"{source}: line {_line_of(text, start + offset)}: {problem}")

    try:
        data = body.encode("ascii")
    except UnicodeEncodeError as err:
        raise fail_at(
            err.start, f"unexpected character {body[err.start]!r} in pattern data"
        ) from None
    # Whitespace may sit anywhere between tokens (Golly wraps lines at 70 characters). Deleting
    # it and classifying bytes with bytes.translate runs at memcpy speed, unlike a numpy lookup,
    # which first widens every byte to a 64-bit index.
    solid = data.translate(None, _WHITESPACE)
    kind = np.frombuffer(solid.translate(_CLASS_TABLE), dtype=np.uint8)

    def fail_solid(k: int, problem: str) -> RleError:
        spaced = np.frombuffer(data, dtype=np.uint8)
        return fail_at(int(np.flatnonzero(_CLASS[spaced] != _WS)[k]), problem)

    if kind.size and int(kind.max()) >= _MULTI:
        bad = int(np.argmax(kind >= _MULTI))
        char = chr(solid[bad])
        if kind[bad] == _MULTI:
            raise fail_solid(bad, f"multi-state cells are not supported (found {char!r})")
        raise fail_solid(bad, f"unexpected character {char!r} in pattern data")

    is_digit = kind == _DIGIT
    is_tag = ~is_digit

    def fail_tag(t: int, problem: str) -> RleError:
        return fail_solid(int(np.flatnonzero(is_tag)[t]), problem)

    if is_digit.size and is_digit[-1]:
        raise fail_solid(is_digit.size - 1, "count with no following tag before the '!' terminator")

    tag_kind = np.frombuffer(solid.translate(_CLASS_TABLE, _DIGITS), dtype=np.uint8)
    # int32 halves the memory the layout touches, and fresh pages are a large part of its cost.
    counts = np.ones(tag_kind.size, dtype=np.int32)
    if is_digit.any():
        # Garbage at tags, which are never read as digits.
        digit = np.frombuffer(solid, dtype=np.uint8) - np.uint8(ord("0"))
        # Tags right after a digit carry a count; gather its digits right to left, keeping
        # only the (usually few) counts that are still going at each further place.
        ends_count = is_digit[:-1] & is_tag[1:]
        pos = np.flatnonzero(ends_count)  # the last digit of each count
        owner = np.flatnonzero(np.compress(is_tag[1:], ends_count))
        if is_tag[0]:
            owner += 1  # a tag at position 0 is tag number 0 but lies outside is_tag[1:]
        counts[owner] = digit.take(pos)
        scale = 10
        while True:
            pos -= 1
            # pos can reach -1 only for a count at the very start; index -1 is then the last
            # solid byte, which is a tag (checked above), so the count correctly stops there.
            going = np.flatnonzero(is_digit.take(pos))
            if not going.size:
                break
            pos = pos.take(going)
            owner = owner.take(going)
            if scale >= 10**_MAX_COUNT_DIGITS:
                raise fail_solid(int(pos[0]), "run count is absurdly large")
            counts[owner] += digit.take(pos).astype(np.int32) * np.int32(scale)
            scale *= 10
        # Golly reads an explicit 0 as 1, as if no count were given.
        np.maximum(counts, 1, out=counts)

    if int(counts.sum(dtype=np.int64)) >= 2**31:
        counts = counts.astype(np.int64)  # the running sums below would overflow int32
    is_eol = tag_kind == _EOL
    alive = np.flatnonzero(tag_kind == _ALIVE)
    # Rows: '$' counts summed so far (a run itself adds nothing, so inclusive sums are right).
    scratch = np.multiply(counts, is_eol)
    np.cumsum(scratch, out=scratch, dtype=scratch.dtype)
    a_row = scratch.take(alive)
    # Columns: run lengths summed so far, minus the sum at the last '$' before the run.
    np.multiply(counts, ~is_eol, out=counts)
    a_len = counts.take(alive)
    np.cumsum(counts, out=counts, dtype=counts.dtype)
    np.multiply(counts, is_eol, out=scratch)
    np.maximum.accumulate(scratch, out=scratch)
    counts -= scratch
    a_end = counts.take(alive)

    if a_end.size:
        # Dead runs and '$' past the box place nothing, so only live cells are held to the box.
        if int(a_end.max()) > width:
            k = int(np.argmax(a_end > width))
            raise fail_tag(
                int(alive[k]),
                f"pattern data is wider than the header's x = {width}"
                f" (a row reaches x = {int(a_end[k])})",
            )
        if int(a_row.max()) >= height:
            k = int(np.argmax(a_row >= height))
            raise fail_tag(
                int(alive[k]),
                f"pattern data is taller than the header's y = {height}"
                f" (found row {int(a_row[k]) + 1})",
            )

    # Runs never overlap, so +1 at each live run's start and -1 at its end, then a running sum,
    # paints every live cell without touching cells one at a time.
    flat = np.zeros(width * height + 1, dtype=np.int8)
    a_row *= width
    a_row += a_end  # now the flat index just past each run
    flat[a_row] = -1
    a_row -= a_len
    flat[a_row] += 1  # += because a run may start where the previous one ended
    painted = np.cumsum(flat[:-1], dtype=np.int8).view(np.uint8).reshape(height, width)
    painted.flags.writeable = False
    return painted


def read_rle(path: str | PathLike[str]) -> RlePattern:
    """Read an RLE file; any problem (missing, unreadable, not UTF-8, malformed) is an RleError."""
    source = str(path)
    data = read_bytes(path, "an RLE file", RleError)
    try:
        # utf-8-sig: editors on Windows like to prepend a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RleError(
            f"{source}: not a UTF-8 text file (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None
    return parse_rle(text, source)


def format_rle(
    cells: npt.ArrayLike,
    rule: Rule = CONWAY,
    torus: tuple[int, int] | None = None,
    name: str | None = None,
    comments: Iterable[str] = (),
) -> str:
    """Encode a 2-D array (nonzero = alive) as Golly RLE text with header and trailing newline.

    A zero-size array is written as Golly writes an empty universe, ``x = 0, y = 0``.
    """
    grid = np.asarray(cells)
    if grid.ndim != 2:
        raise ValueError(f"format_rle needs a 2-D array, got shape {grid.shape}")
    height, width = (0, 0) if grid.size == 0 else (int(grid.shape[0]), int(grid.shape[1]))

    lines: list[str] = []
    if name:
        lines.append(f"#N {one_line(name)}")
    for comment in comments:
        # A comment with newlines becomes several #C lines, so it cannot break the file.
        parts = comment.splitlines() or [""]
        lines.extend(f"#C {part.strip()}".rstrip() for part in parts)
    rule_text = str(rule) if torus is None else f"{rule}:T{torus[0]},{torus[1]}"
    lines.append(f"x = {width}, y = {height}, rule = {rule_text}")
    lines.append(_encode_body(grid) if grid.size else "!")
    return "\n".join(lines) + "\n"


def _digit_matrix(counts: _IntArray, places: int) -> npt.NDArray[np.uint8]:
    """ASCII digits of each count right-aligned in ``places`` columns; 0 bytes pad, 1 is blank."""
    mat = np.zeros((counts.size, places), dtype=np.uint8)
    for d in range(places):
        shown = (counts >= _POW10[d]) & (counts > 1)
        digit = (counts // _POW10[d]) % 10 + ord("0")
        mat[:, places - 1 - d] = np.where(shown, digit, 0)
    return mat


_TAG_BYTES = np.frombuffer(b"bo$", dtype=np.uint8)
# Counts in real files are small, so tokens come from lookup tables rather than arithmetic.
_LUT_PLACES = 4
_LUT_DIGITS = np.count_nonzero(
    _digit_matrix(np.arange(10**_LUT_PLACES, dtype=np.int64), _LUT_PLACES), axis=1
).astype(np.uint8)


@functools.cache
def _token_table(places: int) -> npt.NDArray[np.unsignedinteger[Any]]:
    """Word ``(count * 3 + tag) * 2 + newline`` -> bytes ``[newline or 0][digits][tag]``, 0-padded.

    Each token is one 4- or 8-byte word so that a 1-D ``take`` gathers whole tokens at once.
    """
    n = 10**places
    word = 4 if places + 2 <= 4 else 8
    table = np.zeros((n, 3, 2, word), dtype=np.uint8)
    table[:, :, 1, 0] = ord("\n")
    table[:, :, :, 1 : places + 1] = _digit_matrix(np.arange(n, dtype=np.int64), places)[
        :, None, None, :
    ]
    table[:, :, :, places + 1] = _TAG_BYTES[None, :, None]
    return table.reshape(-1).view(np.uint32 if word == 4 else np.uint64)


def _encode_body(grid: npt.NDArray[Any]) -> str:
    """Run-length encode the cells, wrapped to LINE_LIMIT, ending with '!'."""
    height, width = grid.shape
    # Value 2 in an extra column marks each row end, so one pass finds runs across all rows.
    marked = np.empty((height, width + 1), dtype=np.int8)
    np.not_equal(grid, 0, out=marked[:, :width].view(np.bool_))
    marked[:, width] = 2
    flat = marked.ravel()
    run_last = np.empty(flat.size, dtype=np.bool_)
    np.not_equal(flat[1:], flat[:-1], out=run_last[:-1])
    run_last[-1] = True
    last = np.flatnonzero(run_last)  # index of the last cell of each run
    values = flat.take(last)
    lengths = np.diff(last, prepend=-1)
    # Freshly faulted pages cost about as much as the arithmetic here, so big temporaries are
    # released as soon as possible and later steps work in place.
    del marked, flat, run_last, last

    # Trailing dead cells of a row say nothing; drop dead runs followed by a row end.
    drop = np.zeros(values.size, dtype=np.bool_)
    drop[:-1] = (values[:-1] == 0) & (values[1:] == 2)
    if drop.any():
        keep = np.flatnonzero(~drop)
        values = values.take(keep)
        lengths = lengths.take(keep)
        del keep
    del drop
    # Only row ends can now repeat (empty rows): merge them into one counted '$'.
    repeat = (values[1:] == 2) & (values[:-1] == 2)
    if repeat.any():
        first = np.flatnonzero(np.concatenate(([True], ~repeat)))
        lengths = np.add.reduceat(lengths, first)
        values = values.take(first)
    # The last run is always the final row end (merged with any empty rows before it), which
    # '!' implies.
    values = values[:-1]
    lengths = lengths[:-1]
    if not values.size:
        return "!"

    longest = int(lengths.max())
    places = int(np.searchsorted(_POW10, longest, side="right"))
    small = places <= _LUT_PLACES
    if small:
        tok_len = _LUT_DIGITS.take(lengths) + 1
    else:
        digits = _digit_matrix(lengths, places)
        tok_len = np.count_nonzero(digits, axis=1) + 1

    # Break lines between tokens whose last characters fall in different blocks of `block`
    # characters: each line then holds at most one block plus the overhang of its first token,
    # so it fits LINE_LIMIT, and no sequential greedy pass over the tokens is needed.
    block = LINE_LIMIT - places
    last_block = np.cumsum(tok_len, dtype=np.int64)
    last_block -= 1
    last_block //= block
    breaks = np.zeros(values.size, dtype=np.bool_)
    np.not_equal(last_block[1:], last_block[:-1], out=breaks[1:])
    del last_block

    # Each token is a fixed-width slot, [newline or 0][digits, 0-padded][tag]; deleting the zero
    # bytes joins the variable-length tokens without a Python loop.
    if small:
        key = lengths  # no longer needed as lengths
        key *= 6
        key += values * 2
        key += breaks
        tokens = _token_table(places).take(key).tobytes()
    else:
        mat = np.zeros((values.size, places + 2), dtype=np.uint8)
        mat[:, 0] = breaks * np.uint8(ord("\n"))
        mat[:, 1 : places + 1] = digits
        mat[:, places + 1] = _TAG_BYTES.take(values)
        tokens = mat.tobytes()

    # The '!' joins the last line if it fits, else starts its own.
    starts = np.flatnonzero(breaks)
    last_line = tok_len[int(starts[-1]) :] if starts.size else tok_len
    bang = "!" if int(last_line.sum(dtype=np.int64)) < LINE_LIMIT else "\n!"
    return tokens.translate(None, b"\0").decode("ascii") + bang


def write_rle(
    path: str | PathLike[str],
    cells: npt.ArrayLike,
    rule: Rule = CONWAY,
    torus: tuple[int, int] | None = None,
    name: str | None = None,
    comments: Iterable[str] = (),
) -> None:
    """Write cells as an RLE file; an unwritable path is an RleError with a one-line message."""
    text = format_rle(cells, rule, torus=torus, name=name, comments=comments)
    write_bytes(path, text.encode("utf-8"), "the RLE file", RleError)


def to_torus(p: RlePattern, torus: tuple[int, int] | None = None) -> Cells:
    """Place the pattern on a fresh (height, width) lattice of ``torus`` or else ``p.torus``.

    The pattern box's top-left goes to ``p.origin`` wrapped modulo the torus.
    """
    size = torus if torus is not None else p.torus
    if size is None:
        raise RleError(
            f"{p.source}: no torus in the rule; add ':T<width>,<height>' to the rule line"
            " or pass --torus WxH"
        )
    tw, th = size
    if tw <= 0 or th <= 0:
        raise RleError(f"{p.source}: torus {tw}x{th} is invalid: sides must be positive")
    if tw * th > MAX_CELLS:
        raise RleError(
            f"{p.source}: torus {tw}x{th} = {tw * th} cells is too large"
            f" (at most 2**28 = {MAX_CELLS} cells are supported)"
        )
    if p.width > tw or p.height > th:
        raise RleError(
            f"{p.source}: the pattern is {p.width}x{p.height}, larger than the {tw}x{th} torus"
        )
    lattice = np.zeros((th, tw), dtype=np.uint8)
    ox, oy = p.origin
    rows = (oy + np.arange(p.height)) % th
    cols = (ox + np.arange(p.width)) % tw
    lattice[np.ix_(rows, cols)] = p.cells
    return lattice
