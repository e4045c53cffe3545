"""Shards riding gliders: boarding, handoffs, fallbacks, tracking against the lattice."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from game.bench.glider import glider_config, ride
from game.bench.routing import watched_sim
from game.config import Config, override
from game.engine.commands import SpawnShard, StampPattern
from game.engine.events import Alight, Board, Handoff
from game.errors import BadInput
from game.eventlog import validate
from systems.glider import GliderSystem, find_spots, true_centroid, true_centroids
from tests.gate_limits import limit, soak_growth
from tests.helpers import read_events


def cfg(density: float = 0.0, **kw: object) -> Config:
    c = glider_config(Config(), argparse.Namespace(), density)
    for key, value in kw.items():
        c = override(c, key.replace("__", "."), value)
    return c


@pytest.mark.integration
def test_shards_ride_gliders_on_an_empty_lattice(tmp_path: Path) -> None:
    log = tmp_path / "g.jsonl"
    r = ride(cfg(), 16, 0, str(log))
    assert r["delivery_rate"] == 1.0
    assert r["boards"] >= 8 and r["handoffs"] >= 8
    assert r["tracking"]["samples"] > 100
    assert r["tracking"]["within_2_5"] >= 0.99
    report = validate(log.read_bytes().splitlines())
    assert report.ok, report.problems[:3]
    kinds = report.kinds
    assert kinds["board"] == r["boards"] and kinds["handoff"] == r["handoffs"]


@pytest.mark.integration
def test_a_glider_heads_for_the_target_and_hands_over_tile_by_tile(tmp_path: Path) -> None:
    log = tmp_path / "one.jsonl"
    sim, ledger = watched_sim(cfg(), str(log))
    sim.post(SpawnShard("A glider carries this memory.", (0, 0), (2, 2)))
    sim.step()
    while ledger.open:
        sim.step()
    sim.close()
    evs = read_events(log)
    (board,) = [e for e in evs if isinstance(e, Board)]
    assert board.direction == "SE" and board.at == (0, 0)
    handoffs = [e for e in evs if isinstance(e, Handoff)]
    assert handoffs, "the glider never carried the shard"
    for h in handoffs:  # every handoff moves toward the target, never away
        assert abs(2 - h.to[0]) + abs(2 - h.to[1]) < abs(2 - h.from_[0]) + abs(2 - h.from_[1])
    (rec,) = ledger.shards.values()
    assert rec.end == "delivered" and rec.at == (2, 2) and rec.hops == 4


@pytest.mark.integration
def test_a_shard_whose_glider_dies_is_still_delivered(tmp_path: Path) -> None:
    log = tmp_path / "crash.jsonl"
    sim, ledger = watched_sim(cfg(), str(log))
    sim.post(SpawnShard("This glider will hit a block.", (0, 0), (2, 2)))
    glider = sim.schedule.get("glider")
    assert isinstance(glider, GliderSystem)
    sim.step()
    while not glider.riding:
        sim.step()
    (eid,) = glider.riding
    import esper

    from components.shard import Shard

    sim.activate()
    shard = esper.component_for_entity(eid, Shard)
    # a block on the glider's diagonal (it heads SE), a few cells ahead
    x, y = int(shard.x) + 6, int(shard.y) + 6
    sim.post(StampPattern("block", np.ones((2, 2), np.uint8), x=x, y=y))
    while ledger.open:
        sim.step()
    sim.close()
    alights = [e for e in read_events(log) if isinstance(e, Alight)]
    assert any(a.reason == "track_lost" for a in alights)
    (rec,) = ledger.shards.values()
    assert rec.end == "delivered" and rec.at == (2, 2)
    assert validate(log.read_bytes().splitlines()).ok


@pytest.mark.integration
def test_gliders_stamped_in_one_tile_at_once_keep_apart() -> None:
    sim, ledger = watched_sim(cfg())
    for i in range(3):
        sim.post(SpawnShard(f"memory {i}", (0, 0), (2, 2)))
    glider = sim.schedule.get("glider")
    assert isinstance(glider, GliderSystem)
    sim.step()
    spots = [(f.x, f.y) for f in glider.stamped.values()]  # their 3×3 boxes
    assert len(spots) >= 2  # searched together, stamped one after the other
    for i, (ax, ay) in enumerate(spots):  # each search saw the gliders stamped before it
        assert all(max(abs(ax - bx), abs(ay - by)) >= 5 for bx, by in spots[:i])
    while ledger.open:
        sim.step()
    sim.close()
    assert glider.boards == 3
    assert all(rec.end == "delivered" for rec in ledger.shards.values())


@pytest.mark.integration
def test_on_ash_gliders_fall_back_to_links_and_nothing_is_lost() -> None:
    r = ride(cfg(0.35), 24, 600)
    assert r["delivery_rate"] == 1.0
    assert sum(r["alights"].get(k, 0) for k in ("track_lost", "no_track", "no_room")) > 0


@pytest.mark.integration
def test_mixed_transport_rides_only_long_diagonal_legs(tmp_path: Path) -> None:
    log = tmp_path / "mixed.jsonl"
    sim, ledger = watched_sim(cfg(route__transport="mixed", route__glider_min_leg=4), str(log))
    sim.post(SpawnShard("short leg", (0, 0), (1, 1)))  # 2 hops: by link
    sim.post(SpawnShard("long leg", (0, 0), (2, 2)))  # 4 hops: by glider
    sim.step()
    while ledger.open:
        sim.step()
    sim.close()
    boards = [e for e in read_events(log) if isinstance(e, Board)]
    assert [b.shard for b in boards] == [2]


@pytest.mark.integration
@pytest.mark.parametrize("detect", ["off", "worker every 8"])
def test_glider_transport_follows_its_own_gliders_without_a_census(detect: str) -> None:
    """The glider system reads its gliders' windows itself: detection may be off or slow."""
    c = override(cfg(), "detect.enabled", False) if detect == "off" else override(
        override(cfg(), "detect.worker", True), "detect.every", 8)
    r = ride(c, 16, 0)
    assert r["delivery_rate"] == 1.0
    assert r["boards"] >= 8 and r["handoffs"] >= 8 and not r["alights"].get("no_track")
    assert r["tracking"]["within_2_5"] >= 0.99


@pytest.mark.integration
def test_a_rule_without_gliders_refuses_glider_transport() -> None:
    with pytest.raises(BadInput, match="a glider does not fly"):
        watched_sim(override(cfg(), "lattice.rule", "B36/S125"))


@pytest.mark.integration
def test_flights_come_from_stepping_a_glider() -> None:
    """Each heading's four phases: a glider stepped four times is itself one cell on."""
    from game.backends.reference import reference_step
    from game.rules import CONWAY
    from systems.glider import GLIDER_SE, flight_phases

    for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        phases = flight_phases(sx, sy)
        assert phases is not None
        windows, moves, _ = phases
        assert tuple(moves.sum(axis=0)) == (sy, sx)
        cells = np.zeros((10, 10), np.uint8)
        cells[3:6, 3:6] = GLIDER_SE[::sy, ::sx]
        y, x = 3, 3
        for k in range(8):
            assert np.array_equal(cells[y - 1:y + 4, x - 1:x + 4], windows[k % 4])
            assert cells.sum() == 5
            cells = reference_step(cells, CONWAY)
            y, x = y + moves[k % 4, 0], x + moves[k % 4, 1]


@pytest.mark.integration
def test_no_room_in_a_full_tile_means_link_transport() -> None:
    glider_cfg = cfg()
    sim, ledger = watched_sim(glider_cfg)
    full = np.zeros(sim.shape, np.uint8)
    for y in range(0, 16, 4):  # blocks every 4 cells: a still life with no empty 7x7 window
        for x in range(0, 16, 4):
            full[y + 1 : y + 3, x + 1 : x + 3] = 1
    sim.backend.set_cells(full)
    np.copyto(sim.substrate.alive, full)
    sim.post(SpawnShard("no room to stamp", (0, 0), (2, 2)))
    sim.step()
    glider = sim.schedule.get("glider")
    assert isinstance(glider, GliderSystem)
    assert glider.alights.get("no_room") == 1
    while ledger.open:
        sim.step()
    sim.close()
    (rec,) = ledger.shards.values()
    assert rec.end == "delivered"


@pytest.mark.integration
def test_true_centroid_reads_the_lattice_across_the_seam() -> None:
    alive = np.zeros((16, 16), np.uint8)
    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)
    ys, xs = np.arange(-1, 2) % 16, np.arange(-1, 2) % 16
    alive[np.ix_(ys, xs)] = glider  # straddles both seams
    cx, cy = true_centroid(alive, 0.0, 0.0) or (-1.0, -1.0)
    # cells at (x, y) = (0,-1), (1,0), (-1,1), (0,1), (1,1): centroid (0.2, 0.4)
    assert cx == pytest.approx(0.2) and cy == pytest.approx(0.4)


@pytest.mark.unit
def test_true_centroids_are_true_centroid_point_by_point() -> None:
    rng = np.random.default_rng(5)
    alive = (rng.random((24, 40)) < 0.2).astype(np.uint8)
    alive[10:15, 20:25] = 0  # one empty window
    x = np.array([0.0, 39.5, 22.0, 2.5, 17.3, -1.5])
    y = np.array([0.0, 23.5, 12.0, 7.5, 30.1, 3.0])
    cx, cy, found = true_centroids(alive, x, y)
    for i in range(len(x)):
        one = true_centroid(alive, float(x[i]), float(y[i]))
        assert one == ((float(cx[i]), float(cy[i])) if found[i] else None)
    assert not found[2] and found.sum() == len(x) - 1


@pytest.mark.unit
def test_find_spots_in_many_tiles_at_once_as_one_by_one() -> None:
    rng = np.random.default_rng(3)
    cells = (rng.random((48, 64)) < 0.01).astype(np.uint8)
    ats = [(r, c) for r in range(3) for c in range(4)] * 2
    sx, sy = np.array([1, -1] * 12), np.array([1, 1, -1, -1] * 6)
    together = find_spots(cells, 16, ats, sx, sy)
    alone = [find_spots(cells, 16, [at], sx[i:i + 1], sy[i:i + 1])[0] for i, at in enumerate(ats)]
    assert together == alone
    for at, spot in zip(ats, together, strict=True):
        assert spot is not None
        y, x = spot
        assert at == (y // 16, x // 16) == ((y + 2) // 16, (x + 2) // 16)  # inside its tile
        assert not cells[np.ix_(np.arange(y - 2, y + 5) % 48, np.arange(x - 2, x + 5) % 64)].any()


@pytest.mark.unit
def test_find_spots_keeps_the_lane_ahead_clear() -> None:
    cells = np.zeros((48, 48), np.uint8)
    one = np.array([1])
    assert find_spots(cells, 16, [(1, 1)], one, one) == [(22, 22)]  # nearest the centre
    cells[28, 28] = 1  # 5 cells down the SE lane of that spot's centre (23, 23)
    assert find_spots(cells, 16, [(1, 1)], -one, -one) == [(22, 22)]
    (spot,) = find_spots(cells, 16, [(1, 1)], one, one)
    assert spot is not None and spot != (22, 22)
    cells[16:32, 16:32] = 1
    assert find_spots(cells, 16, [(1, 1)], one, one) == [None]


@pytest.mark.unit
def test_validator_checks_glider_events() -> None:
    from game.engine.events import Delivered, Hop, Spawn, Start, encode_event

    def log(*more: object) -> list[bytes]:
        start = Start(tick=0, seed=0, rule="B3/S23", width=80, height=80, mesh_rows=5,
                      mesh_cols=5, tile=16, population=0)
        spawn = Spawn(tick=1, shard=1, src=(0, 0), target=(2, 2), payload="memory", text="t")
        return [encode_event(e) for e in (start, spawn, *more)]  # type: ignore[arg-type]

    board = Board(tick=2, shard=1, at=(0, 0), track=1, direction="SE", x=6.8, y=6.2)
    good = log(board, Handoff(tick=20, shard=1, from_=(0, 0), to=(1, 0), track=1),
               Handoff(tick=30, shard=1, from_=(1, 0), to=(2, 1), track=1),  # past a down bot
               Alight(tick=31, shard=1, at=(2, 1), track=1, reason="aligned"),
               Hop(tick=32, shard=1, from_=(2, 1), to=(2, 2)),
               Delivered(tick=32, shard=1, at=(2, 2), hops=3, latency=32))
    assert not validate(good).problems
    far = log(board, Handoff(tick=20, shard=1, from_=(0, 0), to=(2, 1), track=1))
    assert any("3 hops" in p.message for p in validate(far, allow_in_flight=True).problems)
    odd = log(board, Alight(tick=3, shard=1, at=(0, 0), track=1, reason="tired"))
    assert any("unknown alight reason" in p.message
               for p in validate(odd, allow_in_flight=True).problems)
    wrong = log(Board(tick=2, shard=1, at=(1, 1), track=1, direction="SE", x=1.0, y=1.0))
    assert any("but the shard is at" in p.message
               for p in validate(wrong, allow_in_flight=True).problems)


@pytest.mark.integration
def test_full_integration_soak_runs_every_system_without_error(tmp_path: Path) -> None:
    """S7 on a short run of the bench's soak (every tier, pulses included): no error, a valid
    log, no shard leaked, peak RSS and RSS growth after the warm-up within the gate's limits,
    by the end point and by the trend. Twelve seconds cannot show ten minutes (the bench's
    ``full --soak 600`` does); they do catch memory that grows with the ticks."""
    from game.bench.full import full_config
    from game.bench.routing import soak

    log = tmp_path / "events.jsonl"
    cfg = full_config(Config(), argparse.Namespace(soak=12.0))
    # 1,000 untimed ticks first: the first tick encodes every bot's memories, and the bounded
    # caches fill; the soak's own warm-up (its first third) follows.
    r = soak(cfg, 12.0, lambda _: None, events=str(log), mirror=True, warmup=1000)
    assert r["error"] is None and r["warmup_ticks"] == 1000
    with log.open("rb") as lines:
        assert validate(lines, allow_in_flight=True).problem_count == 0
    assert set(r["system_ms"]) >= {"ca", "detect", "energy", "embed", "route", "glider", "pulse",
                                   "log", "mirror"}
    assert r["shards"]["spawned"] > 0 and r["shards"].get("delivered", 0) > 0
    assert r["shard_entities_at_end"] == r["shards"]["in_flight"]  # nothing leaks
    assert r["rss_peak_mb"] <= limit("S7", "result.rss_peak_mb")
    end, trend, samples = soak_growth(r)
    assert samples >= 5, r["rss_samples"]
    gate = limit("S7", "result.rss_growth_pct")
    assert end <= gate and trend <= gate, (end, trend, r["rss_samples"])
