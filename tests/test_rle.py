"""Golly RLE reading and writing (game.rle) and the shipped patterns in assets/patterns."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from game.app.cli import main
from game.backends.reference import reference_step
from game.cells import Cells
from game.errors import BadInput, RleError, RuleError
from game.rle import (
    LINE_LIMIT,
    RlePattern,
    format_rle,
    parse_rle,
    read_rle,
    to_torus,
    write_rle,
)
from game.rules import CONWAY, Rule, parse_rule
from tests.helpers import assert_one_line, assert_one_line_error, run_main, run_unprivileged

pytestmark = pytest.mark.unit

PATTERNS = Path(__file__).resolve().parent.parent / "assets" / "patterns"


def rand_cells(shape: tuple[int, int], density: float, seed: int) -> Cells:
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < density).astype(np.uint8)


def body_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(("#", "x "))]


def naive_decode(body: str, width: int, height: int) -> Cells:
    """A deliberately simple per-token decoder: the oracle for the vectorised one."""
    out = np.zeros((height, width), dtype=np.uint8)
    x = y = 0
    for count, tag in re.findall(r"(\d*)([bo.A$])", re.sub(r"\s+", "", body.split("!")[0])):
        n = int(count) if count else 1
        if tag == "$":
            x, y = 0, y + n
        else:
            if tag in "oA":
                out[y, x : x + n] = 1
            x += n
    return out


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "shape",
    [
        (1, 1),
        (1, 70),
        (1, 200),
        (3, 64),
        (5, 63),
        (7, 65),
        (17, 129),
        (64, 64),
        (100, 1),
        (33, 200),
    ],
)
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_round_trip_random(shape: tuple[int, int], density: float) -> None:
    cells = rand_cells(shape, density, seed=shape[0] * 1000 + shape[1])
    text = format_rle(cells, CONWAY)
    p = parse_rle(text)
    assert p.cells.dtype == np.uint8
    assert p.cells.shape == shape
    np.testing.assert_array_equal(p.cells, cells)
    assert all(len(line) <= LINE_LIMIT for line in body_lines(text))


def test_round_trip_keeps_metadata() -> None:
    cells = rand_cells((9, 13), 0.4, seed=1)
    rule = parse_rule("B36/S23")
    text = format_rle(cells, rule, torus=(40, 30), name="Soup", comments=["one", "two"])
    p = parse_rle(text)
    assert p == RlePattern(cells, rule, (40, 30), "Soup", ["one", "two"], (0, 0))
    assert p.rule == rule and p.torus == (40, 30) and p.name == "Soup"
    assert p.comments == ["one", "two"]


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.uint8,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=90),
        elements=st.integers(0, 1),
    )
)
def test_round_trip_property(cells: Cells) -> None:
    text = format_rle(cells, CONWAY)
    np.testing.assert_array_equal(parse_rle(text).cells, cells)
    assert all(len(line) <= LINE_LIMIT for line in body_lines(text))


def test_round_trip_empty_rows_and_long_counts() -> None:
    # 5-digit counts take the writer's arithmetic path rather than its lookup table.
    cells = np.zeros((2000, 12345), dtype=np.uint8)
    cells[0, 12344] = 1
    cells[1999, 0] = 1
    cells[1000, 5000:12000] = 1
    text = format_rle(cells, CONWAY)
    assert body_lines(text) == ["12344bo1000$5000b7000o999$o!"]
    np.testing.assert_array_equal(parse_rle(text).cells, cells)
    assert all(len(line) <= LINE_LIMIT for line in body_lines(text))


def test_round_trip_counts_of_every_width_wrap_within_line_limit() -> None:
    # Tokens of 1..6 characters side by side probe the line-breaking arithmetic.
    rng = np.random.default_rng(7)
    runs = rng.integers(1, 100001, size=400)
    row = np.repeat(np.arange(runs.size) % 2, runs).astype(np.uint8)
    cells = row[None, :]
    text = format_rle(cells, CONWAY)
    assert all(len(line) <= LINE_LIMIT for line in body_lines(text))
    np.testing.assert_array_equal(parse_rle(text).cells, cells)


def test_empty_pattern_round_trips_in_golly_form() -> None:
    text = format_rle(np.zeros((0, 0), dtype=np.uint8), CONWAY, torus=(8, 8))
    assert text == "x = 0, y = 0, rule = B3/S23:T8,8\n!\n"
    p = parse_rle(text)
    assert p.cells.shape == (0, 0)
    assert to_torus(p).shape == (8, 8) and int(to_torus(p).sum()) == 0


def test_all_dead_box_keeps_its_size() -> None:
    text = format_rle(np.zeros((4, 7), dtype=np.uint8), CONWAY)
    assert text == "x = 7, y = 4, rule = B3/S23\n!\n"
    assert parse_rle(text).cells.shape == (4, 7)


def test_vectorised_decoder_matches_naive_oracle() -> None:
    rng = np.random.default_rng(3)
    for trial in range(40):
        width, height = int(rng.integers(1, 60)), int(rng.integers(1, 40))
        tokens: list[str] = []
        y = 0
        while y < height:
            x = 0
            while x < width and rng.random() < 0.8:
                n = int(rng.integers(1, width - x + 1))
                count = "" if n == 1 and rng.random() < 0.7 else str(n)
                tokens.append(count + str(rng.choice(list("bo.A"))))
                x += n
            dy = int(rng.integers(1, 4))
            if y + dy >= height:
                break
            tokens.append(("" if dy == 1 and rng.random() < 0.5 else str(dy)) + "$")
            y += dy
        seps = rng.choice(["", "", "", " ", "\n", "\r\n", "\t"], size=len(tokens) + 1)
        body = "".join(s + t for s, t in zip(seps, tokens, strict=False)) + "!"
        p = parse_rle(f"x = {width}, y = {height}\n{body}", f"trial{trial}")
        np.testing.assert_array_equal(p.cells, naive_decode(body, width, height), err_msg=body)


# -------------------------------------------------------------------------- writer format


def test_format_glider_exactly() -> None:
    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.uint8)
    assert format_rle(glider, CONWAY) == "x = 3, y = 3, rule = B3/S23\nbo$2bo$3o!\n"


def test_format_drops_trailing_dead_merges_rows_and_omits_trailing_rows() -> None:
    cells = np.zeros((6, 5), dtype=np.uint8)
    cells[0, 0] = 1
    cells[3, 1:3] = 1
    text = format_rle(cells, CONWAY, torus=(10, 8), name="Two\nlines", comments=["a\nb", ""])
    assert text == ("#N Two lines\n#C a\n#C b\n#C\nx = 5, y = 6, rule = B3/S23:T10,8\no3$b2o!\n")


def test_format_accepts_bool_and_nonzero_ints() -> None:
    cells = np.array([[True, False], [False, True]])
    assert format_rle(cells) == format_rle(cells.astype(np.int64) * 7)
    with pytest.raises(ValueError):
        format_rle(np.zeros(5, dtype=np.uint8))


def test_writer_lines_are_long_but_never_too_long() -> None:
    text = format_rle(rand_cells((200, 300), 0.5, seed=9), CONWAY)
    lengths = [len(line) for line in body_lines(text)]
    assert max(lengths) <= LINE_LIMIT
    assert sum(lengths) / len(lengths) > 55  # wrapping is not wastefully short


# ------------------------------------------------------------------------- Golly syntax


def test_golly_alternative_letters_and_row_counts() -> None:
    p = parse_rle("x = 4, y = 5, rule = B3/S23\n.A2.$A3$3A!")
    expected = np.zeros((5, 4), dtype=np.uint8)
    expected[0, 1] = 1
    expected[1, 0] = 1
    expected[4, 0:3] = 1
    np.testing.assert_array_equal(p.cells, expected)


def test_whitespace_and_newlines_between_tokens() -> None:
    text = "x = 3, y = 3\r\n b o $\r\n2b\to\n$\n\n3o\n!"
    np.testing.assert_array_equal(parse_rle(text).cells, [[0, 1, 0], [0, 0, 1], [1, 1, 1]])


def test_header_spacing_case_and_default_rule() -> None:
    for header in (
        "x=3,y=3",
        "x = 3 , y = 3",
        "X = 3, Y = 3, RULE = b3/s23",
        "x = 3, y = 3, rule=23/3",
    ):
        p = parse_rle(f"{header}\nbo$2bo$3o!")
        assert p.rule == CONWAY and p.torus is None and p.cells.shape == (3, 3)


def test_rule_with_torus_and_highlife() -> None:
    p = parse_rle("x = 2, y = 1, rule = B36/S23:T80,60\n2o!")
    assert p.rule == Rule(frozenset({3, 6}), frozenset({2, 3}))
    assert p.torus == (80, 60)


def test_comments_name_and_xrle_position() -> None:
    text = (
        "#N  Glider \n#C first line\n#c second\n#O Richard K. Guy\n"
        "#CXRLE Pos=-3,7 Gen=12\n#r ignored\n\nx = 3, y = 3, rule = B3/S23\nbo$2bo$3o!"
        "\nanything after the bang is ignored: z!$\n"
    )
    p = parse_rle(text)
    assert p.name == "Glider"
    assert p.comments == ["first line", "second", "Richard K. Guy"]
    assert p.origin == (-3, 7)
    # A position too large to use is ignored rather than overflowing later.
    assert parse_rle("#CXRLE Pos=" + "9" * 30 + ",2\nx = 1, y = 1\no!").origin == (0, 0)
    assert p.population == 5 and (p.width, p.height) == (3, 3)


def test_explicit_zero_and_one_counts_follow_golly() -> None:
    np.testing.assert_array_equal(parse_rle("x = 3, y = 1\n0b1o1o!").cells, [[0, 1, 1]])


def test_dead_cells_and_rows_beyond_the_box_are_tolerated() -> None:
    # Some writers pad rows with dead cells or end with '$'; they place nothing.
    p = parse_rle("x = 2, y = 1\no5b$$!")
    np.testing.assert_array_equal(p.cells, [[1, 0]])


def test_parsed_cells_are_read_only() -> None:
    p = parse_rle("x = 1, y = 1\no!")
    with pytest.raises(ValueError):
        p.cells[0, 0] = 0


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty file"),
        ("  \n\n", "empty file"),
        ("#N only comments\n#C here\n", "no header"),
        ("bo$2bo$3o!", "line 1: no header"),
        ("#N Glider\nbo$2bo$3o!", "line 2: no header"),
        ("x = 3 y = 3\nbo$2bo$3o!", "line 1: malformed header"),
        ("x = 3, y = three\n3o!", "malformed header"),
        ("x = 3, y = 3, rule\n3o!", "malformed header"),
        ("x = -3, y = 3\n3o!", "size -3x3 is invalid"),
        ("x = 0, y = 3\n!", "size 0x3 is invalid"),
        ("x = 3, y = 0\n!", "size 3x0 is invalid"),
        ("x = 100000, y = 100000\n!", "too large (at most 2**28"),
        ("x = " + "9" * 5000 + ", y = 3\n!", "too large (at most 2**28"),
        ("x = 3, y = 3\nbo$2bo$4o!", "line 2: pattern data is wider than the header's x = 3"),
        ("x = 3, y = 2\nbo$\n2bo$\n3o!", "line 4: pattern data is taller than the header's y = 2"),
        ("x = 0, y = 0\no!", "wider than the header's x = 0"),
        ("x = 3, y = 3\nbo$2bB$3o!", "line 2: multi-state cells are not supported"),
        ("x = 3, y = 3\nbo$2bo$\npA2o!", "line 3: multi-state cells are not supported"),
        ("x = 3, y = 3\nbo$2bo$3o", "truncated: no '!' terminator"),
        ("x = 3, y = 3\nbo$2bo$3o\n", "truncated: no '!' terminator"),
        ("x = 3, y = 3\nbo$2bo$3o3!", "count with no following tag"),
        ("x = 3, y = 3\nbo$2bo$3o\n12\n!", "line 3: count with no following tag"),
        ("x = 3, y = 3\nbo$2bo$\n3z!", "line 3: unexpected character 'z' in pattern data"),
        ("x = 3, y = 3\nbo$2b#$3o!", "unexpected character '#'"),
        ("x = 3, y = 3\nbo$2b\u00f6$3o!", "unexpected character '\u00f6'"),
        ("x = 3, y = 3\n99999999999b!", "absurdly large"),
    ],
)
def test_bad_input_is_a_one_line_rle_error(text: str, fragment: str) -> None:
    with pytest.raises(RleError) as info:
        parse_rle(text, "glider.rle")
    message = str(info.value)
    assert message.startswith("glider.rle: ")
    assert_one_line(message, fragment)


def test_unknown_rule_is_a_rule_error_naming_the_file() -> None:
    with pytest.raises(RuleError) as info:
        parse_rle("x = 3, y = 3, rule = Wireworld\n3o!", "wire.rle")
    assert isinstance(info.value, BadInput)
    message = str(info.value)
    assert message.startswith("wire.rle: line 1: ")
    assert_one_line(message, "Wireworld")


def test_header_text_with_control_characters_stays_on_one_line() -> None:
    with pytest.raises(RleError) as info:
        parse_rle("x = 3, y = \x073\r\n3o!", "odd.rle")
    assert_one_line(str(info.value))
    assert "\x07" not in str(info.value)


def test_read_rle_file_problems(tmp_path: Path) -> None:
    cases: list[tuple[Path, str]] = []
    cases.append((tmp_path / "missing.rle", "no such file"))
    cases.append((tmp_path, "is a directory"))
    latin = tmp_path / "latin1.rle"
    latin.write_bytes("#C caf\u00e9\nx = 1, y = 1\no!".encode("latin-1"))
    cases.append((latin, "not a UTF-8 text file"))
    empty = tmp_path / "empty.rle"
    empty.write_text("")
    cases.append((empty, "empty file"))
    for path, fragment in cases:
        with pytest.raises(RleError) as info:
            read_rle(path)
        message = str(info.value)
        assert_one_line(message, str(path), fragment)


def test_an_unreadable_pattern_is_one_line_for_read_rle_and_the_cli() -> None:
    def case(home: Path) -> tuple[str, bool, str, int, str]:
        path = home / "secret.rle"
        path.write_text("x = 1, y = 1\no!")
        path.chmod(0)
        readable = os.access(path, os.R_OK)  # False, or the case tests nothing
        try:
            read_rle(path)
            message = "read_rle raised nothing"
        except RleError as err:
            message = str(err)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = run_main(main, ["ca", str(path), "--gens", "1", "--quiet",
                                   "--out", str(home / "out.rle")])
        return str(path), readable, message, code, stderr.getvalue()

    path, readable, message, code, err = run_unprivileged(case)
    assert not readable
    assert_one_line(message, path, "permission denied")
    assert_one_line_error(code, err, path, "permission denied")


def test_read_rle_handles_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "win.rle"
    path.write_bytes(b"\xef\xbb\xbf#N Blinker\r\nx = 3, y = 1, rule = B3/S23\r\n3o!\r\n")
    p = read_rle(path)
    assert p.name == "Blinker" and p.population == 3 and p.source == str(path)


def test_write_and_read_back(tmp_path: Path) -> None:
    cells = rand_cells((50, 77), 0.3, seed=11)
    path = tmp_path / "soup.rle"
    write_rle(path, cells, CONWAY, torus=(77, 50), name="soup", comments=["seed 11"])
    p = read_rle(path)
    np.testing.assert_array_equal(p.cells, cells)
    assert p.torus == (77, 50) and p.name == "soup" and p.comments == ["seed 11"]


def test_write_rle_unwritable(tmp_path: Path) -> None:
    cells = np.ones((2, 2), dtype=np.uint8)
    for path, fragment in [
        (tmp_path / "no" / "such" / "dir.rle", "directory does not exist"),
        (tmp_path, "is a directory"),
    ]:
        with pytest.raises(RleError) as info:
            write_rle(path, cells, CONWAY)
        assert_one_line(str(info.value), fragment)


# -------------------------------------------------------------------------------- to_torus


def test_to_torus_places_at_origin_with_wrap() -> None:
    p = parse_rle("#CXRLE Pos=-1,-1\nx = 3, y = 3, rule = B3/S23:T6,5\nbo$2bo$3o!")
    lattice = to_torus(p)
    assert lattice.shape == (5, 6) and lattice.dtype == np.uint8
    expected = np.zeros((5, 6), dtype=np.uint8)
    for y, x in [(0, 1), (1, 2), (2, 0), (2, 1), (2, 2)]:
        expected[(y - 1) % 5, (x - 1) % 6] = 1
    np.testing.assert_array_equal(lattice, expected)
    lattice[0, 0] ^= 1  # a fresh, writable array
    assert p.cells.flags.writeable is False


def test_to_torus_argument_overrides_header() -> None:
    p = parse_rle("x = 2, y = 2, rule = B3/S23:T4,4\n2o$2o!")
    assert to_torus(p, (10, 3)).shape == (3, 10)
    assert int(to_torus(p, (10, 3))[:2, :2].sum()) == 4


def test_to_torus_errors() -> None:
    p = parse_rle("x = 5, y = 2\n5o!", "bar.rle")
    with pytest.raises(RleError) as info:
        to_torus(p)
    assert str(info.value) == (
        "bar.rle: no torus in the rule; add ':T<width>,<height>' to the rule line"
        " or pass --torus WxH"
    )
    with pytest.raises(RleError, match=r"bar\.rle: the pattern is 5x2, larger than the 4x4 torus"):
        to_torus(p, (4, 4))
    with pytest.raises(RleError, match="too large"):
        to_torus(p, (1 << 15, 1 << 14))


# ----------------------------------------------------------------------- shipped patterns

STILL_LIFES = ["block", "beehive", "loaf", "boat", "tub"]
OSCILLATORS = {"blinker": 2, "toad": 2, "beacon": 2, "pulsar": 3}
# name: (period, {|dx|, |dy|} displacement per period)
SPACESHIPS = {"glider": (4, (1, 1)), "lwss": (4, (2, 0)), "mwss": (4, (2, 0)), "hwss": (4, (2, 0))}
ALL_PATTERNS = [*STILL_LIFES, *OSCILLATORS, *SPACESHIPS, "r-pentomino", "gosper-glider-gun"]


def shipped(name: str) -> RlePattern:
    return read_rle(PATTERNS / f"{name}.rle")


def padded(p: RlePattern, margin: int = 8) -> Cells:
    """The pattern on a torus with a dead margin wide enough that nothing wraps in a few gens."""
    lattice = to_torus(p, (p.width + 2 * margin, p.height + 2 * margin))
    return np.roll(lattice, (margin, margin), axis=(0, 1))


def normalised(cells: Cells) -> tuple[frozenset[tuple[int, int]], tuple[int, int]]:
    """The live cells relative to their bounding box, and the box's top-left (y, x)."""
    ys, xs = np.nonzero(cells)
    y0, x0 = int(ys.min()), int(xs.min())
    return frozenset(zip((ys - y0).tolist(), (xs - x0).tolist(), strict=True)), (y0, x0)


def test_every_expected_pattern_is_shipped() -> None:
    assert sorted(p.stem for p in PATTERNS.glob("*.rle")) == sorted(ALL_PATTERNS)


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_shipped_file_is_standard(name: str) -> None:
    text = (PATTERNS / f"{name}.rle").read_text()
    p = shipped(name)
    assert p.name and p.comments and all(p.comments)
    assert p.rule == CONWAY and p.torus is None and p.origin == (0, 0)
    assert re.search(r"^x = \d+, y = \d+, rule = B3/S23$", text, re.MULTILINE)
    # The box is tight: every edge row and column holds a live cell.
    c = p.cells
    assert c[0].any() and c[-1].any() and c[:, 0].any() and c[:, -1].any()


def test_known_cell_layouts() -> None:
    np.testing.assert_array_equal(shipped("glider").cells, [[0, 1, 0], [0, 0, 1], [1, 1, 1]])
    assert shipped("gosper-glider-gun").cells.shape == (9, 36)
    populations = {
        "block": 4, "beehive": 6, "loaf": 7, "boat": 5, "tub": 4, "blinker": 3, "toad": 6,
        "beacon": 6, "pulsar": 48, "glider": 5, "lwss": 9, "mwss": 11, "hwss": 13,
        "r-pentomino": 5, "gosper-glider-gun": 36,
    }  # fmt: skip
    for name, population in populations.items():
        assert shipped(name).population == population, name


@pytest.mark.parametrize("name", STILL_LIFES)
def test_still_life_is_unchanged(name: str) -> None:
    lattice = padded(shipped(name))
    np.testing.assert_array_equal(reference_step(lattice, CONWAY), lattice)


@pytest.mark.parametrize(("name", "period"), OSCILLATORS.items())
def test_oscillator_period(name: str, period: int) -> None:
    start = padded(shipped(name))
    cells = start
    for gen in range(1, period + 1):
        cells = reference_step(cells, CONWAY)
        assert np.array_equal(cells, start) == (gen == period), f"{name} at generation {gen}"


@pytest.mark.parametrize(("name", "motion"), SPACESHIPS.items())
def test_spaceship_translates(name: str, motion: tuple[int, tuple[int, int]]) -> None:
    period, (dx, dy) = motion
    start = padded(shipped(name))
    shape0, (y0, x0) = normalised(start)
    cells = start
    for gen in range(1, period + 1):
        cells = reference_step(cells, CONWAY)
        shape, (y, x) = normalised(cells)
        if gen < period:
            assert shape != shape0, f"{name} repeats early at generation {gen}"
    assert shape == shape0
    assert sorted((abs(x - x0), abs(y - y0))) == sorted((dx, dy))
    assert int(cells.sum()) == int(start.sum())


def test_gosper_gun_emits_one_glider_per_30_generations() -> None:
    start = np.roll(to_torus(shipped("gosper-glider-gun"), (100, 100)), (10, 10), axis=(0, 1))
    cells = start
    for _ in range(30):
        cells = reference_step(cells, CONWAY)
    assert int(cells.sum()) == int(start.sum()) + 5
    # The gun is back in its own phase and the 5 extra cells are a glider heading away.
    assert bool((cells >= start).all())
    extra = cells & (1 - start)
    shape0, (y0, x0) = normalised(extra)
    for _ in range(4):
        extra = reference_step(extra, CONWAY)
    shape4, (y4, x4) = normalised(extra)
    assert shape4 == shape0 and abs(y4 - y0) == 1 and abs(x4 - x0) == 1
    for _ in range(30):
        cells = reference_step(cells, CONWAY)
    assert int(cells.sum()) == int(start.sum()) + 10


_OFFSETS = np.array([dy * (1 << 21) + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])


def sparse_life(cells: Cells, gens: int) -> list[int]:
    """B3/S23 on the infinite plane over live-cell keys; returns the population per generation.

    Independent of every lattice backend, and fast for small, sparse patterns like methuselahs.
    """
    ys, xs = np.nonzero(cells)
    keys = (ys.astype(np.int64) + (1 << 19)) * (1 << 21) + xs + (1 << 19)
    populations = [int(keys.size)]
    for _ in range(gens):
        neighbours = (keys[:, None] + _OFFSETS[None, :]).ravel()
        candidates, counts = np.unique(neighbours, return_counts=True)
        alive = np.isin(candidates, keys, assume_unique=True)
        keys = candidates[(counts == 3) | ((counts == 2) & alive)]
        populations.append(int(keys.size))
    return populations


def test_sparse_engine_agrees_with_reference_step() -> None:
    start = np.roll(to_torus(shipped("r-pentomino"), (200, 200)), (100, 100), axis=(0, 1))
    expected = sparse_life(start, 150)
    cells = start
    for gen in range(1, 151):
        cells = reference_step(cells, CONWAY)
        assert int(cells.sum()) == expected[gen], gen


def test_r_pentomino_settles_at_116_cells_in_generation_1103() -> None:
    populations = sparse_life(shipped("r-pentomino").cells, 1110)
    assert populations[0] == 5
    assert populations[1103] == 116
    assert set(populations[1103:]) == {116}
    assert populations[1102] != 116  # still settling one generation earlier
