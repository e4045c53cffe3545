"""The ECS engine: tick order, mesh-cell views, commands, determinism of the event log."""

from __future__ import annotations

from pathlib import Path

import esper
import numpy as np
import pytest

from components.mesh import MeshCell, TileStats
from game.app.build import build_sim
from game.backends.reference import reference_step
from game.engine.commands import Reseed, StampPattern
from game.engine.schedule import TICK_ORDER
from game.rules import CONWAY
from tests.helpers import numpy_config, read_events

pytestmark = pytest.mark.unit


def test_systems_run_in_the_written_tick_order() -> None:
    sim = build_sim(numpy_config(), mirror=True)
    phases = [s.phase for s in sim.schedule.systems()]
    assert phases == [p for p in TICK_ORDER if p in phases]
    assert phases[:2] == ["input", "ca"] and phases[-1] == "mirror"
    sim.step()
    assert set(sim.schedule.last_ms) == set(phases)
    sim.close()


def test_tick_advances_lattice_like_the_reference() -> None:
    sim = build_sim(numpy_config())
    ref = sim.substrate.alive.copy()
    for _ in range(30):
        sim.step()
        ref = reference_step(ref, CONWAY)
    assert np.array_equal(sim.substrate.alive, ref)
    assert sim.tick == 30
    sim.close()


def test_mesh_cells_are_entities_holding_views_of_their_tiles() -> None:
    sim = build_sim(numpy_config(mesh__rows=3, mesh__cols=4, mesh__tile=8))
    sim.step(3)
    sim.activate()
    cells = esper.get_components(MeshCell, TileStats)
    assert len(cells) == 12
    for _, (cell, stats) in cells:
        tile = sim.substrate.alive[cell.y0 : cell.y0 + 8, cell.x0 : cell.x0 + 8]
        assert np.shares_memory(cell.alive, sim.substrate.alive)
        assert np.array_equal(cell.alive, tile)
        assert stats.population == int(tile.sum())
    assert sum(s.population for _, (_, s) in cells) == sim.population()
    sim.close()


def test_stamp_and_reseed_commands_apply_at_the_next_tick(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    sim = build_sim(numpy_config(lattice__soup_density=0.0), events_path=log)
    block = np.ones((2, 2), np.uint8)
    sim.post(StampPattern("block", block, x=79, y=79))  # wraps across both seams
    sim.step()
    alive = sim.substrate.alive
    assert alive[79, 79] and alive[0, 0] and alive[79, 0] and alive[0, 79]
    assert sim.population() == 4
    sim.post(Reseed(seed=5))
    sim.step()
    sim.close()
    kinds = [e.kind for e in read_events(log)]
    assert kinds == ["start", "input", "stamp", "input", "reseed", "stop"]  # each input logged


def run_log(tmp_path: Path, name: str, seed: int) -> bytes:
    path = tmp_path / name
    sim = build_sim(numpy_config(seed=seed, log__population_every=10), events_path=path)
    sim.post(Reseed())  # seed drawn from the run's rng: still deterministic
    sim.step(120)
    sim.close()
    return path.read_bytes()


def test_same_seed_same_event_log_bytes(tmp_path: Path) -> None:
    a = run_log(tmp_path, "a.jsonl", 11)
    b = run_log(tmp_path, "b.jsonl", 11)
    c = run_log(tmp_path, "c.jsonl", 12)
    assert a == b
    assert a != c
    events = read_events(a)
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["start", "input", "reseed"] and kinds[-1] == "stop"
    assert kinds.count("population") == 12
    assert "track_born" in kinds  # gliders leave the soup: the detect system logs them
    assert [e.tick for e in events] == sorted(e.tick for e in events)


def test_event_log_to_unwritable_path_is_bad_input(tmp_path: Path) -> None:
    from game.errors import BadInput

    with pytest.raises(BadInput, match="cannot write the event log"):
        build_sim(numpy_config(), events_path=tmp_path / "no" / "such" / "dir.jsonl")
