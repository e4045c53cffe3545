"""Backend selection (auto) and cross-backend determinism of a whole simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from game.app.build import build_sim
from game.backends import choose_backend, make_backend
from game.config import Config, override
from game.errors import BadInput
from game.rules import CONWAY
from tests.helpers import need_gl


@pytest.mark.unit
def test_auto_is_numpy_on_a_software_renderer() -> None:
    from game.glcontext import create_headless_context, is_software_renderer, renderer_info

    try:
        ctx = create_headless_context()
    except BadInput:
        assert choose_backend("auto") == "numpy"  # no GL at all
        return
    software = is_software_renderer(renderer_info(ctx))
    ctx.release()
    assert choose_backend("auto") == ("numpy" if software else "gl")


@pytest.mark.unit
def test_named_backends_resolve_to_themselves() -> None:
    for name in ("numpy", "gl", "reference"):
        assert choose_backend(name) == name
    with pytest.raises(BadInput, match="unknown backend"):
        make_backend("vulkan", CONWAY, (8, 8))


@pytest.mark.hardware
def test_whole_sim_is_identical_on_numpy_and_gl(tmp_path: Path) -> None:
    need_gl()
    logs, lattices, energies = [], [], []
    for backend in ("numpy", "gl"):
        config = override(override(Config(), "lattice.backend", backend), "seed", 4)
        config = override(config, "log.population_every", 5)
        path = tmp_path / f"{backend}.jsonl"
        sim = build_sim(config, events_path=path)
        sim.step(80)
        lattices.append(sim.substrate.alive.copy())
        energies.append(sim.substrate.energy.copy())
        sim.close()
        logs.append(path.read_bytes())
    assert logs[0] == logs[1]
    assert np.array_equal(lattices[0], lattices[1])
    assert np.array_equal(energies[0], energies[1])
