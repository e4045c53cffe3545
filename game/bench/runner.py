"""``cybermesh bench``: run the chosen scenario, print its table, write the JSON report.

The report carries the machine it ran on (:func:`machine_class`), since the same-run ratios are
only comparable within one class of machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from game.bench.registry import SCENARIOS
from game.bench.scenario import Report
from game.config import Config
from game.errors import BadInput
from game.files import writable_dir, write_bytes

#: The scenarios that draw ``--plot`` PNGs.
PLOTTING = ("full", "all")


def machine_class(cpuinfo: str, cpus: int | None, arch: str) -> str:
    """The machine class a report's same-run ratios are comparable within, as one path name.

    ``arch-vendor-isa-Ncpu`` from ``/proc/cpuinfo``'s text: the widest vector extension numpy and
    torch can use (``amx``, ``avx512``, ``avx2``, ``sve``, else ``base``) and the core count (the
    census worker and torch's threads share them), e.g. ``x86_64-amd-avx512-2cpu``.
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key and key not in fields:  # the first processor's block is enough
            fields[key] = value.strip()
    vendors = {"authenticamd": "amd", "genuineintel": "intel"}
    vendor_id = fields.get("vendor_id", "").lower()
    vendor = vendors.get(vendor_id) or "".join(c for c in vendor_id if c.isalnum()) or "unknown"
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    isa = next((name for flag, name in (("amx_tile", "amx"), ("avx512f", "avx512"),
                                        ("avx2", "avx2"), ("sve", "sve")) if flag in flags),
               "base")
    machine = "".join(c for c in arch.lower() if c.isalnum() or c == "_") or "unknown"
    return f"{machine}-{vendor}-{isa}-{cpus or 0}cpu"


def _cpuinfo() -> str:
    """The text of ``/proc/cpuinfo`` ("" where there is none)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _machine() -> Report:
    import psutil

    info = _cpuinfo()
    model = next((line.partition(":")[2].strip() for line in info.splitlines()
                  if line.lower().startswith("model name")), platform.processor())
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "cpu_class": machine_class(info, os.cpu_count(), platform.machine()),
        "peak_rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


def run_bench(args: argparse.Namespace, config: Config) -> int:
    """Run the chosen scenario, print it, write JSON if asked; returns the exit code.

    ``--scenario all`` exits 1 when one of its scenarios failed (after printing and writing the
    rest).
    """
    from tqdm import tqdm

    if getattr(args, "plot", None):
        if args.scenario not in PLOTTING:
            raise BadInput(f"--plot: only --scenario {' or '.join(PLOTTING)} draws plots, "
                           f"not {args.scenario}")
        writable_dir(args.plot, f"--plot {args.plot}: cannot write plots there")
    scenario, show = SCENARIOS[args.scenario]
    with tqdm(desc=args.scenario, file=sys.stderr, disable=None, leave=False,
              bar_format="{desc}: {elapsed}") as bar:
        result = scenario(args, config, lambda text: bar.set_description_str(text))
    # `quick` says which figures the report claims (tests/performance_thresholds.yaml `when`).
    report = {"scenario": args.scenario, "seed": config.seed,
              "quick": bool(getattr(args, "quick", False)), "machine": _machine(),
              "result": result}
    show(result)
    if args.json:
        write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode(), "the report")
    if args.scenario == "all" and result["failed"]:
        print(f"cybermesh: bench --scenario all: {len(result['failed'])} scenario(s) failed: "
              f"{', '.join(result['failed'])}", file=sys.stderr)
        return 1
    return 0
