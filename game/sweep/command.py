"""``cybermesh sweep``: run a spec, measure its throughput (``--bench``), or rebuild a report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from game.errors import BadInput
from game.sweep.run import SweepResult, default_workers, run_sweep
from game.sweep.spec import Plan, load_plan
from game.sweep.table import CSV_NAME, PARQUET_NAME, Report, write_atomic


def default_out(spec: str) -> Path:
    """Where a sweep writes without ``--out``: ``sweeps/<spec's name>``."""
    return Path("sweeps") / Path(spec).stem


def run_sweep_command(args: argparse.Namespace) -> int:
    """``cybermesh sweep``: run a spec, measure throughput (``--bench``), or rebuild a report."""
    from game.sweep.report import print_report, write_report

    if args.report is not None:
        if args.spec is not None:
            raise BadInput("sweep: give a SPEC.yaml or --report DIR, not both")
        print_report(write_report(Path(args.report)))
        return 0
    if args.spec is None:
        raise BadInput("sweep: name a SPEC.yaml to run (or --report DIR to rebuild a report)")
    plan = load_plan(args.spec)
    if args.bench:
        if args.ray is not None or args.resume:
            raise BadInput("sweep --bench measures local workers on fresh tables: leave out "
                           "--ray and --resume")
        bench(plan, args.workers or default_workers(), args.out, args.quiet)
        return 0
    out = Path(args.out) if args.out else default_out(args.spec)
    result = run_sweep(plan, out, args.workers, args.ray, args.resume, args.quiet)
    print(describe(result), file=sys.stderr)
    print_report(write_report(out))
    if result.failed:
        print(f"cybermesh sweep: {result.failed} runs failed after {plan.spec.retries} retries "
              f"(their error column in {out / CSV_NAME} says why)", file=sys.stderr)
        return 1
    return 0


def describe(result: SweepResult) -> str:
    """One line: what ran, how fast, where the table is."""
    ran = (f"{result.done} runs ({result.ok} ok, {result.failed} failed, {result.retries} "
           f"retried) in {result.wall_s:.1f} s, {result.runs_per_s():.2f} runs/s on "
           f"{result.pool}" if result.done else "nothing to run")
    skipped = f"; {result.skipped} already in the table" if result.skipped else ""
    return f"sweep: {ran}{skipped}; table {result.out / PARQUET_NAME} ({result.runs} runs)"


def bench(plan: Plan, workers: int, out: str | None, quiet: bool) -> Report:
    """Runs/s of the spec with 1 worker and with ``workers``, each on a fresh table, same run.

    With ``out`` the tables stay in ``out/workers-N`` beside ``out/bench.json``.
    """
    counts = sorted({1, workers})
    rows = []
    with tempfile.TemporaryDirectory(prefix="cybermesh-sweep-bench-") as tmp:
        folder = Path(out) if out else Path(tmp)
        for n in counts:
            r = run_sweep(plan, folder / f"workers-{n}", n, quiet=quiet)
            rows.append({"workers": n, "runs": r.done, "failed": r.failed, "wall_s": r.wall_s,
                         "runs_per_s": r.runs_per_s(), "warm_runs_per_s": r.warm_runs_per_s()})
    one, many = rows[0], rows[-1]
    report: Report = {
        "spec": plan.source, "scenario": plan.scenario.name, "runs": len(plan.runs),
        "cpus": default_workers(), "load_average": list(os.getloadavg()), "rows": rows,
        "ratio": many["runs_per_s"] / one["runs_per_s"] if one["runs_per_s"] else 0.0,
        "warm_ratio": (many["warm_runs_per_s"] / one["warm_runs_per_s"]
                       if one["warm_runs_per_s"] else 0.0)}
    print_bench(report)
    if out:
        write_atomic(Path(out) / "bench.json", json.dumps(report, indent=1) + "\n")
    return report


def print_bench(report: Report) -> None:
    """The throughput table and the ratio against one worker."""
    load = ", ".join(f"{x:.2f}" for x in report["load_average"])
    print(f"sweep throughput: {report['spec']} ({report['scenario']}, {report['runs']} runs), "
          f"{report['cpus']} CPUs, load average {load} at the end")
    print(f"{'workers':>7} {'runs':>5} {'failed':>6} {'wall s':>8} {'runs/s':>8} "
          f"{'warm runs/s':>11}")
    for r in report["rows"]:
        print(f"{r['workers']:>7} {r['runs']:>5} {r['failed']:>6} {r['wall_s']:>8.2f} "
              f"{r['runs_per_s']:>8.2f} {r['warm_runs_per_s']:>11.2f}")
    last = report["rows"][-1]["workers"]
    print(f"ratio, {last} workers against 1: {report['ratio']:.2f}x over the whole sweep "
          f"(worker start-up included), {report['warm_ratio']:.2f}x once warm")
