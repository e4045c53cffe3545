#!/usr/bin/env python3
"""Check event logs against the schema and shard lifecycle of docs/events.md.

Usage: ``python scripts/validate_event_logs.py LOG.jsonl [LOG2 ...] [--allow-in-flight] [--quiet]``.

Streams each file through :func:`game.eventlog.validate`; prints a summary per file (unless
``--quiet``) and one ``FILE:LINE: problem`` line per problem (the first 20 per file, then
``... and N more``). Exits 1 when a log has a problem, 2 when a file cannot be read or the
arguments are bad (one line, no traceback), else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from game.eventlog import Report, validate  # noqa: E402

PROG = "validate_event_logs"

#: Problems printed per file before "... and N more".
SHOWN_PROBLEMS = 20


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


def print_problems(name: str, report: Report) -> None:
    """One ``FILE:LINE: problem`` line per problem, capped at :data:`SHOWN_PROBLEMS`."""
    for problem in report.problems[:SHOWN_PROBLEMS]:
        print(f"{name}:{problem.line}: {problem.message}")
    if report.problem_count > SHOWN_PROBLEMS:
        print(f"{name}: ... and {report.problem_count - SHOWN_PROBLEMS} more")


def main(argv: list[str] | None = None) -> int:
    """Validate every log named on the command line; the exit status is the worst outcome."""
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("logs", nargs="+", metavar="LOG.jsonl", help="event logs to check")
    ap.add_argument("--allow-in-flight", action="store_true",
                    help="accept shards without a terminal event (a run cut short)")
    ap.add_argument("--quiet", action="store_true", help="print only the problems")
    args = ap.parse_args(argv)

    status = 0
    for name in args.logs:
        try:
            with open(name, "rb") as stream:
                report = validate(stream, allow_in_flight=args.allow_in_flight)
        except OSError as err:
            print(f"{PROG}: cannot read {name}: {err.strerror or err}", file=sys.stderr)
            status = 2
            continue
        if not args.quiet:
            verdict = "OK" if report.ok else f"{report.problem_count} problem(s)"
            print(f"{name}: {verdict}: {report.summary()}")
        print_problems(name, report)
        if not report.ok and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
