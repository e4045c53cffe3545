"""Energy trails: wires, deposits, decay, reinforcement, and the semantic router's hints."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from game.config import Config, override
from game.engine.events import Hop, Spawn, Start, encode_event
from game.eventlog import validate
from game.topology import neighbours
from game.trails import Wires


@pytest.mark.unit
def test_every_link_has_a_straight_wire_between_tile_centres() -> None:
    rows, cols, tile = 5, 5, 16
    wires = Wires(rows, cols, tile)
    width = cols * tile
    seen: set[int] = set()
    links = {(min(a, b), max(a, b)) for a in itertools.product(range(rows), range(cols))
             for b in neighbours(a, rows, cols)}
    assert len(links) == 2 * rows * cols
    for a, b in links:
        wire = wires.wire(a, b)
        assert len(wire) == tile - 1
        ys, xs = np.divmod(wire, width)
        assert len(set(ys.tolist())) == 1 or len(set(xs.tolist())) == 1  # straight
        assert not seen & set(wire.tolist())  # links never share a cell
        seen |= set(wire.tolist())
        centres = {(a[0] * tile + 8) * width + a[1] * tile + 8,
                   (b[0] * tile + 8) * width + b[1] * tile + 8}
        assert not centres & set(wire.tolist())


@pytest.mark.unit
def test_levels_match_one_link_at_a_time() -> None:
    wires = Wires(3, 4, 8)
    energy = np.random.default_rng(1).random((24, 32)).astype(np.float32)
    for (a, b), level in wires.levels(energy).items():
        assert level == pytest.approx(wires.level(energy, a, b), rel=1e-6)


@pytest.mark.unit
def test_hints_read_levels_and_onward_trails_like_one_link_at_a_time() -> None:
    from game.routers import Hints

    rows, cols = 3, 4
    wires = Wires(rows, cols, 8)
    energy = np.random.default_rng(2).random((24, 32)).astype(np.float32)
    down = [(2, 3)]
    hints = Hints(wires, energy, down)
    hints.refresh()
    for a in itertools.product(range(rows), range(cols)):
        for n in neighbours(a, rows, cols):
            assert hints.level(a, n) == pytest.approx(wires.level(energy, a, n), rel=1e-5)
            onward = [wires.level(energy, n, m) for m in neighbours(n, rows, cols)
                      if m != a and m not in down]
            assert hints.onward_from(a)[n] == pytest.approx(max(onward, default=0.0), rel=1e-5)
    energy += 1.0  # the next tick: refresh reads the field again
    hints.refresh()
    assert hints.level((0, 0), (0, 1)) == pytest.approx(
        wires.level(energy, (0, 0), (0, 1)), rel=1e-5)


@pytest.mark.unit
def test_hinted_search_passes_a_dead_end_for_the_trail_that_leads_on() -> None:
    """At (2, 2) the strongest link leads into (2, 1), where trails end; (1, 2)'s leads on."""
    from components.shard import Shard
    from game.routers import Hints, SemanticRouter

    rows = cols = 5
    wires = Wires(rows, cols, 16)
    energy = np.zeros((80, 80), np.float32)
    wires.deposit(energy, (2, 2), (2, 1), 4.0)
    for m in ((2, 0), (3, 1), (1, 1)):  # other trails into the sink (2, 1)
        wires.deposit(energy, m, (2, 1), 1.0)
    wires.deposit(energy, (2, 2), (1, 2), 1.0)  # a weaker link, whose trail goes on
    wires.deposit(energy, (1, 2), (0, 2), 2.0)
    rng = np.random.default_rng(3)
    profiles = {}
    for c in itertools.product(range(rows), range(cols)):
        v = rng.standard_normal(8).astype(np.float32)
        profiles[c] = v / np.linalg.norm(v)
    hints = Hints(wires, energy)
    hints.refresh()
    assert hints.level((2, 2), (2, 1)) > hints.level((2, 2), (1, 2))
    assert hints.onward_from((2, 2))[(2, 1)] == pytest.approx(1.0)
    assert hints.onward_from((2, 2))[(1, 2)] == pytest.approx(2.0)
    # confidence above any cosine: no profile in sight matches, so the shard searches
    router = SemanticRouter(rows, cols, [], 1, profiles, confidence=1.1, hints=hints)
    shard = Shard(1, "x", (2, 3), None, 10, vector=profiles[(4, 4)], at=(2, 2),
                  path=[(2, 3), (2, 2)])
    assert router.decide(shard, (2, 2), shard.path) == (1, 2)


@pytest.mark.integration
def test_trails_decay_with_the_field_half_life() -> None:
    from game.bench.routing import watched_sim

    cfg = override(override(Config(), "lattice.soup_density", 0.0), "detect.enabled", False)
    sim, _ = watched_sim(cfg)
    net = sim.net
    assert net is not None and net.wires is not None and net.energy is not None
    net.wires.deposit(net.energy, (1, 1), (1, 2), 3.0)
    for ticks in (0, 20, 40):
        if ticks:
            sim.step(20)
        expected = 3.0 * 0.5 ** (ticks / cfg.energy.half_life)
        assert net.wires.level(net.energy, (1, 1), (1, 2)) == pytest.approx(expected, rel=1e-4)
    sim.close()


@pytest.mark.integration
def test_hops_leave_trails_and_only_good_deliveries_reinforce() -> None:
    from game.bench.routing import watched_sim
    from game.engine.commands import SpawnShard

    cfg = override(override(Config(), "lattice.soup_density", 0.0), "detect.enabled", False)
    cfg = override(cfg, "energy.half_life", 1e6)  # no decay: count deposits exactly
    sim, ledger = watched_sim(cfg)
    net = sim.net
    assert net is not None and net.wires is not None and net.energy is not None
    sim.post(SpawnShard(net.held_out[0], (0, 0), (0, 2)))
    sim.step(4)
    assert ledger.open == 0
    hop, trail = cfg.energy.shard_deposit, cfg.energy.trail_deposit
    falloff = cfg.energy.trail_falloff
    # the last link most, halving back toward the source: the trail rises toward delivery
    for (a, b), back in ((((0, 1), (0, 2)), 0), (((0, 0), (0, 1)), 1)):
        expected = hop + trail * falloff**back
        assert net.wires.level(net.energy, a, b) == pytest.approx(expected, rel=1e-4)
    assert net.wires.level(net.energy, (0, 2), (0, 3)) == 0.0
    # a semantic shard delivered where the bot's own profile does not match it: no trail
    import esper

    from components.shard import Shard

    sim.activate()
    sim.events.listeners.clear()  # these shards were never spawned: keep them off the ledger
    profile = net.bots[(2, 2)].profile
    assert profile is not None
    bad = Shard(99, "x", (2, 1), None, 1, vector=-profile, at=(2, 2), path=[(2, 1), (2, 2)])
    net.deliver(sim.events, 5, esper.create_entity(bad), bad)
    net.flush_trails()
    assert net.wires.level(net.energy, (2, 1), (2, 2)) == 0.0
    good = Shard(98, "x", (2, 1), None, 1, vector=profile, at=(2, 2), path=[(2, 1), (2, 2)])
    net.deliver(sim.events, 5, esper.create_entity(good), good)
    assert net.wires.level(net.energy, (2, 1), (2, 2)) == 0.0  # it waits for the flush
    net.flush_trails()
    assert net.wires.level(net.energy, (2, 1), (2, 2)) == pytest.approx(trail, rel=1e-4)
    sim.close()


@pytest.mark.unit
def test_validator_flags_a_shard_that_revisits_a_bot() -> None:
    start = Start(tick=0, seed=0, rule="B3/S23", width=80, height=80, mesh_rows=5, mesh_cols=5,
                  tile=16, population=0)
    lines = [encode_event(e) for e in (
        start, Spawn(tick=1, shard=1, src=(0, 0), target=None, payload="memory", text="t"),
        Hop(tick=1, shard=1, from_=(0, 0), to=(0, 1)),
        Hop(tick=2, shard=1, from_=(0, 1), to=(0, 0)))]
    problems = validate(lines, allow_in_flight=True).problems
    assert any("revisits [0,0]" in p.message for p in problems)


@pytest.mark.integration
def test_hints_on_skewed_traffic_no_loops_no_deadlock_and_better_matches() -> None:
    from game.bench.energy import run_pair

    cfg = override(override(Config(), "detect.enabled", False), "route.horizon", 1)
    off, on = run_pair(cfg, 0.8, 600, 2.0)
    for r in (off, on):
        assert r["loops"] == 0 and r["log_problems"] == 0 and r["unended"] == 0
        assert r["shards"] == 600
    assert on["to_most_similar"] > off["to_most_similar"]
    assert on["hops_mean"] < 0.95 * off["hops_mean"]  # the full gate (10 %) is the benchmark's
