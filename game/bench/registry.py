"""The bench scenarios by name, and ``all``, which runs them in turn.

Every entry names its scenario's function and printer, so a search for a scenario's name finds
both. The scenario modules defer their heavy optional imports (torch, sentence-transformers,
moderngl) to the functions that use them, so importing all of them here loads none of those.

``all`` lives here rather than in :mod:`game.bench.runner` because it is itself an entry of the
mapping and runs the others through it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from game.bench import ca, detect, embed, energy, full, glider, pulse, routing, view, web
from game.bench.scenario import Printer, Progress, Report, Scenario
from game.config import Config
from game.errors import one_line

SCENARIOS: dict[str, tuple[Scenario, Printer]] = {
    "ca": (ca.scenario_ca, ca.print_ca),
    "detect": (detect.scenario_detect, detect.print_detect),
    "embed": (embed.scenario_embed, embed.print_embed),
    "energy": (energy.scenario_energy, energy.print_energy),
    "full": (full.scenario_full, full.print_full),
    "glider": (glider.scenario_glider, glider.print_glider),
    "pulse": (pulse.scenario_pulse, pulse.print_pulse),
    "routing": (routing.scenario_routing, routing.print_routing),
    "throughput": (routing.scenario_throughput, routing.print_throughput),
    "view": (view.scenario_view, view.print_view),
    "web": (web.scenario_web, web.print_web),
}

#: The scenarios ``--scenario all`` runs, in this order: the quick, machine-level ones first.
ALL_ORDER: tuple[str, ...] = (
    "ca", "detect", "embed", "routing", "throughput", "energy", "glider", "pulse", "full", "view",
    "web",
)


def run_all(args: argparse.Namespace, config: Config, progress: Progress,
            names: Sequence[str] = ALL_ORDER) -> Report:
    """Run each scenario of ``names`` in turn, printing each with its own printer as it ends.

    Each gets its own copy of the flags (``--quick`` and the rest pass through). A scenario that
    raises is reported (its error in one line) and the rest still run.
    """
    scenarios: Report = {}
    for name in names:
        scenario, show = SCENARIOS[name]
        progress(f"all: {name}")
        t0 = time.perf_counter()
        entry: Report = {"status": "ok", "seconds": 0.0, "result": None, "error": None}
        try:
            entry["result"] = scenario(argparse.Namespace(**vars(args)), config,
                                       _prefixed(progress, f"all: {name}: "))
        except Exception as err:  # noqa: BLE001 - one scenario's failure must not stop the rest
            entry["status"] = "error"
            entry["error"] = one_line(f"{type(err).__name__}: {err}")
        entry["seconds"] = time.perf_counter() - t0
        print(f"== {name} ({entry['seconds']:.1f} s) ==")
        if entry["result"] is not None:
            try:
                show(entry["result"])
            except Exception as err:  # noqa: BLE001 - a broken table is reported, not fatal
                entry["status"] = "error"
                entry["error"] = f"printing: {type(err).__name__}: {err}"
        if entry["error"] is not None:
            print(f"{name}: FAILED: {entry['error']}")
        print(flush=True)
        scenarios[name] = entry
    failed = [n for n, e in scenarios.items() if e["status"] != "ok"]
    return {"scenarios": scenarios, "failed": failed}


def _prefixed(progress: Progress, prefix: str) -> Progress:
    """``progress`` with ``prefix`` before every text."""

    def show(text: str) -> None:
        progress(prefix + text)

    return show


def scenario_all(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """Every scenario in one report (see :func:`run_all`)."""
    return run_all(args, config, progress)


def print_all(report: Report) -> None:
    """The summary of ``--scenario all`` (each scenario was printed as it ended)."""
    print(f"{'scenario':<11} {'status':<7} {'seconds':>8}  error")
    for name, e in report["scenarios"].items():
        print(f"{name:<11} {e['status']:<7} {e['seconds']:>8.1f}  {e['error'] or ''}")
    n = len(report["scenarios"])
    print(f"{n - len(report['failed'])}/{n} scenarios ran"
          + (f"; failed: {', '.join(report['failed'])}" if report["failed"] else ""))


# Added after the functions it names, which read the mapping when they run.
SCENARIOS["all"] = (scenario_all, print_all)
