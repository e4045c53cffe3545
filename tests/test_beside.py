"""Work beside the loop joins a later tick deterministically: the census worker and lagged
embeddings give the same answers as the inline paths, at the ticks the config names."""

from __future__ import annotations

from pathlib import Path

import esper
import numpy as np
import pytest

from components.pattern import Pattern
from components.shard import Shard
from game.app.build import build_sim
from game.config import Config
from game.engine.events import Hop, Spawn
from game.paths import ASSETS_DIR
from tests.helpers import numpy_config, read_events

pytestmark = pytest.mark.integration


def _patterns(config: Config, ticks: int) -> list[tuple[str | None, float, float, int]]:
    sim = build_sim(config)
    try:
        sim.step(ticks)
        sim.activate()
        return sorted((p.apgcode, round(p.cx, 3), round(p.cy, 3), p.phase)
                      for _, p in esper.get_component(Pattern))
    finally:
        sim.close()


def test_the_census_worker_sees_what_an_inline_census_sees_at_the_same_tick() -> None:
    # A glider and a blinker: the worker's census of tick 8 joins at tick 12, moved on 4
    # generations; an inline census of tick 12 is the independent answer.
    rle = ASSETS_DIR / "patterns" / "gosper-glider-gun.rle"
    inline = _patterns(numpy_config(lattice__pattern=str(rle), detect__every=4,
                                    detect__worker=False), 12)
    beside = _patterns(numpy_config(lattice__pattern=str(rle), detect__every=4,
                                    detect__worker=True), 12)
    assert beside == inline and inline


def test_a_glider_seen_beside_the_loop_is_where_it_is_now() -> None:
    rle = ASSETS_DIR / "patterns" / "glider.rle"
    for ticks in (8, 16, 40):
        inline = _patterns(numpy_config(lattice__pattern=str(rle), detect__every=4,
                                        detect__worker=False), ticks)
        beside = _patterns(numpy_config(lattice__pattern=str(rle), detect__every=4,
                                        detect__worker=True), ticks)
        assert [code for code, *_ in inline] == ["xq4_153"]
        assert beside == inline, ticks


def test_the_worker_gets_the_lattice_of_the_detect_phase_not_of_the_tick_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Pulses set cells after the detect phase of the same tick (every 4, as the census); the
    # lattice reaches the worker at the end of the tick, but must be the one detect saw.
    from game.patterns.worker import CensusWorker
    from systems.detect import DetectSystem

    seen: list[np.ndarray] = []
    sent: list[np.ndarray] = []
    submit, process = CensusWorker.submit, DetectSystem.process

    def recording_submit(self: CensusWorker, alive: np.ndarray, ahead: int = 0) -> object:
        sent.append(alive.copy())
        return submit(self, alive, ahead)

    def recording_process(self: DetectSystem) -> None:
        process(self)
        if (self.sim.tick + 1) % self.every == 0:
            seen.append(self.sim.substrate.alive.copy())

    monkeypatch.setattr(CensusWorker, "submit", recording_submit)
    monkeypatch.setattr(DetectSystem, "process", recording_process)
    sim = build_sim(numpy_config(lattice__soup_density=0.3, detect__every=4, detect__worker=True,
                                 pulse__enabled=True, pulse__every=4, pulse__lag=0,
                                 pulse__adapter="rule_persist"))
    ends = []
    try:
        for _ in range(12):
            sim.step(1)
            if sim.tick % 4 == 0:
                ends.append(sim.substrate.alive.copy())
    finally:
        sim.close()
    assert len(sent) == len(seen) == 3
    assert all(np.array_equal(a, b) for a, b in zip(sent, seen, strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(sent, ends, strict=True))  # pulses


def test_a_census_worker_that_dies_is_one_clear_error_not_a_hang() -> None:
    from game.patterns.worker import CensusWorker
    from game.rules import CONWAY

    worker = CensusWorker(CONWAY, 4, 64, None)
    try:
        lattice = np.zeros((16, 16), np.uint8)
        lattice[1, 1:4] = 1  # a blinker
        assert [o.apgcode for o in worker.submit(lattice).result().objects()] == ["xp2_7"]
        worker._process.kill()
        worker._process.join()
        with pytest.raises(RuntimeError, match=r"the census worker died \(exit code -9\)"):
            worker.submit(lattice).result()
    finally:
        worker.close()
        worker.close()  # closing twice is harmless


def _run_log(config: Config, path: Path, inject_at: int, ticks: int) -> tuple[bytes, list[int]]:
    """The event log, and the ticks at which the injected shard had a vector."""
    sim = build_sim(config, events_path=path)
    with_vector: list[int] = []
    try:
        sim.step(inject_at)
        sim.inject("a sentence no corpus holds: the lighthouse keeper's cat", (0, 0), (3, 3))
        for _ in range(ticks):
            sim.step(1)
            sim.activate()
            mine = [s for _, s in esper.get_component(Shard) if s.text.startswith("a sentence")]
            if mine and mine[0].vector is not None:
                with_vector.append(sim.tick)
    finally:
        sim.close()
    return path.read_bytes(), with_vector


def test_a_user_text_is_encoded_beside_the_loop_and_joins_lag_ticks_later(
        tmp_path: Path) -> None:
    config = numpy_config(seed=2, traffic__rate=0.5, embed__lag=3, detect__enabled=False)
    a, seen = _run_log(config, tmp_path / "a.jsonl", 5, 8)
    b, _ = _run_log(config, tmp_path / "b.jsonl", 5, 8)
    assert a == b  # however fast the encoder was
    # Spawned in tick 6 (the input system's); its vector joins at tick 6 + 3.
    assert seen and seen[0] == 9
    events = read_events(a)
    user = next(e.shard for e in events if isinstance(e, Spawn) and "lighthouse" in e.text)
    hops = [e.tick for e in events if isinstance(e, Hop) and e.shard == user]
    assert hops and hops[0] >= 9
    same_tick = numpy_config(seed=2, traffic__rate=0.5, embed__lag=0, detect__enabled=False)
    _, seen0 = _run_log(same_tick, tmp_path / "c.jsonl", 5, 8)
    assert seen0[0] == 6  # lag 0: encoded in its own tick


def test_traffic_texts_never_wait_for_the_encoder() -> None:
    # The first encode caches every held-out corpus text: later traffic is all cache hits.
    sim = build_sim(numpy_config(seed=1, traffic__rate=2.0, embed__lag=2, detect__enabled=False))
    try:
        sim.step(3)
        assert sim.net is not None
        misses = sim.net.embedder.misses
        sim.step(60)
        assert sim.net.embedder.misses == misses
        sim.activate()
        assert all(s.vector is not None for _, s in esper.get_component(Shard))
        assert np.isfinite(np.stack([b.profile for b in sim.net.bots.values()
                                     if b.profile is not None])).all()
    finally:
        sim.close()
