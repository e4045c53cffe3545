#!/usr/bin/env python3
"""Memory budget gate: the peak of ``scripts/memory_monitor.py``'s samples against a threshold.

Usage: ``python scripts/check_memory_budget.py --threshold=6GB --phase=X [--samples FILE]``.

Reads the JSON lines ``{"t": seconds, "rss_mb": MiB}`` that the monitor wrote (default
``test-results/memory-samples.jsonl``). The threshold takes KB, MB or GB (binary units, like the
samples: 1 GB = 1024 MB = 1024² KB; ``KiB``/``MiB``/``GiB`` are the same), e.g. ``6GB``,
``1.5GB``, ``512MB``. Prints the peak, when it happened and the growth from the first sample to
the last, and exits 0 when the peak is within the budget; one line and exit 1 when it is over;
one line on stderr and exit 2 for bad input (a bad threshold, a missing file, a line that is not
a sample, a file without samples).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

PROG = "check_memory_budget"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLES = ROOT / "test-results" / "memory-samples.jsonl"

#: MiB per unit.
UNITS = {"kb": 1 / 1024, "mb": 1.0, "gb": 1024.0}

_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmg])i?b\s*", re.IGNORECASE)


class InputError(Exception):
    """Bad input: the one-line message goes to stderr and the exit status is 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


def parse_size(text: str) -> float:
    """A size such as ``6GB``, ``1.5 GB``, ``512MB`` or ``800KB``, in MiB; ValueError if not."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size: a number and KB, MB or GB, e.g. 6GB")
    mb = float(match.group(1)) * UNITS[match.group(2).lower() + "b"]
    if not mb > 0:
        raise ValueError(f"{text!r}: the budget must be more than 0")
    return mb


@dataclass(frozen=True, slots=True)
class Sample:
    """One line of the monitor's output."""

    t: float
    rss_mb: float


def _number(value: object) -> bool:
    """A finite JSON number (true and false are not numbers here)."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def read_samples(path: str | Path) -> list[Sample]:
    """Every sample in ``path``; blank lines are skipped, anything else must be a sample."""
    samples: list[Sample] = []
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    raise InputError(f"{path}:{number}: not JSON") from None
                if (not isinstance(data, dict) or not _number(data.get("t"))
                        or not _number(data.get("rss_mb")) or data["rss_mb"] < 0):
                    raise InputError(f"{path}:{number}: not a sample "
                                     '(expected {"t": seconds, "rss_mb": MiB >= 0})')
                samples.append(Sample(float(data["t"]), float(data["rss_mb"])))
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    if not samples:
        raise InputError(f"{path}: no samples (did scripts/memory_monitor.py run?)")
    return samples


def main(argv: list[str] | None = None) -> int:
    """Judge the samples' peak against the budget; the exit status is the verdict."""
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--threshold", required=True, metavar="SIZE",
                    help="the budget: a number and KB, MB or GB, e.g. 6GB")
    ap.add_argument("--phase", required=True, help="the phase or step measured (for the line)")
    ap.add_argument("--samples", default=str(DEFAULT_SAMPLES), metavar="FILE",
                    help="the monitor's samples (default test-results/memory-samples.jsonl)")
    args = ap.parse_args(argv)
    try:
        limit = parse_size(args.threshold)
    except ValueError as err:
        ap.error(f"argument --threshold: {err}")
    budget = f"{args.threshold.strip()} = {limit:.1f} MB"
    try:
        samples = read_samples(args.samples)
    except InputError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    peak = max(samples, key=lambda s: s.rss_mb)
    first, last = samples[0], samples[-1]
    if peak.rss_mb > limit:
        print(f"{PROG}: phase {args.phase}: peak RSS {peak.rss_mb:.1f} MB at {peak.t:.1f} s "
              f"is over the budget ({budget})")
        return 1
    growth = last.rss_mb - first.rss_mb
    pct = 100 * growth / first.rss_mb if first.rss_mb else 0.0
    print(f"memory budget, phase {args.phase}: peak {peak.rss_mb:.1f} MB at {peak.t:.1f} s, "
          f"within {budget}; growth {growth:+.1f} MB ({pct:+.1f} %) from {first.rss_mb:.1f} "
          f"to {last.rss_mb:.1f} MB over {last.t - first.t:.1f} s, {len(samples)} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
