"""``cybermesh replay EVENTS.jsonl``: run a logged run again and find where it first differs.

The log's ``start`` event carries the run's config (all but pacing and backend) and its ``input``
events the user's commands, each at the tick it was applied: that is all a deterministic run
needs. The replay posts each command before its tick, writes its own log beside, and compares
the two line by line; the first line that differs is the divergence (its tick, both lines).
A log cut short (a run killed mid-tick) is compared up to its last complete tick.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from tqdm import tqdm

from game.app.build import build_sim
from game.config import config_from_log, override
from game.engine.events import AnyEvent, Input, Start, Stop
from game.errors import BadInput
from game.files import read_bytes
from systems.input import from_input

_DECODER = msgspec.json.Decoder(AnyEvent)


@dataclass(slots=True)
class Divergence:
    """The first line where the replay's log differs from the original's."""

    line: int
    tick: int
    expected: str
    got: str


@dataclass(slots=True)
class ReplayReport:
    """What a replay ran and found."""

    ticks: int
    lines: int
    inputs: int
    divergence: Divergence | None


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


def _read(path: Path) -> tuple[Start, dict[int, list[Input]], int, bool, list[bytes]]:
    """The start event, the inputs by tick, the last tick, whether the run stopped, the lines."""
    start: Start | None = None
    inputs: dict[int, list[Input]] = defaultdict(list)
    lines = _lines(read_bytes(path, "an event log"))
    last, stopped = 0, False
    for number, raw in enumerate(lines, start=1):
        try:
            event = _DECODER.decode(raw)
        except msgspec.DecodeError as err:
            if number == len(lines) > 1:
                lines.pop()  # the last line of a killed run, cut mid-write
                break
            raise BadInput(f"{path}:{number}: not an event: {err}") from None
        if start is None:
            if not isinstance(event, Start):
                raise BadInput(f"{path}:{number}: the first event is {event.kind}, not start")
            if event.config is None:
                raise BadInput(f"{path}: its start event carries no config (written by a "
                               "version before replay existed): it cannot be replayed")
            start = event
        elif isinstance(event, Input):
            inputs[event.tick].append(event)
        stopped = isinstance(event, Stop)
        last = max(last, event.tick)
    if start is None:
        raise BadInput(f"{path}: empty event log")
    return start, inputs, last, stopped, lines


def replay(path: str | Path, backend: str = "auto",
           progress: Callable[[int, int], None] | None = None) -> ReplayReport:
    """Run the logged run of ``path`` again on ``backend``; report its first divergence."""
    path = Path(path)
    start, inputs, last, stopped, original = _read(path)
    config = override(config_from_log(start.config or {}, f"{path}: start.config"),
                      "lattice.backend", backend, "--backend")
    with tempfile.TemporaryDirectory(prefix="cybermesh-replay-") as tmp:
        mine = Path(tmp) / "replay.jsonl"
        sim = build_sim(config, events_path=mine)
        try:
            for tick in range(1, last + 1):
                for event in inputs.get(tick, ()):
                    sim.post(from_input(event))
                sim.step(1)
                if progress is not None:
                    progress(tick, last)
        finally:
            sim.close()
        replayed = _lines(mine.read_bytes())
    if not stopped:
        # A killed run: its last tick may be cut short, so compare the ticks before it.
        original = [raw for raw in original if _tick(raw) < last]
        replayed = [raw for raw in replayed if _tick(raw) < last]
    divergence = _first_difference(original, replayed)
    return ReplayReport(ticks=last, lines=len(original),
                        inputs=sum(len(v) for v in inputs.values()), divergence=divergence)


def _first_difference(original: list[bytes], replayed: list[bytes]) -> Divergence | None:
    """The first line where the two logs differ (a missing line counts), or None."""
    for i in range(max(len(original), len(replayed))):
        a = original[i] if i < len(original) else None
        b = replayed[i] if i < len(replayed) else None
        if a != b:
            tick = _tick(a if a is not None else b or b"{}")
            return Divergence(i + 1, tick, "(nothing)" if a is None else a.decode(),
                              "(nothing)" if b is None else b.decode())
    return None


def _tick(raw: bytes) -> int:
    return int(msgspec.json.decode(raw).get("tick", -1))


def run_replay(args: argparse.Namespace) -> int:
    """``cybermesh replay``: 0 when the logs match, 1 at a divergence (printed)."""
    with tqdm(desc="replay", unit="tick", file=sys.stderr, disable=args.quiet or None,
              leave=False) as bar:
        def progress(tick: int, total: int) -> None:
            bar.total = total
            bar.update(tick - bar.n)

        report = replay(args.events, args.backend, progress)
    if report.divergence is None:
        print(f"{args.events}: replayed {report.ticks} ticks ({report.inputs} input command(s)): "
              f"all {report.lines} lines identical")
        return 0
    d = report.divergence
    print(f"{args.events}: first divergence at tick {d.tick}, line {d.line}:\n"
          f"  logged:   {d.expected}\n  replayed: {d.got}")
    return 1
