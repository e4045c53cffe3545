"""The detect system in the tick: pattern entities and glider tracks on the 5×5 mesh."""

from __future__ import annotations

from pathlib import Path

import esper
import numpy as np
import pytest

from components.pattern import GliderTrack, Pattern
from game.app.build import build_sim
from game.config import Config, override
from game.engine.commands import StampPattern
from game.engine.events import TrackCrossed, TrackLost
from game.engine.world import Sim
from game.patterns.islands import _unwrap
from tests.helpers import read_events

pytestmark = pytest.mark.unit

GLIDER_SE = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], np.uint8)


def empty_sim(events: Path | None = None, **sets: object) -> Sim:
    """An empty lattice with the census inline every tick (what these tests follow), or ``sets``."""
    config = override(Config(), "lattice.backend", "numpy")
    config = override(config, "lattice.soup_density", 0.0)
    config = override(override(config, "detect.worker", False), "detect.every", 1)
    for key, value in sets.items():
        config = override(config, key.replace("__", "."), value)
    return build_sim(config, events_path=events)


def true_centroid(alive: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(alive)
    h, w = alive.shape
    return float(_unwrap(xs, w).mean()) % w, float(_unwrap(ys, h).mean()) % h


def torus_error(a: float, b: float, size: int) -> float:
    d = abs(a - b) % size
    return min(d, size - d)


def test_glider_track_stays_on_its_glider_for_1000_ticks(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    sim = empty_sim(log)
    sim.post(StampPattern("glider", GLIDER_SE, x=70, y=3))  # near the east seam
    worst = 0.0
    tracks: set[int] = set()
    for _ in range(1000):
        sim.step()
        sim.activate()
        found = esper.get_component(GliderTrack)
        assert len(found) == 1, f"tick {sim.tick}: {len(found)} tracks"
        (_, track), = found
        tracks.add(track.track)
        tx, ty = true_centroid(sim.substrate.alive)
        worst = max(worst, torus_error(track.cx, tx, 80), torus_error(track.cy, ty, 80))
        assert (track.row, track.col) == (int(track.cy) // 16, int(track.cx) // 16)
        assert track.direction == "SE"
    sim.close()
    assert worst <= 1.0
    assert tracks == {1}
    events = read_events(log)
    kinds = [e.kind for e in events]
    assert kinds.count("track_born") == 1 and "track_lost" not in kinds
    crossed = [e for e in events if isinstance(e, TrackCrossed)]
    # 250 cells of diagonal travel over 16-cell tiles: ~15 row and ~15 column borders, seams too.
    assert len(crossed) >= 28
    assert any(e.src[1] == 4 and e.dst[1] == 0 for e in crossed)  # across the east seam
    assert any(e.src[0] == 4 and e.dst[0] == 0 for e in crossed)  # across the south seam


def test_collision_loses_the_tracks(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    sim = empty_sim(log)
    sim.post(StampPattern("glider", GLIDER_SE, x=10, y=10))
    sim.post(StampPattern("block", np.ones((2, 2), np.uint8), x=30, y=30))
    sim.step(120)
    sim.close()
    lost = [e for e in read_events(log) if isinstance(e, TrackLost)]
    assert len(lost) == 1 and lost[0].reason == "collision"
    assert lost[0].tick < 80  # lost when it hits the block, ~ tick 70 (lookahead 4)


def test_still_lifes_keep_their_entities_and_oscillators_advance_phase() -> None:
    sim = empty_sim()
    sim.post(StampPattern("block", np.ones((2, 2), np.uint8), x=5, y=5))
    sim.post(StampPattern("blinker", np.ones((1, 3), np.uint8), x=40, y=40))
    sim.step(3)
    sim.activate()
    before = {e: (p.apgcode, p.born) for e, p in esper.get_component(Pattern)}
    sim.step(10)
    sim.activate()
    after = {e: (p.apgcode, p.born) for e, p in esper.get_component(Pattern)}
    assert before == after
    assert sorted(code or "" for code, _ in after.values()) == ["xp2_7", "xs4_33"]
    blinker = next(p for _, p in esper.get_component(Pattern) if p.apgcode == "xp2_7")
    assert {blinker.phase_at(sim.tick), blinker.phase_at(sim.tick + 1)} == {0, 1}
    sim.close()


def test_detection_can_be_switched_off_and_slowed() -> None:
    sim = empty_sim(detect__enabled=False)
    assert sim.schedule.get("detect") is None
    sim.close()
    sim = empty_sim(detect__every=5)
    assert sim.schedule.get("detect") is not None
    sim.close()


def test_b0_rule_with_detection_is_a_config_error() -> None:
    from game.errors import ConfigError

    with pytest.raises(ConfigError, match="detect.enabled: false"):
        empty_sim(lattice__rule="B036/S23")
    empty_sim(lattice__rule="B036/S23", detect__enabled=False).close()


@pytest.mark.parametrize(("every", "worker"), [(8, False), (16, True), (32, True)])
def test_tracks_survive_a_slow_cadence(tmp_path: Path, every: int, worker: bool) -> None:
    log = tmp_path / "events.jsonl"
    sim = empty_sim(log, detect__every=every, detect__worker=worker)
    sim.post(StampPattern("glider", GLIDER_SE, x=10, y=10))
    sim.step(200)
    sim.close()
    kinds = [e.kind for e in read_events(log)]
    assert kinds.count("track_born") == 1 and "track_lost" not in kinds


@pytest.mark.parametrize("scene",
                         ["ash", "gliders", "collision", "soup", "big ash", "big collision"])
def test_carried_results_equal_a_fresh_census_every_tick(scene: str) -> None:
    """Carrying objects forward and re-examining changed regions only, against a full census."""
    from game.patterns.census import Census

    side = 256 if scene.startswith("big") else 80
    sim = empty_sim(detect__budget=0, mesh__rows=side // 16, mesh__cols=side // 16)
    rng = np.random.default_rng(3)
    if scene in ("ash", "soup", "big ash", "big collision"):
        soup = (rng.random((side, side)) < 0.4).astype(np.uint8)
        from game.backends.bitpacked import BitPackedBackend
        from game.rules import CONWAY

        b = BitPackedBackend(CONWAY, (side, side))
        b.set_cells(soup)
        b.step({"soup": 0, "big ash": 6000, "big collision": 6000}.get(scene, 1500))
        sim.backend.set_cells(b.get_cells())
        np.copyto(sim.substrate.alive, b.get_cells())
        if scene == "big collision":  # gliders flying into the ash from empty spots
            cells = b.get_cells()
            for _ in range(6):
                y, x = (int(v) for v in rng.integers(0, side - 8, size=2))
                if not cells[y : y + 7, x : x + 7].any():
                    sim.post(StampPattern("glider", GLIDER_SE, x=x + 2, y=y + 2))
    else:
        sim.post(StampPattern("glider", GLIDER_SE, x=10, y=10))
        sim.post(StampPattern("lwss", np.array([[0, 1, 1, 1, 1], [1, 0, 0, 0, 1],
                                                [0, 0, 0, 0, 1], [1, 0, 0, 1, 0]], np.uint8),
                              x=40, y=60))
        if scene == "collision":
            sim.post(StampPattern("block", np.ones((2, 2), np.uint8), x=30, y=30))
    detect = sim.schedule.get("detect")
    fresh = Census(sim.rule, horizon=sim.config.detect.lookahead,
                   max_period=sim.config.detect.max_period)
    carried = 0
    for _ in range(150):
        sim.step()
        assert detect is not None
        latest = detect.latest  # type: ignore[attr-defined]
        carried += detect.carried  # type: ignore[attr-defined]
        want = fresh.run(sim.substrate.alive)

        def key(o: object) -> tuple[object, ...]:
            return (o.apgcode or "", o.x, o.y, o.w, o.h, o.phase, round(o.cx, 6),  # type: ignore
                    round(o.cy, 6))  # type: ignore

        assert sorted(map(key, latest.objects())) == sorted(map(key, want.objects()))
    sim.close()
    # Most ticks carry the lattice forward, re-examining only the regions that changed. An
    # active 80x80 soup changes nearly every tile, so it gets full censuses instead: for it
    # only the equality above is checked.
    if scene != "soup":
        assert carried >= {"collision": 30, "big ash": 30, "big collision": 30}.get(scene, 100)
    if scene == "big collision":
        assert detect.census.windows > 10  # type: ignore[union-attr]
