"""The energy field against closed-form values: decay, deposit, diffusion, tile means."""

from __future__ import annotations

import numpy as np
import pytest

from game.app.build import build_sim
from game.config import Config, override
from systems.energy import decay_factor, diffuse, tile_means, tile_populations

pytestmark = pytest.mark.unit


def test_decay_halves_every_half_life() -> None:
    assert decay_factor(10.0) ** 10 == pytest.approx(0.5, rel=1e-12)
    field = np.full((8, 8), 3.0, np.float32)
    f = np.float32(decay_factor(7.0))
    for _ in range(70):
        field *= f
    np.testing.assert_allclose(field, 3.0 * 0.5 ** 10, rtol=1e-5)


def test_diffusion_conserves_total_and_spreads_a_point() -> None:
    field = np.zeros((16, 16), np.float32)
    field[8, 8] = 100.0
    for _ in range(50):
        diffuse(field, 0.2)
    assert field.sum() == pytest.approx(100.0, rel=1e-5)
    assert field.max() < 100.0 and field.min() >= 0.0
    # symmetric about the source
    np.testing.assert_allclose(field[8, 9], field[8, 7], rtol=1e-6)
    np.testing.assert_allclose(field[9, 8], field[7, 8], rtol=1e-6)


def test_one_diffusion_step_matches_the_stencil() -> None:
    field = np.zeros((5, 5), np.float32)
    field[0, 0] = 1.0
    diffuse(field, 0.25)
    assert field[0, 0] == pytest.approx(0.0)
    for y, x in [(0, 1), (1, 0), (0, 4), (4, 0)]:  # torus wrap
        assert field[y, x] == pytest.approx(0.25)


def test_diffusion_in_place_matches_the_roll_stencil_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (1, 6), (5, 1), (2, 2), (16, 48), (80, 80)]:
        field = (rng.standard_exponential(shape) ** 4).astype(np.float32)
        expected = field.copy()
        work = np.empty((2, *shape), np.float32)
        for _ in range(5):
            lap = (np.roll(expected, 1, 0) + np.roll(expected, -1, 0)
                   + np.roll(expected, 1, 1) + np.roll(expected, -1, 1))
            lap -= 4.0 * expected
            expected += np.float32(0.2) * lap
            diffuse(field, 0.2, work)
        assert np.array_equal(field, expected), shape


def test_tile_means() -> None:
    field = np.arange(16, dtype=np.float32).reshape(4, 4)
    means = tile_means(field, 2, 2, 2)
    assert means.tolist() == [[2.5, 4.5], [10.5, 12.5]]


def test_tile_populations_count_each_tiles_live_cells() -> None:
    rng = np.random.default_rng(5)
    for rows, cols, tile in [(2, 3, 4), (5, 5, 16), (1, 2, 300)]:  # 300: columns past uint8
        alive = (rng.random((rows * tile, cols * tile)) < 0.9).astype(np.uint8)
        pops = tile_populations(alive, rows, cols, tile)
        expected = [[int(alive[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile].sum())
                     for c in range(cols)] for r in range(rows)]
        assert pops.dtype == np.int64 and pops.tolist() == expected


def test_energy_system_matches_closed_form_in_a_running_sim() -> None:
    """E_t = sum over ticks s<=t of deposit * births_s * f^(t-s): rebuilt from the births."""
    config = override(Config(), "energy.half_life", 5.0)
    config = override(config, "energy.birth_deposit", 2.0)
    config = override(config, "mesh.rows", 2)
    config = override(config, "mesh.cols", 3)
    config = override(config, "lattice.backend", "numpy")
    sim = build_sim(config)
    f = decay_factor(5.0)
    expected = np.zeros(sim.shape, np.float64)
    for _ in range(60):
        sim.step()
        expected = expected * f + 2.0 * sim.substrate.births
    np.testing.assert_allclose(sim.substrate.energy, expected, rtol=1e-4, atol=1e-6)
    sim.close()


def test_energy_decays_to_closed_form_once_births_stop() -> None:
    config = override(Config(), "lattice.soup_density", 0.0)
    config = override(config, "energy.half_life", 4.0)
    config = override(config, "lattice.backend", "numpy")
    sim = build_sim(config)
    sim.substrate.energy[...] = 8.0
    sim.step(12)
    np.testing.assert_allclose(sim.substrate.energy, 8.0 * 0.5 ** 3, rtol=1e-5)
    sim.close()


def test_diffusion_in_the_sim_conserves_energy_without_births_or_decay() -> None:
    config = override(Config(), "lattice.soup_density", 0.0)
    config = override(config, "energy.half_life", 1e12)
    config = override(config, "energy.diffusion", 0.2)
    config = override(config, "lattice.backend", "numpy")
    sim = build_sim(config)
    rng = np.random.default_rng(1)
    sim.substrate.energy[...] = rng.random(sim.shape).astype(np.float32)
    total = float(sim.substrate.energy.sum(dtype=np.float64))
    sim.step(100)
    assert float(sim.substrate.energy.sum(dtype=np.float64)) == pytest.approx(total, rel=1e-4)
    sim.close()
