"""``cybermesh bench --scenario full``: everything built so far, together, for a while.

The 5×5 mesh with a soup, detection, energy, shards on uniform traffic (glider transport on long
diagonal legs, ``mixed``), the event log and the mirror's snapshots, for ``--soak SECONDS``
(default 60). Reports per-system timings, RSS over time, the shards' fates and any error, then
validates the event log it wrote.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from game.bench_routing import Progress, Report, print_soak, soak
from game.config import Config, override


def full_config(config: Config, args: argparse.Namespace) -> Config:
    """The config with every tier on.

    Detection, traffic (2 shards a tick unless set), mixed transport (unless set), and pulses:
    every bot with ``rule_persist`` pulsing every 10 ticks (unless ``pulse`` is configured).
    """
    cfg = override(config, "detect.enabled", True)
    if not config.pulse.enabled:
        cfg = override(override(cfg, "pulse.enabled", True), "pulse.every", 10)
        cfg = override(cfg, "pulse.adapter", "rule_persist")
    if cfg.traffic.rate <= 0:
        cfg = override(cfg, "traffic.rate", 2.0)
    if cfg.route.transport == "link":
        cfg = override(cfg, "route.transport", "mixed")
    return cfg


def scenario_full(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """The integration soak (see the module docstring)."""
    from game.eventlog import validate

    cfg = full_config(config, args)
    seconds = args.soak or (20.0 if args.quick else 60.0)
    with tempfile.TemporaryDirectory() as tmp:
        events = args.events or str(Path(tmp) / "events.jsonl")
        report = soak(cfg, seconds, progress, events=events, mirror=True)
        progress("full: validating the event log")
        with Path(events).open("rb") as lines:
            check = validate(lines, allow_in_flight=True)
    report["event_log"] = {"lines": check.lines, "problems": check.problem_count,
                           "first_problems": [str(p) for p in check.problems[:5]],
                           "kinds": dict(sorted(check.kinds.items()))}
    report["transport"] = cfg.route.transport
    return report


def print_full(report: Report) -> None:
    """The soak, then the event log's validation."""
    print(f"full integration soak, transport {report['transport']}:")
    print_soak(report)
    log = report["event_log"]
    print(f"event log: {log['lines']} lines, {log['problems']} problem(s)"
          + "".join(f"\n  {p}" for p in log["first_problems"]))
