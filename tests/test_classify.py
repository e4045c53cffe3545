"""Classification of isolated objects (game.patterns.classify) and the catalogue of names."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from game.backends.reference import reference_step
from game.cells import Cells
from game.patterns.apgcode import crop, decode_apgcode, orientations, parse_apgcode
from game.patterns.catalogue import COMMON_OBJECTS, NAMES, friendly_name
from game.patterns.classify import (
    Classification,
    cache_size,
    classify,
    classify_uncached,
    clear_cache,
    plane_step,
)
from game.rle import parse_rle, read_rle
from game.rules import CONWAY, Rule, parse_rule

PATTERNS = Path(__file__).resolve().parent.parent / "assets" / "patterns"


def cells(rle: str) -> Cells:
    """A headerless RLE body as a cropped uint8 array."""
    out, _ = crop(parse_rle("x = 64, y = 64\n" + rle).cells)
    return np.ascontiguousarray(out)


def naive_classify(start: Cells, rule: Rule, limit: int) -> tuple[int, int, int] | None:
    """(period, dx, dy) by brute force with the numpy plane_step, or None if not periodic."""
    cur = start
    x = y = 0
    for gen in range(1, limit + 1):
        cur, (ox, oy) = plane_step(cur, rule)
        x += ox
        y += oy
        if cur.size == 0:
            return None
        if np.array_equal(cur, start):
            return gen, x, y
    return None


# --- shipped patterns -------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "code", "kind", "period", "dx", "dy"),
    [
        ("block", "xs4_33", "still", 1, 0, 0),
        ("beehive", "xs6_696", "still", 1, 0, 0),
        ("loaf", "xs7_2596", "still", 1, 0, 0),
        ("boat", "xs5_253", "still", 1, 0, 0),
        ("tub", "xs4_252", "still", 1, 0, 0),
        ("blinker", "xp2_7", "oscillator", 2, 0, 0),
        ("toad", "xp2_7e", "oscillator", 2, 0, 0),
        ("beacon", "xp2_318c", "oscillator", 2, 0, 0),
        ("pulsar", "xp3_co9nas0san9oczgoldlo0oldlogz1047210127401", "oscillator", 3, 0, 0),
        ("glider", "xq4_153", "spaceship", 4, 1, 1),
        ("lwss", "xq4_6frc", "spaceship", 4, -2, 0),
        ("mwss", "xq4_27dee6", "spaceship", 4, -2, 0),
        ("hwss", "xq4_27deee6", "spaceship", 4, -2, 0),
    ],
)
def test_shipped_patterns(name: str, code: str, kind: str, period: int, dx: int, dy: int) -> None:
    c = classify_uncached(read_rle(PATTERNS / f"{name}.rle").cells)
    assert (c.apgcode, c.kind, c.period, c.dx, c.dy) == (code, kind, period, dx, dy)
    assert c.name == NAMES[code]
    assert len(c.phases) == len(c.offsets) == period
    assert c.population == int(c.phases[0].sum())
    assert c.settled


@pytest.mark.unit
def test_pentadecathlon_from_its_code() -> None:
    c = classify_uncached(decode_apgcode("xp15_4r4z4r4"))
    assert (c.apgcode, c.name, c.kind, c.period, c.dx, c.dy) == (
        "xp15_4r4z4r4",
        "pentadecathlon",
        "oscillator",
        15,
        0,
        0,
    )
    # The bound is inclusive: a period of exactly max_period is found, one more is not.
    assert classify_uncached(decode_apgcode("xp15_4r4z4r4"), max_period=15).period == 15
    assert not classify_uncached(decode_apgcode("xp15_4r4z4r4"), max_period=14).settled


@pytest.mark.unit
def test_r_pentomino_and_the_gun_are_unsettled(monkeypatch: pytest.MonkeyPatch) -> None:
    from game.patterns.classify import _BitPlane

    r = read_rle(PATTERNS / "r-pentomino.rle").cells
    c = classify_uncached(r, max_period=100)
    assert (c.apgcode, c.name, c.kind, c.period, c.dx, c.dy) == (None, None, "unsettled", 0, 0, 0)
    assert len(c.phases) == 1 and c.offsets == ((0, 0),)
    assert np.array_equal(c.phases[0], crop(r)[0])
    assert c.population == 5
    gun = read_rle(PATTERNS / "gosper-glider-gun.rle").cells
    assert classify_uncached(gun, max_period=100).kind == "unsettled"
    # A growing pattern stops as soon as it outgrows max_side: the engine steps the gun to the
    # first generation wider than 60 cells (found with the numpy stepper), never on toward
    # max_period.
    cur, outgrown = crop(gun)[0], 0
    while max(cur.shape) <= 60:
        cur, _ = plane_step(cur, CONWAY)
        outgrown += 1
    steps = 0
    step = _BitPlane.step

    def counted(plane: _BitPlane) -> tuple[int, int] | None:
        nonlocal steps
        steps += 1
        return step(plane)

    monkeypatch.setattr(_BitPlane, "step", counted)
    assert classify_uncached(gun, max_period=100_000, max_side=60).kind == "unsettled"
    assert steps == outgrown


@pytest.mark.unit
@pytest.mark.parametrize(
    "rle",
    [
        "o!",  # dies at once
        "2o!",  # dies at once
        "obo!",  # dies in two generations
        "2o$o!",  # becomes a block: generation 0 is a transient, never seen again
        "bo$3o!",  # the T-tetromino settles into traffic lights
    ],
)
def test_dying_and_transient_patterns_are_unsettled(rle: str) -> None:
    c = classify_uncached(cells(rle))
    assert c.kind == "unsettled"
    assert c.apgcode is None and c.name is None and c.period == 0


@pytest.mark.unit
def test_the_empty_pattern_is_xs0_0() -> None:
    for empty in (np.zeros((0, 0), np.uint8), np.zeros((5, 5), np.uint8)):
        c = classify_uncached(empty)
        assert (c.apgcode, c.kind, c.period, c.population) == ("xs0_0", "still", 1, 0)


@pytest.mark.unit
def test_input_is_cropped_and_any_nonzero_is_alive() -> None:
    glider = cells("bo$2bo$3o!")
    padded = np.zeros((9, 12), dtype=np.int64)
    padded[3:6, 4:7] = glider * 7
    c = classify_uncached(padded)
    assert c.apgcode == "xq4_153"
    assert np.array_equal(c.phases[0], glider)
    assert classify_uncached(glider.astype(bool)).apgcode == "xq4_153"
    with pytest.raises(ValueError, match="2-D"):
        classify(np.zeros((2, 2, 2), np.uint8))


# --- every orientation and phase of the generated set ------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("code", COMMON_OBJECTS)
def test_every_orientation_and_phase_classifies_to_the_same_code(code: str) -> None:
    kind, n, _ = parse_apgcode(code)
    base = classify_uncached(decode_apgcode(code))
    assert base.apgcode == code
    assert base.name == friendly_name(code)
    assert base.period == (1 if kind == "s" else n)
    assert base.kind == {"s": "still", "p": "oscillator", "q": "spaceship"}[kind]
    speed = sorted((abs(base.dx), abs(base.dy)))
    for image in orientations(decode_apgcode(code)):
        first = classify_uncached(np.ascontiguousarray(image))
        for phase in first.phases:
            c = classify_uncached(phase)
            assert (c.apgcode, c.kind, c.period) == (code, base.kind, base.period)
            assert sorted((abs(c.dx), abs(c.dy))) == speed


@pytest.mark.unit
@pytest.mark.parametrize("code", COMMON_OBJECTS)
def test_phases_and_offsets_are_what_the_plane_gives(code: str) -> None:
    c = classify_uncached(decode_apgcode(code))
    cur = c.phases[0]
    x = y = 0
    for k in range(1, c.period + 1):
        cur, (ox, oy) = plane_step(cur)
        x += ox
        y += oy
        if k < c.period:
            assert np.array_equal(cur, c.phases[k])
            assert (x, y) == c.offsets[k]
    assert np.array_equal(cur, c.phases[0])
    assert (x, y) == (c.dx, c.dy)
    assert c.offsets[0] == (0, 0)


# --- the cache ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_cache_returns_read_only_arrays_and_ignores_later_input_changes() -> None:
    clear_cache()
    glider = cells("bo$2bo$3o!")
    c = classify(glider)
    assert classify(glider) is c
    for phase in c.phases:
        assert not phase.flags.writeable
        with pytest.raises(ValueError):
            phase[0, 0] = 1
    glider[:] = 0  # the caller reuses its buffer
    assert classify(cells("bo$2bo$3o!")) is c
    assert np.array_equal(c.phases[0], cells("bo$2bo$3o!"))
    assert classify(glider).apgcode == "xs0_0"


@pytest.mark.unit
def test_cache_keeps_small_objects_from_big_arrays_and_skips_big_objects() -> None:
    clear_cache()
    lattice = np.zeros((200, 200), dtype=np.uint8)
    lattice[50:53, 70:73] = cells("bo$2bo$3o!")
    first = classify(lattice)
    assert first.apgcode == "xq4_153"
    assert classify(cells("bo$2bo$3o!")) is first  # cached under the cropped object
    clear_cache()
    grid = np.zeros((80, 80), dtype=np.uint8)
    for y in range(0, 78, 3):
        for x in range(0, 78, 3):
            grid[y : y + 2, x : x + 2] = 1
    assert classify(grid).kind == "still"
    assert cache_size() == 0
    # An object already larger than max_side is unsettled without being run.
    assert classify(grid, max_side=50).kind == "unsettled"


@pytest.mark.unit
@pytest.mark.parametrize(
    "code", ["xq4_153", "xq4_6frc", "xp15_4r4z4r4", "xp2_318c", "xp2_2a54", "xs4_33"]
)
def test_cache_filled_for_every_phase_matches_a_fresh_classification(code: str) -> None:
    clear_cache()
    for image in orientations(decode_apgcode(code)):
        first = classify(np.ascontiguousarray(image))
        for phase in first.phases:
            assert classify(phase) == classify_uncached(phase)
    assert cache_size() > 0
    clear_cache()
    assert cache_size() == 0


@pytest.mark.unit
def test_classification_equality() -> None:
    a = classify_uncached(decode_apgcode("xq4_153"))
    b = classify_uncached(decode_apgcode("xq4_153"))
    assert a == b and hash(a) == hash(b)
    assert a != classify_uncached(decode_apgcode("xs4_33"))
    assert a != "xq4_153"
    assert isinstance(a, Classification)


# --- rules --------------------------------------------------------------------------------------


@pytest.mark.unit
def test_b0_rules_are_rejected() -> None:
    rule = parse_rule("B03/S23")
    with pytest.raises(ValueError, match="B0"):
        classify(cells("3o!"), rule)
    with pytest.raises(ValueError, match="B0"):
        classify_uncached(cells("3o!"), rule)
    with pytest.raises(ValueError, match="B0"):
        plane_step(cells("3o!"), rule)


@pytest.mark.unit
def test_other_rules_get_codes_but_no_conway_names() -> None:
    highlife = parse_rule("B36/S23")
    c = classify_uncached(cells("bo$2bo$3o!"), highlife)
    assert (c.apgcode, c.name) == ("xq4_153", None)
    assert classify_uncached(cells("2o$2o!"), highlife).apgcode == "xs4_33"
    # In Life without death (B3/S012345678) cells never die, so a blinker never comes back.
    assert classify_uncached(cells("3o!"), parse_rule("B3/S012345678")).kind == "unsettled"


rules = st.builds(
    lambda b, s: Rule(frozenset(b), frozenset(s)),
    st.sets(st.integers(1, 8)),
    st.sets(st.integers(0, 8)),
)
small_patterns = st.integers(1, 8).flatmap(
    lambda h: st.integers(1, 8).flatmap(
        lambda w: st.lists(st.integers(0, 1), min_size=h * w, max_size=h * w).map(
            lambda v: np.array(v, dtype=np.uint8).reshape(h, w)
        )
    )
)


@pytest.mark.unit
@settings(max_examples=150, deadline=None)
@given(small_patterns, rules)
def test_plane_step_matches_the_torus_reference_away_from_the_seams(a: Cells, rule: Rule) -> None:
    torus = np.zeros((a.shape[0] + 8, a.shape[1] + 8), dtype=np.uint8)
    torus[4:-4, 4:-4] = a
    start, (x0, y0) = crop(torus)
    if start.size == 0:
        return
    cur = np.ascontiguousarray(start)
    x, y = x0, y0
    for _ in range(3):
        torus = reference_step(torus, rule)
        cur, (ox, oy) = plane_step(cur, rule)
        x += ox
        y += oy
        expected, (ex, ey) = crop(torus)
        assert np.array_equal(cur, expected)
        if cur.size:
            assert (x, y) == (ex, ey)
        else:
            break


@pytest.mark.unit
@settings(max_examples=150, deadline=None)
@given(small_patterns, rules)
def test_classify_agrees_with_brute_force_under_any_rule(a: Cells, rule: Rule) -> None:
    start, _ = crop(a)
    if start.size == 0:
        return
    c = classify_uncached(start, rule, max_period=60, max_side=40)
    found = naive_classify(np.ascontiguousarray(start), rule, 60)
    if found is None:
        assert not c.settled
        return
    if c.settled:
        assert (c.period, c.dx, c.dy) == found
        assert c.apgcode is not None
    else:
        # Only the size bound may stop a classification that brute force finishes.
        assert any(max(p.shape) > 40 for p in _orbit(start, rule, found[0]))


def _orbit(start: Cells, rule: Rule, period: int) -> list[Cells]:
    out = [start]
    for _ in range(period - 1):
        out.append(plane_step(out[-1], rule)[0])
    return out


# --- catalogue ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_catalogue_names_and_common_objects() -> None:
    for name in ("block", "beehive", "loaf", "boat", "tub", "ship", "pond", "blinker", "toad"):
        assert name in NAMES.values()
    for name in ("beacon", "pulsar", "pentadecathlon", "glider", "LWSS", "MWSS", "HWSS"):
        assert name in NAMES.values()
    assert friendly_name("xq4_153") == "glider"
    assert friendly_name("xs4_33") == "block"
    assert friendly_name("xs99_nonsense") is None
    assert len(NAMES.values()) == len(set(NAMES.values()))
    assert len(COMMON_OBJECTS) >= 40
    for code in COMMON_OBJECTS:
        assert classify_uncached(decode_apgcode(code)).apgcode == code


# --- speed --------------------------------------------------------------------------------------


def seconds_per_call(call: Callable[[], object], calls: int) -> float:
    """The best of three runs of ``calls`` calls, per call: the least disturbed by other work."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


@pytest.mark.performance
def test_classify_is_fast_for_ash_objects() -> None:
    """Ratios in one run, so they hold on any machine: classifying an ash object costs at most
    10× finding its period by brute force (the stepping any classifier must do; a still life's
    code and canonical phase make it ~3× here), and a cache hit at most a tenth of a
    classification (~1/45 here)."""
    small = [code for code in COMMON_OBJECTS if int(decode_apgcode(code).sum()) <= 20]
    for code in small:
        a = decode_apgcode(code)
        brute = seconds_per_call(partial(naive_classify, a, CONWAY, 100), 5)
        assert seconds_per_call(partial(classify_uncached, a), 5) <= 10 * brute, code
    a = decode_apgcode("xp2_318c")
    classify(a)
    hit = seconds_per_call(lambda: classify(a), 1000)
    assert hit <= seconds_per_call(lambda: classify_uncached(a), 50) / 10


@pytest.mark.unit
@pytest.mark.parametrize("rule", [CONWAY, parse_rule("B36/S23"), parse_rule("B2/S")])
def test_bit_engine_follows_the_numpy_engine_while_growing(rule: Rule) -> None:
    # White-box: the int engine behind classify re-strides as a soup spreads; every generation
    # and every move of its box must match plane_step.
    from game.patterns.classify import _BitPlane

    soup = (np.random.default_rng(3).random((10, 10)) < 0.5).astype(np.uint8)
    cur = np.ascontiguousarray(crop(soup)[0])
    engine = _BitPlane(cur, rule)
    strides = {engine.stride}
    for _ in range(120):
        cur, moved = plane_step(cur, rule)
        got = engine.step()
        if cur.size == 0:
            assert got is None
            break
        assert got == moved
        assert np.array_equal(engine.cells(), cur)
        strides.add(engine.stride)
    assert len(strides) > 1
