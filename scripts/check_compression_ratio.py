#!/usr/bin/env python3
"""Compare an event log with the full state dumps it replaces: same shard positions, far smaller.

Usage: ``python scripts/check_compression_ratio.py --baseline=DUMPS.jsonl --compressed=EVENTS.jsonl
[--min-ratio 2.0]``.

Replays the event log against the state dumps (:func:`game.eventlog.replay_matches`: every dumped
tick's shards must come out of the log), then prints both files' sizes, raw and gzip-compressed
(level 6), and the ratios baseline / event log. Exits 1 when the replay does not match or the raw
ratio is below ``--min-ratio``, 2 when a file cannot be read or the arguments are bad (one line,
no traceback), else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from game.eventlog import replay_matches  # noqa: E402

PROG = "check_compression_ratio"

#: Problems printed before "... and N more".
SHOWN_PROBLEMS = 20

GZIP_LEVEL = 6
_CHUNK = 1 << 20


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


def gzip_size(path: str) -> int:
    """Bytes of ``path`` gzip-compressed at level 6 (streamed; no file name, mtime 0)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            size += len(compressor.compress(chunk))
    return size + len(compressor.flush())


def ratio(baseline: int, compressed: int) -> float:
    """``baseline / compressed``; infinite for an empty event log."""
    return baseline / compressed if compressed else float("inf")


def main(argv: list[str] | None = None) -> int:
    """Replay, measure, compare; the exit status says whether the event log passes."""
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--baseline", required=True, metavar="DUMPS.jsonl",
                    help="state dumps, one JSON line per tick")
    ap.add_argument("--compressed", required=True, metavar="EVENTS.jsonl",
                    help="the event log of the same run")
    ap.add_argument("--min-ratio", type=float, default=2.0, metavar="R",
                    help="smallest raw size ratio baseline / event log that passes (default 2.0)")
    args = ap.parse_args(argv)
    if not args.min_ratio >= 0:
        ap.error(f"--min-ratio must be a number >= 0, not {args.min_ratio}")

    names = {"dumps": args.baseline, "events": args.compressed}
    try:
        with open(args.baseline, "rb") as dumps, open(args.compressed, "rb") as events:
            report = replay_matches(dumps, events)
        raw = {key: os.path.getsize(name) for key, name in names.items()}
        packed = {key: gzip_size(name) for key, name in names.items()}
    except OSError as err:
        name = err.filename if err.filename is not None else "input"
        print(f"{PROG}: cannot read {name}: {err.strerror or err}", file=sys.stderr)
        return 2

    for problem in report.problems[:SHOWN_PROBLEMS]:
        print(f"{names[problem.stream]}:{problem.line}: {problem.message}")
    if report.problem_count > SHOWN_PROBLEMS:
        print(f"{PROG}: ... and {report.problem_count - SHOWN_PROBLEMS} more")
    replay = "matches" if report.ok else f"{report.problem_count} problem(s)"
    print(f"replay: {report.dumps} dumped ticks, {report.spawned} shards spawned: {replay}")
    print(f"baseline  {args.baseline}: {raw['dumps']} bytes raw, {packed['dumps']} gzip")
    print(f"event log {args.compressed}: {raw['events']} bytes raw, {packed['events']} gzip")
    raw_ratio = ratio(raw["dumps"], raw["events"])
    gz_ratio = ratio(packed["dumps"], packed["events"])
    print(f"ratio: {raw_ratio:.2f}x raw, {gz_ratio:.2f}x gzip (minimum {args.min_ratio:g}x raw)")
    if raw_ratio < args.min_ratio:
        print(f"{PROG}: raw ratio {raw_ratio:.2f} is below the minimum {args.min_ratio:g}")
    return 0 if report.ok and raw_ratio >= args.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
