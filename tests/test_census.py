"""Object separation and naming: generated sets, shipped patterns, soup ash against lifelib."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from game.backends.bitpacked import BitPackedBackend
from game.paths import PATTERNS_DIR
from game.patterns.accuracy import Placed, Score, score_trial
from game.patterns.apgcode import orientations
from game.patterns.catalogue import COMMON_OBJECTS
from game.patterns.census import Census
from game.patterns.classify import classify
from game.patterns.islands import _unwrap
from game.rle import format_rle, read_rle
from game.rules import CONWAY
from tests.helpers import lifelib_tree

# The shipped patterns that are objects (the gun and the R-pentomino are not: they never settle).
SHIPPED = {
    "block": "xs4_33", "beehive": "xs6_696", "loaf": "xs7_2596", "boat": "xs5_253",
    "tub": "xs4_252", "blinker": "xp2_7", "toad": "xp2_7e", "beacon": "xp2_318c",
    "pulsar": "xp3_co9nas0san9oczgoldlo0oldlogz1047210127401", "glider": "xq4_153",
    "lwss": "xq4_6frc", "mwss": "xq4_27dee6", "hwss": "xq4_27deee6",
}


def place(shape: tuple[int, int], cells: np.ndarray, x: int, y: int) -> np.ndarray:
    lattice = np.zeros(shape, np.uint8)
    h, w = shape
    ph, pw = cells.shape
    lattice[np.ix_(np.arange(y, y + ph) % h, np.arange(x, x + pw) % w)] = cells
    return lattice


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_object_in_every_orientation_and_phase(name: str) -> None:
    base = read_rle(PATTERNS_DIR / f"{name}.rle").cells
    census = Census(CONWAY, horizon=8, max_period=100)
    for image in orientations(base):
        c = classify(image)
        for phase in c.phases:
            ph, pw = phase.shape
            for x, y in [(5, 7), (40 - pw // 2, 0), (70, 35)]:  # inside, across one, two seams
                result = census.run(place((48, 80), phase, x, y))
                objects = result.objects()
                assert len(objects) == 1, (name, x, y, objects)
                o = objects[0]
                assert o.apgcode == SHIPPED[name]
                assert (o.x, o.y, o.w, o.h) == (x % 80, y % 48, pw, ph)


# The 8 symmetries of the square as lifelib names them: the generated set is oriented and stepped
# by lifelib, not by the code under test (game.patterns.apgcode.orientations, classify's phases).
LIFELIB_SYMMETRIES = (
    "identity", "rot90", "rot180", "rot270", "flip_x", "flip_y", "swap_xy", "swap_xy_flip",
)
D1_HORIZON = 8
# In h generations a pattern reaches at most h cells past its box, and cells interact across one
# more: boxes padded by h + 1 that do not overlap cannot interact before the census stops looking.
D1_MARGIN = D1_HORIZON + 1
D1_SIZES = ((80, 80), (64, 100), (128, 128), (50, 90))


def lifelib_cells(pattern: Any) -> np.ndarray:
    """A lifelib pattern's live cells as a cropped uint8 array (rows are y)."""
    xy = np.asarray(pattern.coords(), np.int64)
    xy = xy - xy.min(axis=0)
    out = np.zeros((int(xy[:, 1].max()) + 1, int(xy[:, 0].max()) + 1), np.uint8)
    out[xy[:, 1], xy[:, 0]] = 1
    return out


def lifelib_images(lt: Any, code: str) -> list[np.ndarray]:
    """Every phase of ``code`` in each of the 8 orientations, decoded and stepped by lifelib.

    One entry per (orientation, phase), duplicates kept, so that a uniform draw from the list is
    a uniform draw of orientation and phase. lifelib names every image ``code``.
    """
    pattern = lt.pattern(code)
    assert pattern.apgcode == code, f"{code} is not lifelib's canonical code ({pattern.apgcode})"
    images = []
    for symmetry in LIFELIB_SYMMETRIES:
        image = pattern.transform(symmetry)
        for _ in range(int(pattern.period)):
            assert image.apgcode == code, (code, symmetry)
            images.append(lifelib_cells(image))
            image = image[1]
    return images


def generated_codes(lt: Any) -> list[str]:
    """The generated set: the common objects and every shipped pattern lifelib calls an object."""
    codes = set(COMMON_OBJECTS)
    for path in sorted(PATTERNS_DIR.glob("*.rle")):
        try:
            code = str(lt.load(str(path)).apgcode)
        except KeyError:  # lifelib finds no period (the R-pentomino): not an object
            continue
        if code.startswith(("xs", "xp", "xq")):  # the gun (xg) is not an object either
            codes.add(code)
    return sorted(codes)


@pytest.mark.integration
def test_generated_set_accuracy_and_false_positives() -> None:
    """Issue 3: accuracy >= 99.5 %, false positives <= 0.5 % on the generated set.

    The truth is what the test placed: lifelib decodes, orients and steps each object and names
    every image; the test puts it at a random place on the torus (the first of each lattice over
    the corner where the seams cross) and expects the census to report exactly that apgcode and
    bounding box, and nothing else.
    """
    lt = lifelib_tree()
    codes = generated_codes(lt)
    assert len(codes) >= 30
    images = {code: lifelib_images(lt, code) for code in codes}
    rng = np.random.default_rng(19)
    census = Census(CONWAY, horizon=D1_HORIZON, max_period=100)
    placed = found = detected = seams = 0
    misses: list[str] = []
    for h, w in D1_SIZES:
        for _ in range(12):
            lattice = np.zeros((h, w), np.uint8)
            taken = np.zeros((h, w), bool)
            want: set[tuple[str, int, int, int, int]] = set()
            for attempt in range(12 * 20):
                if len(want) == 12:
                    break
                code = codes[int(rng.integers(len(codes)))]
                cells = images[code][int(rng.integers(len(images[code])))]
                ph, pw = cells.shape
                if ph + 2 * D1_MARGIN > h or pw + 2 * D1_MARGIN > w:
                    continue
                if attempt == 0:  # the first object of a lattice straddles the corner
                    x = w - 1 - int(rng.integers(max(1, pw - 1)))
                    y = h - 1 - int(rng.integers(max(1, ph - 1)))
                else:
                    x, y = int(rng.integers(w)), int(rng.integers(h))
                rows = np.arange(y - D1_MARGIN, y + ph + D1_MARGIN) % h
                cols = np.arange(x - D1_MARGIN, x + pw + D1_MARGIN) % w
                if taken[np.ix_(rows, cols)].any():
                    continue
                taken[np.ix_(rows, cols)] = True
                lattice |= place((h, w), cells, x, y)
                want.add((code, x, y, pw, ph))
                seams += int(x + pw > w or y + ph > h)
            objects = census.run(lattice).objects()
            got = {(o.apgcode, o.x, o.y, o.w, o.h) for o in objects}
            placed += len(want)
            detected += len(objects)
            found += len(got & want)
            misses += [f"{(h, w)} missed {m}" for m in sorted(want - got, key=str)]
            misses += [f"{(h, w)} false {m}" for m in sorted(got - want, key=str)]
    assert placed > 350 and seams >= 12 * len(D1_SIZES), (placed, seams)
    assert found / placed >= 0.995, (found, placed, misses[:20])
    assert (detected - found) / detected <= 0.005, (detected, found, misses[:20])
    print(f"D1: {found}/{placed} found, {detected - found}/{detected} false, {seams} on a seam")


@pytest.mark.unit
def test_every_common_object_in_every_orientation_and_phase() -> None:
    census = Census(CONWAY, horizon=8, max_period=100)
    tally = Score(misses=[])
    for code in COMMON_OBJECTS:
        for image in orientations(read_code(code)):
            for phase in classify(image).phases:
                ph, pw = phase.shape
                score_trial(census, place((40, 40), phase, 38, 37),
                            [Placed(code, 38, 37, pw, ph)], tally)
    assert tally.found == tally.placed, tally.misses


def read_code(code: str) -> np.ndarray:
    from game.patterns.apgcode import decode_apgcode

    return decode_apgcode(code)


@pytest.mark.unit
def test_pseudo_still_life_splits_and_real_one_does_not() -> None:
    census = Census(CONWAY)
    bi_block = np.array([[1, 1, 0, 1, 1], [1, 1, 0, 1, 1]], np.uint8)
    codes = sorted(o.apgcode or "" for o in census.run(place((20, 20), bi_block, 3, 3)).objects())
    assert codes == ["xs4_33", "xs4_33"]
    carrier = np.array([[1, 1, 0, 0], [1, 0, 0, 1], [0, 0, 1, 1]], np.uint8)  # two islands
    objects = census.run(place((20, 20), carrier, 3, 3)).objects()
    assert [o.apgcode for o in objects] == ["xs6_39c"]
    assert objects[0].name == "aircraft carrier"


@pytest.mark.unit
def test_gun_and_soup_are_unsettled_never_misnamed() -> None:
    gun = read_rle(PATTERNS_DIR / "gosper-glider-gun.rle").cells
    result = Census(CONWAY, horizon=64, max_period=300).run(place((120, 120), gun, 10, 10))
    assert [o.apgcode for o in result.objects()] == [None]
    r_pento = read_rle(PATTERNS_DIR / "r-pentomino.rle").cells
    result = Census(CONWAY).run(place((200, 200), r_pento, 100, 100))
    assert [(o.apgcode, o.kind) for o in result.objects()] == [(None, "unsettled")]


@pytest.mark.unit
def test_objects_about_to_collide_are_joined() -> None:
    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)  # heading SE
    lattice = place((40, 40), glider, 5, 5) | place((40, 40), np.ones((2, 2), np.uint8), 11, 11)
    far = Census(CONWAY, horizon=2).run(lattice).objects()
    assert sorted(o.apgcode or "" for o in far) == ["xq4_153", "xs4_33"]
    near = Census(CONWAY, horizon=20).run(lattice).objects()
    assert [o.apgcode for o in near] == [None]  # they will interact: one (unsettled) object


@pytest.mark.unit
def test_glider_direction_and_velocity() -> None:
    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)
    for image, direction in [(glider, "SE"), (glider[::-1], "NE"), (glider[:, ::-1], "SW"),
                             (glider[::-1, ::-1], "NW")]:
        (o,) = Census(CONWAY).run(place((30, 30), image, 10, 10)).objects()
        assert o.direction == direction
        assert abs(o.dx) == abs(o.dy) == 1 and o.period == 4


def ash(seed: int, shape: tuple[int, int], gens: int) -> np.ndarray:
    b = BitPackedBackend(CONWAY, shape)
    b.set_cells((np.random.default_rng(seed).random(shape) < 0.4).astype(np.uint8))
    b.step(gens)
    return b.get_cells()


@pytest.mark.integration
def test_soup_ash_names_match_lifelib() -> None:
    lt = lifelib_tree()
    census = Census(CONWAY, horizon=16, max_period=200)
    compared = 0
    for seed in range(6):
        lattice = ash(seed, (96, 128), 6000)
        result = census.run(lattice)
        codes = result.apgcodes()
        assert sum(int(p) for p in result.population) == int(lattice.sum())
        for i, code in enumerate(codes):
            ys, xs = result.cells_of(i)
            ys, xs = _unwrap(ys, 96), _unwrap(xs, 128)
            box = np.zeros((ys.max() - ys.min() + 1, xs.max() - xs.min() + 1), np.uint8)
            box[ys - ys.min(), xs - xs.min()] = 1
            body = format_rle(box, CONWAY).split("\n", 1)[1].replace("\n", "")
            theirs = lt.pattern(body).apgcode
            if code is None:
                # Unsettled here means still changing, or interacting with a neighbour: lifelib
                # must not see a small settled object in it either.
                assert not theirs.startswith(("xs", "xp", "xq")) or len(ys) > 40, theirs
                continue
            assert code == theirs
            compared += 1
    assert compared > 200


@pytest.mark.unit
def test_objects_too_big_for_their_torus_are_never_named() -> None:
    row = np.ones((1, 3), np.uint8)
    # On a 3-wide torus a row of three meets itself across the seam: it is no blinker.
    (tight,) = Census(CONWAY).run(place((3, 3), row, 0, 0)).objects()
    assert tight.apgcode is None and tight.kind == "unsettled"
    (roomy,) = Census(CONWAY).run(place((5, 5), row, 0, 0)).objects()
    assert roomy.apgcode == "xp2_7"
