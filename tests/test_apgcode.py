"""apgcodes and Extended Wechsler (game.patterns.apgcode), checked against python-lifelib.

lifelib is the community's reference implementation; it is a test-only dependency here. Tests that
need it are marked ``integration`` and skip without it on a user's machine, but fail in CI.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from game.cells import Cells
from game.patterns.apgcode import (
    MAX_AREA,
    MAX_LENGTH,
    apgcode,
    canonical_wechsler,
    crop,
    decode_apgcode,
    decode_wechsler,
    orientations,
    parse_apgcode,
    wechsler,
)
from game.patterns.catalogue import COMMON_OBJECTS, NAMES
from game.patterns.classify import classify_uncached, plane_step
from game.rle import parse_rle
from tests.helpers import lifelib_tree

GLIDER = "bo$2bo$3o!"
LWSS = "bo2bo$o4b$o3bo$4o!"
PULSAR = (
    "2b3o3b3o2b2$o4bobo4bo$o4bobo4bo$o4bobo4bo$2b3o3b3o2b2$2b3o3b3o2b$o4bobo4bo$o4bobo4bo$"
    "o4bobo4bo2$2b3o3b3o!"
)


def cells(rle: str) -> Cells:
    """A headerless RLE body as a cropped uint8 array."""
    out, _ = crop(parse_rle("x = 64, y = 64\n" + rle).cells)
    return np.ascontiguousarray(out)


def row(*xs: int, width: int | None = None) -> Cells:
    """One row with live cells at the given columns."""
    out = np.zeros((1, width if width is not None else max(xs) + 1), dtype=np.uint8)
    out[0, list(xs)] = 1
    return out


def run_phases(start: Cells, period: int) -> tuple[list[Cells], int, int]:
    """The ``period`` phases of an object on the plane and its displacement after them."""
    phases = [start]
    x = y = 0
    cur = start
    for _ in range(period):
        cur, (ox, oy) = plane_step(cur)
        x += ox
        y += oy
        phases.append(cur)
    assert np.array_equal(phases[-1], start), "not periodic with that period"
    return phases[:-1], x, y


def to_rle(a: Cells) -> str:
    """Headerless RLE (uncompressed runs) that lifelib reads."""
    return "$".join("".join("o" if v else "b" for v in r).rstrip("b") for r in a) + "!"


def from_coords(coords: npt.NDArray[np.int64]) -> Cells:
    """A lifelib ``coords()`` array of (x, y) rows as a cropped uint8 array."""
    c = coords - coords.min(axis=0)
    out = np.zeros((int(c[:, 1].max()) + 1, int(c[:, 0].max()) + 1), dtype=np.uint8)
    out[c[:, 1], c[:, 0]] = 1
    return out


# --- Extended Wechsler: one orientation -------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("column", "char"),
    [
        ([1, 0, 0, 0, 0], "1"),
        ([0, 1, 0, 0, 0], "2"),
        ([0, 0, 0, 0, 1], "g"),
        ([1, 1, 1, 1, 1], "v"),
        ([1, 0, 1, 0, 1], "l"),
    ],
)
def test_wechsler_row_k_of_a_strip_is_bit_k(column: list[int], char: str) -> None:
    a = np.array(column, dtype=np.uint8).reshape(5, 1)
    assert wechsler(a) == char


@pytest.mark.unit
@pytest.mark.parametrize(
    ("gap", "code"),
    [
        (1, "101"),
        (2, "1w1"),
        (3, "1x1"),
        (4, "1y01"),
        (5, "1y11"),
        (13, "1y91"),
        (14, "1ya1"),
        (39, "1yz1"),
        (40, "1yz01"),
        (41, "1yzw1"),
        (42, "1yzx1"),
        (43, "1yzy01"),
        (78, "1yzyz1"),
        (79, "1yzyz01"),
        (120, "1yzyzyzx1"),
    ],
)
def test_wechsler_runs_of_empty_columns(gap: int, code: str) -> None:
    assert wechsler(row(0, gap + 1)) == code
    assert decode_wechsler(code).tolist() == row(0, gap + 1).tolist()


@pytest.mark.unit
def test_wechsler_empty_columns_at_the_end_vanish_but_leading_ones_count() -> None:
    assert wechsler(row(0, width=50)) == "1"
    assert wechsler(row(1)) == "01"
    assert wechsler(row(3)) == "x1"
    assert wechsler(row(45)) == "yzy21"


@pytest.mark.unit
def test_wechsler_strips_are_joined_by_z() -> None:
    a = np.zeros((11, 4), dtype=np.uint8)
    a[0, 0] = 1
    a[5, 0] = 1
    assert wechsler(a[:6]) == "1z1"
    b = np.zeros((11, 4), dtype=np.uint8)
    b[0, 0] = b[10, 0] = 1
    assert wechsler(b) == "1zz1"
    # Zeros before the first live column of a later strip are encoded; the trailing strip is not.
    c = np.zeros((11, 4), dtype=np.uint8)
    c[0, 0] = c[5, 3] = 1
    assert wechsler(c) == "1zx1"
    assert wechsler(c[:6]) == "1zx1"
    d = np.zeros((11, 4), dtype=np.uint8)
    d[0, 2] = 1
    assert wechsler(d) == "w1"
    # An empty first strip still takes its 'z'.
    e = np.zeros((6, 1), dtype=np.uint8)
    e[5, 0] = 1
    assert wechsler(e) == "z1"


@pytest.mark.unit
def test_wechsler_of_the_empty_pattern_is_0() -> None:
    assert wechsler(np.zeros((0, 0), dtype=np.uint8)) == "0"
    assert wechsler(np.zeros((3, 7), dtype=np.uint8)) == "0"
    assert decode_wechsler("0").shape == (0, 0)
    assert decode_wechsler("").shape == (0, 0)


@pytest.mark.unit
def test_wechsler_accepts_bool_and_rejects_non_2d() -> None:
    assert wechsler(cells(GLIDER).astype(bool)) == wechsler(cells(GLIDER))
    with pytest.raises(ValueError, match="2-D"):
        wechsler(np.zeros(5, dtype=np.uint8))


@pytest.mark.unit
def test_decode_wechsler_glider() -> None:
    assert decode_wechsler("153").tolist() == [[1, 1, 1], [0, 0, 1], [0, 1, 0]]


@pytest.mark.unit
@pytest.mark.parametrize("bad", ["1y", "A", "1!", "1_0", "x-"])
def test_decode_wechsler_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_wechsler(bad)


@st.composite
def sparse_patterns(draw: st.DrawFn) -> Cells:
    """Patterns up to 13×130 with few live cells, so long runs of empty columns are common."""
    h = draw(st.integers(1, 13))
    w = draw(st.integers(1, 130))
    live = draw(st.sets(st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)), max_size=12))
    out = np.zeros((h, w), dtype=np.uint8)
    for y, x in live:
        out[y, x] = 1
    return out


@pytest.mark.unit
@settings(max_examples=300, deadline=None)
@given(sparse_patterns())
def test_decode_inverts_wechsler(a: Cells) -> None:
    rows = np.flatnonzero(a.any(axis=1))
    cols = np.flatnonzero(a.any(axis=0))
    expected = a[: rows[-1] + 1, : cols[-1] + 1] if rows.size else np.zeros((0, 0), np.uint8)
    got = decode_wechsler(wechsler(a))
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)
    # The characters are those of lifelib's alphabet only.
    assert set(wechsler(a)) <= set("0123456789abcdefghijklmnopqrstuvwxyz")


# --- canonical representation and apgcodes ----------------------------------------------------


@pytest.mark.unit
def test_orientations_are_the_8_symmetries() -> None:
    images = orientations(cells("2o$o$3o!"))  # asymmetric: all 8 differ
    assert len({(im.shape, im.tobytes()) for im in map(np.ascontiguousarray, images)}) == 8


@pytest.mark.unit
def test_glider_is_xq4_153_from_every_phase_and_orientation() -> None:
    for image in orientations(cells(GLIDER)):
        phases, dx, dy = run_phases(np.ascontiguousarray(image), 4)
        assert abs(dx) == abs(dy) == 1
        for k in range(4):
            rotated = phases[k:] + phases[:k]
            assert apgcode(rotated, 4, dx, dy) == "xq4_153"
            assert canonical_wechsler(rotated) == "153"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("rle", "period", "code"),
    [
        ("2o$2o!", 1, "xs4_33"),
        ("b2o$o2bo$b2o!", 1, "xs6_696"),
        ("b2o$o2bo$bobo$2bo!", 1, "xs7_2596"),
        ("2o$obo$bo!", 1, "xs5_253"),
        ("bo$obo$bo!", 1, "xs4_252"),
        ("2o$obo$b2o!", 1, "xs6_356"),
        ("b2o$o2bo$o2bo$b2o!", 1, "xs8_6996"),
        ("2o$o2bo$2b2o!", 1, "xs6_39c"),
        ("2o$obo$2bo$2b2o!", 1, "xs7_178c"),
        ("3o!", 2, "xp2_7"),
        ("b3o$3o!", 2, "xp2_7e"),
        ("2o$o$3bo$2b2o!", 2, "xp2_318c"),
        ("2bo$obo$bobo$bo!", 2, "xp2_2a54"),
        (PULSAR, 3, "xp3_co9nas0san9oczgoldlo0oldlogz1047210127401"),
        ("2bo4bo2b$2ob4ob2o$2bo4bo!", 15, "xp15_4r4z4r4"),
        (GLIDER, 4, "xq4_153"),
        (LWSS, 4, "xq4_6frc"),
        ("3bo2b$bo3bo$o5b$o4bo$5o!", 4, "xq4_27dee6"),
        ("3b2o2b$bo4bo$o6b$o5bo$6o!", 4, "xq4_27deee6"),
    ],
)
def test_known_apgcodes(rle: str, period: int, code: str) -> None:
    for image in orientations(cells(rle)):
        phases, dx, dy = run_phases(np.ascontiguousarray(image), period)
        assert apgcode(phases, period, dx, dy) == code
    assert np.array_equal(decode_apgcode(code), decode_wechsler(code.split("_", 1)[1]))


@pytest.mark.unit
def test_apgcode_prefix_follows_period_and_displacement() -> None:
    block = cells("2o$2o!")
    assert apgcode([block], 1) == "xs4_33"
    assert apgcode([block], 2) == "xp2_33"
    assert apgcode([block], 1, 1, 0) == "xq1_33"
    assert apgcode([np.zeros((0, 0), np.uint8)], 1) == "xs0_0"
    assert apgcode([np.zeros((4, 4), np.uint8)], 1) == "xs0_0"
    with pytest.raises(ValueError):
        apgcode([block], 0)
    with pytest.raises(ValueError):
        apgcode([], 1)


@pytest.mark.unit
def test_shorter_beats_lexicographically_smaller() -> None:
    # The I-tromino standing is "7", lying "111": the shorter wins although "1" < "7".
    assert canonical_wechsler([cells("3o!")]) == "7"
    assert canonical_wechsler([cells("b2o$o2bo$b2o!")]) == "696"  # not "2552"
    # Among equal lengths the ASCII-smallest wins.
    reps = {wechsler(image) for image in orientations(cells(GLIDER))}
    assert {len(r) for r in reps} == {3}
    assert len(reps) > 1
    assert canonical_wechsler([cells(GLIDER)]) == min(reps) == "153"


def far_blocks(side: int) -> Cells:
    a = np.zeros((side, side), dtype=np.uint8)
    a[:2, :2] = 1
    a[-2:, -2:] = 1
    return a


def block_grid(side: int) -> Cells:
    a = np.zeros((side, side), dtype=np.uint8)
    for y in range(0, side - 1, 3):
        for x in range(0, side - 1, 3):
            a[y : y + 2, x : x + 2] = 1
    return a


@pytest.mark.unit
def test_lifelib_size_limits_give_ov_codes() -> None:
    # (198 + 2)² = 40000 cells is allowed, (200 + 2)² is not.
    assert apgcode([far_blocks(198)], 1).startswith("xs8_33z")
    assert apgcode([far_blocks(200)], 1) == "ov_s8"
    assert apgcode([far_blocks(200)], 2) == "ov_p2"
    assert apgcode([far_blocks(200)], 4, 1, 1) == "ov_q4"
    assert apgcode([far_blocks(200)], 1, max_area=None).startswith("xs8_33z")
    grid = block_grid(149)  # every orientation is far longer than MAX_LENGTH characters
    assert apgcode([grid], 1) == f"ov_s{int(grid.sum())}"
    unlimited = apgcode([grid], 1, max_length=None)
    assert len(unlimited) > MAX_LENGTH
    assert canonical_wechsler([cells("2o$2o!")], max_length=1) is None
    assert canonical_wechsler([cells("2o$2o!")], max_area=15) is None
    assert canonical_wechsler([cells("2o$2o!")], max_area=16) == "33"
    assert MAX_AREA == 40000


@pytest.mark.unit
def test_decode_apgcode() -> None:
    assert decode_apgcode("xs4_33").tolist() == [[1, 1], [1, 1]]
    assert decode_apgcode("xs0_0").shape == (0, 0)
    assert parse_apgcode("xq4_153") == ("q", 4, "153")
    for code in NAMES:
        kind, n, _ = parse_apgcode(code)
        if kind == "s":
            assert int(decode_apgcode(code).sum()) == n


@pytest.mark.unit
@pytest.mark.parametrize(
    "bad", ["ov_s8", "xg30_o444kk8w3", "xs5_33", "hello", "xp2_7_0", "yl144_1_16_afb5", "xs4_"]
)
def test_decode_apgcode_rejects_codes_without_a_pattern(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_apgcode(bad)


# --- lifelib, the reference -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifetree() -> Any:
    """A python-lifelib lifetree for B3/S23 (compiles lifelib on first use, ~1 minute)."""
    return lifelib_tree()


@pytest.mark.integration
def test_common_objects_agree_with_lifelib_in_every_orientation(lifetree: Any) -> None:
    assert len(COMMON_OBJECTS) >= 40
    assert len(set(COMMON_OBJECTS)) == len(COMMON_OBJECTS)
    for code in COMMON_OBJECTS:
        assert lifetree.pattern(code).apgcode == code
        for image in orientations(decode_apgcode(code)):
            a = np.ascontiguousarray(image)
            ours = classify_uncached(a)
            ref = lifetree.pattern(to_rle(a))
            assert ours.apgcode == ref.apgcode == code
            assert ours.period == ref.period
            assert (ours.dx, ours.dy) == tuple(ref.displacement)


@pytest.mark.integration
def test_named_objects_agree_with_lifelib(lifetree: Any) -> None:
    for code in NAMES:
        assert lifetree.pattern(code).apgcode == code
        assert classify_uncached(decode_apgcode(code)).apgcode == code


def _compare_components(lifetree: Any, pattern: Any) -> tuple[int, list[str]]:
    """Classify every component of ``pattern``; (settled count, disagreements with lifelib)."""
    settled = 0
    wrong = []
    for comp in pattern.components():
        a = from_coords(comp.coords())
        ours = classify_uncached(a, max_period=200)
        if not ours.settled:
            continue
        settled += 1
        ref = comp.apgcode
        if ref != ours.apgcode or ref.startswith("ov_"):
            wrong.append(f"{to_rle(a)}: lifelib {ref}, ours {ours.apgcode}")
        elif (ours.period, (ours.dx, ours.dy)) != (comp.period, tuple(comp.displacement)):
            wrong.append(f"{to_rle(a)}: period/displacement {ours.period} {ours.dx},{ours.dy}")
    return settled, wrong


@pytest.mark.integration
def test_soup_ash_objects_named_as_lifelib_names_them(lifetree: Any) -> None:
    settled = 0
    wrong: list[str] = []
    for seed in range(40):
        soup = lifetree.hashsoup("b3s23", "C1", f"cybermesh_{seed}")
        n, w = _compare_components(lifetree, soup[4000])
        settled += n
        wrong += w
    assert not wrong
    assert settled >= 500


@pytest.mark.integration
def test_small_random_soups_agree_with_lifelib(lifetree: Any) -> None:
    rng = np.random.default_rng(2026)
    settled = 0
    wrong: list[str] = []
    for _ in range(150):
        side = int(rng.integers(3, 8))
        soup = (rng.random((side, side)) < rng.uniform(0.3, 0.6)).astype(np.uint8)
        if not soup.any():
            continue
        n, w = _compare_components(lifetree, lifetree.pattern(to_rle(soup))[600])
        settled += n
        wrong += w
    assert not wrong
    assert settled >= 200


@pytest.mark.integration
def test_size_limits_match_lifelib(lifetree: Any) -> None:
    # python-lifelib's Pattern.apgcode passes no limits (apgsearch's classifier uses ours), so the
    # unlimited codes must equal it exactly.
    for a in (far_blocks(200), block_grid(149)):
        assert (
            apgcode([a], 1, max_area=None, max_length=None) == lifetree.pattern(to_rle(a)).apgcode
        )


def _place(a: Cells, b: Cells, ox: int, oy: int) -> Cells:
    """``a`` at the origin and ``b`` with its top-left at (ox, oy), on one canvas."""
    x0 = max(0, -ox)
    h = max(a.shape[0], oy + b.shape[0])
    w = max(x0 + a.shape[1], x0 + ox + b.shape[1])
    out = np.zeros((h, w), dtype=np.uint8)
    out[: a.shape[0], x0 : x0 + a.shape[1]] |= a
    out[oy : oy + b.shape[0], x0 + ox : x0 + ox + b.shape[1]] |= b
    return out


@pytest.mark.integration
def test_pairs_of_common_objects_agree_with_lifelib(lifetree: Any) -> None:
    # Two objects side by side, up to 60 columns and 25 rows apart, make hundreds of distinct
    # periodic patterns (pseudo objects, constellations, mixed periods such as p6 or p30) whose
    # codes have several strips and long runs of empty columns.
    rng = np.random.default_rng(7)
    codes = set()
    wrong = []
    for _ in range(400):
        first, second = (
            decode_apgcode(COMMON_OBJECTS[j]) for j in rng.integers(len(COMMON_OBJECTS), size=2)
        )
        a = np.ascontiguousarray(orientations(first)[rng.integers(8)])
        b = np.ascontiguousarray(orientations(second)[rng.integers(8)])
        if rng.random() < 0.2:
            b = a.copy()  # two copies of a spaceship travel together
        pattern = _place(a, b, int(rng.integers(-5, 60)), int(rng.integers(0, 25)))
        ours = classify_uncached(pattern, max_period=200)
        if not ours.settled:
            continue
        codes.add(ours.apgcode)
        ref = lifetree.pattern(to_rle(pattern)).apgcode
        if ref != ours.apgcode:
            wrong.append(f"{to_rle(pattern)}: lifelib {ref}, ours {ours.apgcode}")
    assert not wrong
    assert len(codes) >= 250
