"""The bit-packed numpy backend against the uint8 reference and known patterns."""

from __future__ import annotations

import numpy as np
import pytest

from game.backends.bitpacked import BitPackedBackend, pack, unpack
from game.backends.reference import reference_step
from game.rules import CONWAY, parse_rule

pytestmark = pytest.mark.unit

SIZES = [(16, 16), (80, 80), (37, 100), (70, 130), (64, 64), (33, 64), (20, 65), (9, 200), (1, 7),
         (5, 1)]


@pytest.mark.parametrize("shape", SIZES)
def test_bit_exact_with_reference_for_1000_generations(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(hash(shape) % 2**32)
    cells = (rng.random(shape) < 0.35).astype(np.uint8)
    backend = BitPackedBackend(CONWAY, shape)
    backend.set_cells(cells)
    ref = cells
    for gen in range(1, 1001):
        nxt = reference_step(ref, CONWAY)
        born = nxt & (1 - ref)
        ref = nxt
        backend.step()
        if gen % 25 == 0 or gen < 10:
            assert np.array_equal(backend.get_cells(), ref), f"diverged at generation {gen}"
            assert np.array_equal(backend.births(), born)
            assert backend.population() == int(ref.sum())
    backend.close()


@pytest.mark.parametrize("rule_text", ["B36/S23", "B2/S", "B3678/S34678", "B0123478/S01234678",
                                       "B1/S1", "B345678/S012345678"])
@pytest.mark.parametrize("shape", [(80, 80), (37, 100), (24, 64)])
def test_other_rules_bit_exact(rule_text: str, shape: tuple[int, int]) -> None:
    rule = parse_rule(rule_text)
    rng = np.random.default_rng(7)
    cells = (rng.random(shape) < 0.4).astype(np.uint8)
    backend = BitPackedBackend(rule, shape)
    backend.set_cells(cells)
    ref = cells
    for _ in range(200):
        ref = reference_step(ref, rule)
        backend.step()
        assert np.array_equal(backend.get_cells(), ref)


def test_two_threads_match_one() -> None:
    rng = np.random.default_rng(3)
    cells = (rng.random((300, 700)) < 0.35).astype(np.uint8)
    one, two = BitPackedBackend(CONWAY, cells.shape, threads=1), None
    import game.backends.bitpacked as bp

    old = bp._THREAD_MIN_WORDS, bp._BLOCK_WORDS
    bp._THREAD_MIN_WORDS, bp._BLOCK_WORDS = 0, 256  # force several blocks on two threads
    try:
        two = BitPackedBackend(CONWAY, cells.shape, threads=2)
    finally:
        bp._THREAD_MIN_WORDS, bp._BLOCK_WORDS = old
    assert two._threads == 2 and len(two._blocks) > 2
    one.set_cells(cells)
    two.set_cells(cells)
    one.step(100)
    two.step(100)
    assert np.array_equal(one.get_cells(), two.get_cells())
    one.close()
    two.close()


def test_glider_returns_home_after_64_generations_on_16x16() -> None:
    cells = np.zeros((16, 16), np.uint8)
    for y, x in [(0, 1), (1, 2), (2, 0), (2, 1), (2, 2)]:
        cells[y, x] = 1
    backend = BitPackedBackend(CONWAY, (16, 16))
    backend.set_cells(cells)
    for gen in range(1, 64):
        backend.step()
        assert not np.array_equal(backend.get_cells(), cells), f"home too early at {gen}"
        assert backend.population() == 5
    backend.step()
    assert np.array_equal(backend.get_cells(), cells)


def test_glider_moves_one_diagonal_cell_per_four_generations() -> None:
    cells = np.zeros((16, 16), np.uint8)
    for y, x in [(0, 1), (1, 2), (2, 0), (2, 1), (2, 2)]:
        cells[y, x] = 1
    backend = BitPackedBackend(CONWAY, (16, 16))
    backend.set_cells(cells)
    backend.step(4 * 5)
    assert np.array_equal(backend.get_cells(), np.roll(cells, (5, 5), axis=(0, 1)))


@pytest.mark.parametrize("width", [1, 7, 63, 64, 65, 128, 200])
def test_pack_unpack_round_trip(width: int) -> None:
    rng = np.random.default_rng(width)
    cells = (rng.random((5, width)) < 0.5).astype(np.uint8)
    words = pack(cells)
    assert words.shape == (5, (width + 63) // 64)
    assert np.array_equal(unpack(words, width), cells)
    # padding bits stay zero: the popcount of the words is the population
    assert int(np.bitwise_count(words).sum()) == int(cells.sum())


def test_births_are_zero_before_any_step_and_set_cells_rejects_wrong_shape() -> None:
    backend = BitPackedBackend(CONWAY, (8, 8))
    assert not backend.births().any()
    with pytest.raises(ValueError, match="shape"):
        backend.set_cells(np.zeros((8, 9), np.uint8))
