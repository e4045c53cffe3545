"""``cybermesh replay``: a logged run with user commands runs again byte for byte, and a log
that differs is reported at its first differing line and tick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from game.app.build import build_sim
from game.app.cli import main
from game.app.replay import replay
from game.config import Config, override
from game.engine.commands import Reseed, StampPattern
from game.engine.events import Input
from game.paths import ASSETS_DIR
from game.rle import read_rle
from tests.helpers import assert_one_line_error, need_gl, read_events


def _logged_run(path: Path, ticks: int = 60) -> Path:
    """A run with every kind of user command, logged to ``path``."""
    config = Config()
    for key, value in (("lattice.backend", "numpy"), ("seed", 11), ("traffic.rate", 1.0),
                       ("pulse.enabled", True), ("pulse.adapter", "rule_persist"),
                       ("pulse.every", 10), ("log.population_every", 7)):
        config = override(config, key, value)
    glider = read_rle(ASSETS_DIR / "patterns" / "glider.rle").cells
    sim = build_sim(config, events_path=path)
    try:
        sim.step(5)
        sim.post(StampPattern("glider", glider, 70, 3))
        sim.inject("a memory of a quiet harbour at dawn", (0, 0), (4, 4))
        sim.step(10)
        sim.start_wave((2, 2), "rule_spark")
        sim.select_adapter((1, 1), None)
        sim.pulse((3, 3))
        sim.step(10)
        sim.post(Reseed(None))  # drawn from the run's rng: replay must draw the same
        sim.post(Reseed(1234))
        sim.step(ticks - 25)
    finally:
        sim.close()
    return path


@pytest.mark.integration
def test_a_run_with_user_commands_replays_byte_for_byte(tmp_path: Path) -> None:
    log = _logged_run(tmp_path / "run.jsonl")
    kinds = [e.command for e in read_events(log) if isinstance(e, Input)]
    assert sorted(kinds) == ["pulse", "reseed", "reseed", "select", "spawn", "stamp", "wave"]
    report = replay(log, "numpy")
    assert report.divergence is None
    assert report.ticks == 60 and report.inputs == 7


@pytest.mark.integration
def test_a_changed_line_is_the_first_divergence(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    log = _logged_run(tmp_path / "run.jsonl", ticks=40)
    lines = log.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"kind":"population"' in line and i > 5)
    event = json.loads(lines[at])
    event["population"] += 1
    lines[at] = json.dumps(event, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n")
    report = replay(log, "numpy")
    assert report.divergence is not None
    assert report.divergence.line == at + 1 and report.divergence.tick == event["tick"]
    assert main(["replay", str(log), "--backend", "numpy", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"first divergence at tick {event['tick']}, line {at + 1}" in out


@pytest.mark.integration
def test_a_killed_run_replays_up_to_its_last_whole_tick(tmp_path: Path) -> None:
    log = _logged_run(tmp_path / "run.jsonl", ticks=40)
    data = log.read_bytes()
    stop = data.rindex(b'{"kind":"stop"')
    cut = data[:stop]
    cut = cut[: len(cut) - 20]  # and the last line cut mid-write
    log.write_bytes(cut)
    assert replay(log, "numpy").divergence is None


@pytest.mark.integration
def test_logs_that_cannot_be_replayed_exit_2_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.jsonl"
    old.write_text('{"kind":"start","tick":0,"seed":1,"rule":"B3/S23","width":8,"height":8,'
                   '"mesh_rows":1,"mesh_cols":1,"tile":8,"population":0}\n')
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json at all\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for path, words in ((old, "carries no config"), (garbage, "not an event"),
                        (empty, "empty event log"), (tmp_path / "missing.jsonl", "missing")):
        code = main(["replay", str(path), "--quiet"])
        assert_one_line_error(code, capsys.readouterr().err, words)


@pytest.mark.hardware
def test_the_replay_runs_on_either_backend(tmp_path: Path) -> None:
    need_gl()
    log = _logged_run(tmp_path / "run.jsonl", ticks=30)
    assert replay(log, "gl").divergence is None
