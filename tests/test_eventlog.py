"""Event-log checks: validate and replay_matches on hand-written logs, and their CLIs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from game.engine.events import (
    Delivered,
    Dropped,
    Event,
    Expired,
    Hop,
    Population,
    Retry,
    Spawn,
    Start,
    Stop,
    encode_event,
)
from game.eventlog import Report, are_neighbours, replay_matches, validate
from tests.helpers import assert_cli_fails_in_one_line

ROOT = Path(__file__).resolve().parent.parent
VALIDATE = ROOT / "scripts" / "validate_event_logs.py"
COMPRESSION = ROOT / "scripts" / "check_compression_ratio.py"


def start(rows: int = 5, cols: int = 5) -> Start:
    return Start(tick=0, seed=0, rule="B3/S23", width=80, height=80, mesh_rows=rows,
                 mesh_cols=cols, tile=16, population=100)


def spawn(tick: int, shard: int, src: tuple[int, int],
          target: tuple[int, int] | None = None) -> Spawn:
    return Spawn(tick=tick, shard=shard, src=src, target=target, payload="p", text="hello")


def hop(tick: int, shard: int, a: tuple[int, int], b: tuple[int, int]) -> Hop:
    return Hop(tick=tick, shard=shard, from_=a, to=b)


def lines(*events: Event) -> list[bytes]:
    return [encode_event(e) + b"\n" for e in events]


def full_lifecycle() -> list[Event]:
    """Three shards: delivered after a retry, expired, dropped; then stop."""
    return [
        start(),
        spawn(1, 1, (0, 0), (0, 2)),
        spawn(1, 2, (2, 2)),
        spawn(1, 3, (4, 4), (1, 1)),
        hop(2, 1, (0, 0), (0, 1)),
        Retry(tick=2, shard=2, from_=(2, 2), to=(3, 2), attempt=1),
        Retry(tick=3, shard=2, from_=(2, 2), to=(3, 2), attempt=2),
        hop(3, 1, (0, 1), (0, 2)),
        Delivered(tick=3, shard=1, at=(0, 2), hops=2, latency=3),
        hop(4, 2, (2, 2), (3, 2)),
        Retry(tick=4, shard=2, from_=(3, 2), to=(4, 2), attempt=1),
        Population(tick=5, population=90),
        Expired(tick=5, shard=2, at=(3, 2), hops=1),
        Dropped(tick=5, shard=3, at=(4, 4), reason="no_route"),
        Stop(tick=6, population=90),
    ]


def messages(report: Report) -> list[str]:
    return [f"{p.line}: {p.message}" for p in report.problems]


def one_problem(report: Report, *needles: str) -> str:
    """The report's only problem, which must mention every needle."""
    assert report.problem_count == 1, messages(report)
    text = messages(report)[0]
    for needle in needles:
        assert needle in text, text
    return text


@pytest.mark.unit
def test_valid_full_lifecycle() -> None:
    report = validate(lines(*full_lifecycle()), allow_in_flight=False)
    assert report.ok, messages(report)
    assert report.lines == 15
    assert report.kinds == {"start": 1, "spawn": 3, "hop": 3, "retry": 3, "delivered": 1,
                            "population": 1, "expired": 1, "dropped": 1, "stop": 1}
    assert (report.spawned, report.delivered, report.expired) == (3, 1, 1)
    assert report.dropped == {"no_route": 1}
    assert report.in_flight == 0
    assert report.mean_latency == 3
    summary = report.summary()
    assert "3 spawned" in summary and "no_route 1" in summary


@pytest.mark.unit
def test_lines_without_newlines_are_accepted() -> None:
    report = validate([encode_event(e) for e in full_lifecycle()], allow_in_flight=False)
    assert report.ok, messages(report)


@pytest.mark.unit
def test_torus_wrap_neighbours_accepted() -> None:
    events = [start(), spawn(1, 1, (0, 4)), hop(2, 1, (0, 4), (0, 0)), hop(3, 1, (0, 0), (4, 0)),
              Expired(tick=3, shard=1, at=(4, 0), hops=2)]
    report = validate(lines(*events), allow_in_flight=False)
    assert report.ok, messages(report)


@pytest.mark.unit
def test_are_neighbours_edge_cases() -> None:
    assert are_neighbours((0, 4), (0, 0), 5, 5)
    assert are_neighbours((4, 1), (0, 1), 5, 5)
    assert not are_neighbours((0, 0), (1, 1), 5, 5)  # diagonal
    assert not are_neighbours((0, 0), (0, 2), 5, 5)
    assert not are_neighbours((0, 0), (0, 0), 5, 5)
    assert are_neighbours((0, 0), (0, 1), 1, 2)  # 2-wide: one neighbour both ways
    assert are_neighbours((0, 1), (0, 0), 1, 2)
    assert not are_neighbours((0, 0), (1, 0), 1, 2)  # 1-high: no vertical links
    assert not are_neighbours((0, 0), (0, 0), 1, 1)


@pytest.mark.unit
def test_non_neighbour_hop() -> None:
    events = [start(), spawn(1, 1, (0, 0)), hop(2, 1, (0, 0), (1, 1)),
              Expired(tick=2, shard=1, at=(1, 1), hops=1)]
    text = one_problem(validate(lines(*events), allow_in_flight=False), "not neighbours")
    assert text.startswith("3: ")


@pytest.mark.unit
def test_hop_along_a_one_wide_dimension() -> None:
    events = [start(1, 5), spawn(1, 1, (0, 0)), hop(2, 1, (0, 0), (0, 1)),
              hop(3, 1, (0, 1), (0, 1)), Expired(tick=3, shard=1, at=(0, 1), hops=2)]
    one_problem(validate(lines(*events), allow_in_flight=False), "4: ", "not neighbours")


@pytest.mark.unit
def test_hop_outside_the_mesh() -> None:
    events = [start(), spawn(1, 1, (0, 4)), hop(2, 1, (0, 4), (0, 5)),
              Expired(tick=2, shard=1, at=(0, 5), hops=1)]
    report = validate(lines(*events), allow_in_flight=False)
    assert any("outside the 5x5 mesh" in m for m in messages(report)), messages(report)


@pytest.mark.unit
def test_hop_from_wrong_position() -> None:
    events = [start(), spawn(1, 1, (0, 0)), hop(2, 1, (1, 0), (2, 0)),
              Expired(tick=2, shard=1, at=(2, 0), hops=1)]
    one_problem(validate(lines(*events), allow_in_flight=False),
                "3: ", "from [1,0], but the shard is at [0,0]")


@pytest.mark.unit
def test_retry_from_wrong_position_and_attempts() -> None:
    events = [start(), spawn(1, 1, (0, 0)),
              Retry(tick=2, shard=1, from_=(0, 0), to=(0, 1), attempt=1),
              Retry(tick=3, shard=1, from_=(0, 0), to=(0, 1), attempt=3),
              hop(4, 1, (0, 0), (0, 1)),
              Retry(tick=5, shard=1, from_=(0, 0), to=(0, 1), attempt=1),
              Dropped(tick=6, shard=1, at=(0, 1), reason="link_lost")]
    report = validate(lines(*events), allow_in_flight=False)
    assert messages(report) == [
        "4: retry: shard 1: attempt 3, expected 2",
        "6: retry: shard 1: from [0,0], but the shard is at [0,1]",
    ]


@pytest.mark.unit
def test_two_terminals() -> None:
    events = [start(), spawn(1, 1, (0, 0)), Expired(tick=2, shard=1, at=(0, 0), hops=0),
              Dropped(tick=3, shard=1, at=(0, 0), reason="stalled")]
    one_problem(validate(lines(*events), allow_in_flight=False),
                "4: ", "second terminal event for shard 1")


@pytest.mark.unit
def test_event_after_terminal() -> None:
    events = [start(), spawn(1, 1, (0, 0)), Expired(tick=2, shard=1, at=(0, 0), hops=0),
              hop(3, 1, (0, 0), (0, 1))]
    one_problem(validate(lines(*events), allow_in_flight=False),
                "4: ", "hop: shard 1 after its terminal event")


@pytest.mark.unit
def test_event_of_unknown_shard() -> None:
    events = [start(), hop(3, 7, (0, 0), (0, 1))]
    one_problem(validate(lines(*events), allow_in_flight=False), "2: ", "never spawned")


@pytest.mark.unit
def test_missing_terminal_and_allow_in_flight() -> None:
    events = [start(), spawn(1, 1, (0, 0)), spawn(1, 2, (1, 1)), hop(2, 1, (0, 0), (0, 1)),
              Dropped(tick=2, shard=2, at=(1, 1), reason="inbox_full"), Stop(tick=2, population=1)]
    report = validate(lines(*events), allow_in_flight=False)
    one_problem(report, "2: ", "shard 1 (spawned here) has no terminal event")
    assert report.in_flight == 1
    relaxed = validate(lines(*events), allow_in_flight=True)
    assert relaxed.ok, messages(relaxed)
    assert relaxed.in_flight == 1
    assert "1 in flight" in relaxed.summary()


@pytest.mark.unit
def test_wrong_hops_count() -> None:
    events = [start(), spawn(1, 1, (0, 0)), hop(2, 1, (0, 0), (0, 1)),
              Expired(tick=3, shard=1, at=(0, 1), hops=2)]
    one_problem(validate(lines(*events), allow_in_flight=False),
                "4: ", "hops 2, but it made 1 hops")


@pytest.mark.unit
def test_wrong_latency() -> None:
    events = [start(), spawn(3, 1, (0, 0), (0, 1)), hop(4, 1, (0, 0), (0, 1)),
              Delivered(tick=4, shard=1, at=(0, 1), hops=1, latency=1)]
    one_problem(validate(lines(*events), allow_in_flight=False),
                "4: ", "latency 1, expected 2")


@pytest.mark.unit
def test_delivered_not_at_target() -> None:
    events = [start(), spawn(1, 1, (0, 0), (2, 2)), hop(2, 1, (0, 0), (0, 1)),
              Delivered(tick=2, shard=1, at=(0, 1), hops=1, latency=2)]
    one_problem(validate(lines(*events), allow_in_flight=False),
                "4: ", "not at its target [2,2]")


@pytest.mark.unit
def test_delivered_without_target_anywhere() -> None:
    events = [start(), spawn(1, 1, (0, 0)), hop(2, 1, (0, 0), (0, 1)),
              Delivered(tick=2, shard=1, at=(0, 1), hops=1, latency=2)]
    report = validate(lines(*events), allow_in_flight=False)
    assert report.ok, messages(report)


@pytest.mark.unit
def test_terminal_not_at_current_position() -> None:
    events = [start(), spawn(1, 1, (0, 0)), Dropped(tick=2, shard=1, at=(3, 3), reason="stalled")]
    one_problem(validate(lines(*events), allow_in_flight=False),
                "3: ", "at [3,3], but the shard is at [0,0]")


@pytest.mark.unit
def test_unknown_drop_reason() -> None:
    events = [start(), spawn(1, 1, (0, 0)), Dropped(tick=2, shard=1, at=(0, 0), reason="bored")]
    report = validate(lines(*events), allow_in_flight=False)
    one_problem(report, "3: ", "unknown drop reason 'bored'")
    assert report.dropped == {"bored": 1}


@pytest.mark.unit
def test_decreasing_tick() -> None:
    events = [start(), Population(tick=5, population=1), Population(tick=4, population=1)]
    one_problem(validate(lines(*events), allow_in_flight=False), "3: ", "tick 4 after tick 5")


@pytest.mark.unit
def test_undecodable_lines() -> None:
    good = lines(start())
    bad = [b'{"kind":"hop","shard":1,"from":[0,0],"to":[1],"tick":5}\n', b"{not json\n",
           b'{"kind":"teleport","tick":1}\n', b"\n"]
    report = validate(good + bad, allow_in_flight=False)
    got = messages(report)
    assert len(got) == 4, got
    assert got[0] == "2: cannot decode: Expected `array` of length 2 - at `$.to`"
    assert got[1].startswith("3: cannot decode: ")
    assert got[2].startswith("4: cannot decode: ") and "teleport" in got[2]
    assert got[3] == "5: blank line"
    assert all("\n" not in m for m in got)


@pytest.mark.unit
def test_duplicate_spawn() -> None:
    events = [start(), spawn(1, 1, (0, 0)), Expired(tick=2, shard=1, at=(0, 0), hops=0),
              spawn(3, 1, (1, 1)), spawn(3, 2, (1, 1)), spawn(3, 2, (1, 1)),
              Dropped(tick=4, shard=2, at=(1, 1), reason="src_down")]
    report = validate(lines(*events), allow_in_flight=False)
    assert messages(report) == ["4: spawn: shard 1 was already spawned",
                                "6: spawn: shard 2 was already spawned"]


@pytest.mark.unit
def test_many_spawned_ids_out_of_order() -> None:
    ids = [5, 3, 4, 1, 2, 9, 7, 8, 6, 100]
    events: list[Event] = [start()]
    events += [spawn(1, i, (0, 0)) for i in ids]
    events += [Dropped(tick=2, shard=i, at=(0, 0), reason="target_down") for i in ids]
    events += [spawn(3, i, (0, 0)) for i in (1, 6, 100, 101)]
    report = validate(lines(*events), allow_in_flight=True)
    assert [p.message for p in report.problems] == [
        f"spawn: shard {i} was already spawned" for i in (1, 6, 100)]


@pytest.mark.unit
def test_start_and_stop_placement() -> None:
    pop = Population(tick=0, population=1)
    report = validate(lines(pop, start(), start(), Stop(tick=1, population=1),
                            Population(tick=1, population=1)), allow_in_flight=False)
    assert messages(report) == [
        "1: the first event is population, not start",
        "3: a second start event (the first is on line 2)",
        "5: population after the stop event of line 4",
    ]
    nonzero = Start(tick=3, seed=0, rule="B3/S23", width=8, height=8, mesh_rows=1,
                    mesh_cols=1, tile=8, population=0)
    one_problem(validate(lines(nonzero), allow_in_flight=False), "start: tick 3, not 0")
    one_problem(validate([], allow_in_flight=False), "1: no start event")


@pytest.mark.unit
def test_kind_must_be_first_key() -> None:
    raw = json.dumps({"tick": 0, "kind": "population", "population": 3}).encode()
    report = validate(lines(start()) + [raw], allow_in_flight=False)
    one_problem(report, "2: ", "'kind' is not the first key")


# -- replay ---------------------------------------------------------------------------------------


def dumps_for(events: list[Event], ticks: range) -> list[bytes]:
    """State dumps computed independently from the events (hop counts and positions)."""
    out = []
    for t in ticks:
        alive: dict[int, list[int]] = {}
        for e in events:
            if e.tick > t:
                continue
            if isinstance(e, Spawn):
                alive[e.shard] = [e.shard, e.src[0], e.src[1], 0]
            elif isinstance(e, Hop):
                alive[e.shard] = [e.shard, e.to[0], e.to[1], alive[e.shard][3] + 1]
            elif isinstance(e, Delivered | Expired | Dropped):
                del alive[e.shard]
        bots = [[r, c, "idle", 0] for r in range(5) for c in range(5)]
        shards = [alive[k] for k in sorted(alive)]
        out.append(json.dumps({"tick": t, "shards": shards, "bots": bots}).encode() + b"\n")
    return out


@pytest.mark.unit
def test_replay_matches() -> None:
    events = full_lifecycle()
    report = replay_matches(dumps_for(events, range(0, 7)), lines(*events))
    assert report.ok, messages(report)
    assert report.dumps == 7
    assert report.spawned == 3


@pytest.mark.unit
def test_replay_detects_mismatch() -> None:
    events = full_lifecycle()
    dumps = dumps_for(events, range(0, 7))
    tampered = json.loads(dumps[2])
    tampered["shards"][0] = [1, 0, 2, 1]  # shard 1 is at [0,1] with 1 hop at tick 2
    dumps[2] = json.dumps(tampered).encode()
    report = replay_matches(dumps, lines(*events))
    assert report.problem_count == 1, messages(report)
    problem = report.problems[0]
    assert problem.stream == "dumps" and problem.line == 3
    assert "tick 2" in problem.message and "shard 1 is at [0,2] with 1 hops in the dump" \
        in problem.message
    missing = dumps_for(events, range(0, 7))
    missing[4] = json.dumps({"tick": 4, "shards": [], "bots": []}).encode()
    report = replay_matches(missing, lines(*events))
    assert report.problem_count == 1
    assert "not in the dump" in report.problems[0].message


@pytest.mark.unit
def test_replay_reports_bad_dump_lines() -> None:
    events = full_lifecycle()
    dumps = dumps_for(events, range(0, 3))
    dumps[1] = b'{"tick": 1, "shards": "x", "bots": []}\n'
    report = replay_matches(dumps, lines(*events))
    assert [(p.stream, p.line) for p in report.problems] == [("dumps", 2)]
    assert "cannot decode" in report.problems[0].message
    assert not replay_matches([], lines(*events)).ok


# -- the CLIs -------------------------------------------------------------------------------------


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def write(path: Path, chunks: list[bytes]) -> Path:
    path.write_bytes(b"".join(c if c.endswith(b"\n") else c + b"\n" for c in chunks))
    return path


@pytest.mark.integration
def test_validate_cli(tmp_path: Path) -> None:
    good = write(tmp_path / "good.jsonl", lines(*full_lifecycle()))
    ok = run(VALIDATE, str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout and "3 spawned" in ok.stdout

    cut = write(tmp_path / "cut.jsonl", lines(start(), spawn(1, 1, (0, 0))))
    assert run(VALIDATE, str(cut), "--allow-in-flight", "--quiet").stdout == ""

    bad_events = [start()] + [spawn(1, i, (0, 0)) for i in range(25)]
    bad = write(tmp_path / "bad.jsonl", lines(*bad_events))
    res = run(VALIDATE, "--quiet", str(good), str(bad))
    assert res.returncode == 1
    out = res.stdout.splitlines()
    assert len(out) == 21, out
    assert out[0] == f"{bad}:2: shard 0 (spawned here) has no terminal event"
    assert out[-1] == f"{bad}: ... and 5 more"

    assert_cli_fails_in_one_line(run(VALIDATE, str(tmp_path / "nope.jsonl")), "nope.jsonl")
    assert_cli_fails_in_one_line(run(VALIDATE))


@pytest.mark.integration
def test_compression_cli(tmp_path: Path) -> None:
    events = full_lifecycle()
    log = write(tmp_path / "events.jsonl", lines(*events))
    dumps = write(tmp_path / "dumps.jsonl", dumps_for(events, range(0, 40)))
    ok = run(COMPRESSION, f"--baseline={dumps}", f"--compressed={log}")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "replay: 40 dumped ticks" in ok.stdout and "gzip" in ok.stdout

    too_small = run(COMPRESSION, f"--baseline={dumps}", f"--compressed={log}",
                    "--min-ratio", "1000")
    assert too_small.returncode == 1 and "below the minimum" in too_small.stdout

    tampered = dumps_for(events, range(0, 40))
    tampered[1] = json.dumps({"tick": 1, "shards": [], "bots": []}).encode()
    bad = write(tmp_path / "bad_dumps.jsonl", tampered)
    mismatch = run(COMPRESSION, f"--baseline={bad}", f"--compressed={log}")
    assert mismatch.returncode == 1
    assert f"{bad}:2: tick 1: the event log does not reproduce the dump" in mismatch.stdout

    missing = run(COMPRESSION, f"--baseline={tmp_path / 'nope.jsonl'}", f"--compressed={log}")
    assert_cli_fails_in_one_line(missing, "nope.jsonl")
    assert_cli_fails_in_one_line(run(COMPRESSION, f"--baseline={dumps}"))
