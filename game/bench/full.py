"""``cybermesh bench --scenario full``: every system on, tick by tick, and how it scales.

The default run builds the simulation of :func:`full_config` (the config's mesh, or ``--mesh`` and
``--tile``): a soup, detection, energy, shards of uniform traffic (2 spawns a tick, or ``--shards
K`` kept in flight), mixed transport (long diagonal legs ride gliders), every bot pulsing
``rule_persist`` every 10 ticks, a LoRA wave every :data:`WAVE_EVERY` ticks from a seeded random
bot, the event log (a temporary file unless ``--events``) and the mirror's frames. After the
embedding model's load, a warm-up batch and ``--warmup`` untimed ticks (default
:data:`WARMUP`), it times ``--ticks`` ticks (default :data:`TICKS`) back to back, or paced at
``--rate`` ticks a second of wall time, and reports per-system and whole-tick percentiles, ticks/s,
cell-updates/s, the shards' fates, peak RSS, every setting that changes what is measured, and the
issue's gates where they apply (:data:`GATES`). Everything the run does is tick-based and seeded:
the same seed and flags run the same ticks.

``--scaling [MESHES]`` runs it at each mesh (default 5x5, 16x16, 64x64), and at the largest mesh
once more per ``--scaling-shards`` count (default 0, 250, 1000 shards in flight), and reports time
per tick against lattice cells and against shards in flight. ``--plot DIR`` draws PNGs
(:mod:`game.bench.plots`). ``--soak SECONDS`` is the earlier integration soak instead (wall clock,
RSS growth after warm-up: the "no leak" figure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from game.app.build import build_sim
from game.bench.routing import print_soak, soak
from game.bench.scenario import Progress, Report
from game.config import Config, override
from game.engine.events import Delivered, Dropped, Event, Expired, Spawn
from game.engine.world import Purpose, Sim, settle_heap, stream
from game.stats import percentile
from game.traffic import Traffic, uniform_spawns

#: Ticks between LoRA waves (each from a seeded random live bot, with a random resident adapter).
WAVE_EVERY = 100
#: Ticks between every bot's pulse when the config has pulses off (``full_config`` turns them on).
PULSE_EVERY = 10
#: Shards spawned a tick by default (uniform traffic) when neither the config nor --shards says.
DEFAULT_SPAWNS = 2.0
#: Timed ticks and untimed warm-up ticks of one run (``--quick``: the QUICK_ figures).
TICKS, QUICK_TICKS = 600, 200
WARMUP, QUICK_WARMUP = 200, 100
#: The same for each row of ``--scaling`` (64x64 ticks are slow; set --ticks to change).
SCALING_TICKS, QUICK_SCALING_TICKS = 300, 60
SCALING_WARMUP, QUICK_SCALING_WARMUP = 100, 30
#: ``--scaling``'s meshes and, at the largest of them, its shard counts.
SCALING_MESHES: tuple[tuple[int, int], ...] = ((5, 5), (16, 16), (64, 64))
SCALING_SHARDS: tuple[int, ...] = (0, 250, 1000)
#: The p95 budget of one tick at 5x5 (the stack plot's line).
BUDGET_MS = 5.0
#: RSS is sampled (psutil) every this many ticks, warm-up included, outside the timed step.
RSS_EVERY = 10


def full_config(config: Config, args: argparse.Namespace) -> Config:
    """The config with every tier on, at ``--mesh`` and ``--tile`` when given.

    Detection, traffic (2 shards a tick unless set; none from the rate when ``--shards`` keeps a
    number in flight instead), mixed transport (unless set), and pulses: every bot with
    ``rule_persist`` pulsing every 10 ticks (unless ``pulse`` is configured).
    """
    cfg = override(config, "detect.enabled", True)
    mesh = getattr(args, "mesh", None)
    if mesh:
        cfg = override(cfg, "mesh.rows", mesh[0], "--mesh")
        cfg = override(cfg, "mesh.cols", mesh[1], "--mesh")
    tile = getattr(args, "tile", None)
    if tile:
        cfg = override(cfg, "mesh.tile", tile, "--tile")
    if not config.pulse.enabled:
        cfg = override(override(cfg, "pulse.enabled", True), "pulse.every", PULSE_EVERY)
        cfg = override(cfg, "pulse.adapter", "rule_persist")
    if getattr(args, "shards", None) is not None and not getattr(args, "soak", None):
        cfg = override(cfg, "traffic.rate", 0.0)
    elif cfg.traffic.rate <= 0:
        cfg = override(cfg, "traffic.rate", DEFAULT_SPAWNS)
    if cfg.route.transport == "link":
        cfg = override(cfg, "route.transport", "mixed")
    return cfg


class Fates:
    """Counts shards by payload (``memory`` traffic, ``adapter`` wave shards) and how they end.

    Listens to the event bus; constant memory but for the ids of adapter shards in flight.
    """

    def __init__(self) -> None:
        self.spawned: Counter[str] = Counter()
        self.ended: dict[str, Counter[str]] = {"memory": Counter(), "adapter": Counter()}
        self._adapters: set[int] = set()

    def __call__(self, events: list[Event]) -> None:
        """Take one tick's events."""
        for e in events:
            if isinstance(e, Spawn):
                payload = "adapter" if e.payload == "adapter" else "memory"
                self.spawned[payload] += 1
                if payload == "adapter":
                    self._adapters.add(e.shard)
            elif isinstance(e, Delivered | Expired | Dropped):
                payload = "adapter" if e.shard in self._adapters else "memory"
                self._adapters.discard(e.shard)
                end = f"dropped:{e.reason}" if isinstance(e, Dropped) else e.kind
                self.ended[payload][end] += 1

    def open(self, payload: str = "memory") -> int:
        """Shards of ``payload`` spawned and not yet ended."""
        return self.spawned[payload] - sum(self.ended[payload].values())

    def snapshot(self) -> tuple[Counter[str], dict[str, Counter[str]]]:
        """A copy of the counters, to subtract at the end of a window."""
        return Counter(self.spawned), {k: Counter(v) for k, v in self.ended.items()}

    def since(self, before: tuple[Counter[str], dict[str, Counter[str]]], payload: str) -> Report:
        """Spawned, delivered, expired and dropped (total and by reason) since ``before``."""
        ended = self.ended[payload] - before[1][payload]
        dropped = {k.split(":", 1)[1]: v for k, v in sorted(ended.items())
                   if k.startswith("dropped:")}
        return {"spawned": self.spawned[payload] - before[0][payload],
                "delivered": ended["delivered"], "expired": ended["expired"],
                "dropped": sum(dropped.values()), "dropped_by_reason": dropped}


class TopUp(Traffic):
    """Uniform traffic that keeps ``target`` memory shards in flight.

    Each tick it spawns the shortfall, drawn from the run's traffic stream, so the same seed
    spawns the same shards.
    """

    def __init__(self, sim: Sim, target: int, fates: Fates) -> None:
        assert sim.net is not None
        semantic = sim.config.route.router == "semantic"
        super().__init__(sim.net, 0.0, semantic, stream(sim.config.seed, Purpose.TRAFFIC))
        self.target = target
        self.fates = fates

    def tick(self) -> list[Any]:
        """The shards to spawn in the current tick: the shortfall below ``target``."""
        missing = self.target - self.fates.open("memory")
        return uniform_spawns(self.net, missing, self.semantic, self.rng) if missing > 0 else []


class Waves:
    """Starts a LoRA wave every ``every`` ticks.

    From a seeded random live bot, with a random resident adapter; both drawn from the run's
    own stream (:attr:`~game.engine.world.Purpose.WAVES`).
    """

    def __init__(self, sim: Sim, every: int) -> None:
        from systems.pulse import PulseSystem

        self.sim = sim
        self.every = every
        self.rng = stream(sim.config.seed, Purpose.WAVES)
        pulse = sim.schedule.get("pulse")
        self.adapters = sorted(pulse.model.names) if isinstance(pulse, PulseSystem) else []
        self.started = 0

    def before_tick(self) -> None:
        """Queue a wave when the coming tick is one of its ticks."""
        net = self.sim.net
        if not self.every or not self.adapters or net is None or (self.sim.tick + 1) % self.every:
            return
        live = net.live()
        if not live:
            return
        bot = live[int(self.rng.integers(len(live)))]
        adapter = self.adapters[int(self.rng.integers(len(self.adapters)))]
        self.sim.start_wave(bot, adapter)
        self.started += 1


@dataclass(frozen=True, slots=True)
class Gate:
    """One of the issue's goals: ``figure`` (dotted, in the report) ``op`` ``limit``.

    Judged on the runs ``applies`` accepts (``where`` says which, in words).
    """

    name: str
    figure: str
    op: str
    limit: float
    unit: str
    where: str
    applies: Callable[[Report], bool]

    def judge(self, report: Report) -> Report:
        """The gate's row of the report: the figure, the limit, whether it applies and passes."""
        value = float(_dig(report, self.figure))
        applies = self.applies(report)
        checks = {"<=": value <= self.limit, ">=": value >= self.limit, "<": value < self.limit}
        ok = checks[self.op]
        return {"name": self.name, "value": value, "op": self.op, "limit": self.limit,
                "unit": self.unit, "where": self.where, "applies": applies,
                "pass": ok if applies else None}


def _dig(report: Report, dotted: str) -> Any:
    node: Any = report
    for part in dotted.split("."):
        node = node[part]
    return node


def _default_5x5(r: Report) -> bool:
    s = r["settings"]
    return bool(s["mesh"] == [5, 5] and s["tile"] == 16 and s["shards_target"] is None)


def _big_loaded(r: Report) -> bool:
    s = r["settings"]
    return bool(s["mesh"] == [64, 64] and (s["shards_target"] or 0) >= 1000)


#: The issue's goals: the 5x5 tick with the default workload, the 64x64 mesh with 1,000 shards in
#: flight (ticks/s counts ticking time, not --rate's sleeps), and peak RSS on every run.
GATES: tuple[Gate, ...] = (
    Gate("tick_p95_ms", "tick_ms.p95", "<=", 5.0, "ms",
         "5x5 mesh of 16x16 tiles, default workload", _default_5x5),
    Gate("tick_p99_ms", "tick_ms.p99", "<=", 20.0, "ms",
         "5x5 mesh of 16x16 tiles, default workload", _default_5x5),
    Gate("ticks_per_s", "ticks_per_s", ">=", 30.0, "ticks/s",
         "64x64 mesh with >= 1,000 shards in flight", _big_loaded),
    Gate("rss_peak_mb", "rss_peak_mb", "<", 1536.0, "MB", "every run", lambda r: True),
)


def _stats(ms: Sequence[float]) -> Report:
    """p50, p95, p99, max and mean of ``ms``."""
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
            "max": max(ms, default=0.0), "mean": statistics.fmean(ms) if ms else 0.0}


def run_full(cfg: Config, *, ticks: int, warmup: int, shards: int | None = None,
             rate: float | None = None, events: str | None = None, progress: Progress,
             wave_every: int = WAVE_EVERY, series: bool = True) -> Report:
    """Build ``cfg`` with every system, warm it up, time ``ticks`` ticks; the report.

    ``shards`` keeps that many memory shards in flight (else the config's traffic rate spawns);
    ``rate`` paces the timed ticks at that many a second of wall time (sleeping between ticks);
    ``series`` keeps each tick's per-system milliseconds in the report (for the stack plot).
    """
    import psutil
    import torch

    from game.engine.schedule import TICK_ORDER
    from systems.input import InputSystem

    proc = psutil.Process()
    rss: list[float] = [proc.memory_info().rss / 2**20]
    load_before = os.getloadavg()[0]
    clock = time.perf_counter
    t_build = clock()
    sim = build_sim(cfg, events_path=events, mirror=True, shards=True)
    try:
        fates = Fates()
        sim.events.listeners.append(fates)
        if shards is not None:
            inp = sim.schedule.get("input")
            assert isinstance(inp, InputSystem)
            inp.traffic = TopUp(sim, shards, fates)
        waves = Waves(sim, wave_every)
        assert sim.net is not None
        progress(f"full {cfg.mesh.rows}x{cfg.mesh.cols}: loading the embedding model")
        sim.net.embedder.load()
        warm_batch_ms = sim.net.embedder.warm_up(sim.net.held_out[:32])
        load_s = clock() - t_build
        t_warm = clock()
        for i in range(warmup):
            waves.before_tick()
            sim.step()
            if i % RSS_EVERY == 0:
                rss.append(proc.memory_info().rss / 2**20)
                progress(f"full {cfg.mesh.rows}x{cfg.mesh.cols}: warm-up {i}/{warmup}")
        warm_s = clock() - t_warm
        settle_heap()
        sim.schedule.record_history()
        before = fates.snapshot()
        waves_before = waves.started
        tick_ms: list[float] = []
        in_flight: list[int] = []
        adapters_in_flight: list[int] = []
        period = 1.0 / rate if rate else 0.0
        slept = 0.0
        overruns = 0
        start = next_at = clock()
        for i in range(ticks):
            if rate:
                now = clock()
                if now < next_at:
                    time.sleep(next_at - now)
                    slept += clock() - now
                next_at = max(next_at + period, clock() - period)  # no catch-up bursts
            waves.before_tick()
            t0 = clock()
            sim.step()
            ms = (clock() - t0) * 1e3
            tick_ms.append(ms)
            if rate and ms > period * 1e3:
                overruns += 1
            in_flight.append(fates.open("memory"))
            adapters_in_flight.append(fates.open("adapter"))
            if i % RSS_EVERY == 0:
                rss.append(proc.memory_info().rss / 2**20)
                progress(f"full {cfg.mesh.rows}x{cfg.mesh.cols}: tick {i}/{ticks}, "
                         f"{ms:.1f} ms, rss {rss[-1]:.0f} MB")
        wall = clock() - start
        rss.append(proc.memory_info().rss / 2**20)
        hist = sim.schedule.history or {}
        backend = sim.backend.name
    finally:
        sim.close()
    seconds = max(wall - slept, 1e-9)
    h, w = cfg.mesh.rows * cfg.mesh.tile, cfg.mesh.cols * cfg.mesh.tile
    mean_tick = statistics.fmean(tick_ms) if tick_ms else 0.0
    systems: Report = {}
    for phase in TICK_ORDER:
        if phase in hist:
            ms_list = list(hist[phase])
            row = _stats(ms_list)
            row["share"] = row["mean"] / mean_tick if mean_tick else 0.0
            systems[phase] = row
    overhead = mean_tick - sum(r["mean"] for r in systems.values())
    memory = fates.since(before, "memory")
    report: Report = {
        "mode": "ticks",
        "settings": {
            "mesh": [cfg.mesh.rows, cfg.mesh.cols], "tile": cfg.mesh.tile,
            "lattice": [w, h], "cells": w * h, "backend": backend, "seed": cfg.seed,
            "shards_target": shards,
            "traffic_rate": None if shards is not None else cfg.traffic.rate,
            "router": cfg.route.router, "transport": cfg.route.transport, "ttl": cfg.route.ttl,
            "detect_every": cfg.detect.every, "detect_worker": cfg.detect.worker,
            "pulse_every": cfg.pulse.every, "pulse_adapter": cfg.pulse.adapter,
            "wave_every": wave_every, "rate": rate, "embed_device": cfg.embed.device,
            "embed_precision": cfg.embed.precision, "torch_threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "warmup_ticks": warmup, "ticks": ticks,
        },
        "load_s": load_s, "warm_batch_ms": warm_batch_ms, "warmup_s": warm_s,
        "ticks": len(tick_ms), "seconds": seconds, "wall_seconds": wall, "slept_seconds": slept,
        "overruns": overruns if rate else None,
        "tick_ms": _stats(tick_ms),
        "systems": systems,
        "overhead_ms_mean": overhead,
        "ticks_per_s": len(tick_ms) / seconds,
        "wall_ticks_per_s": len(tick_ms) / wall if wall else 0.0,
        "cell_updates_per_s": w * h * len(tick_ms) / seconds,
        "shards_delivered_per_s": memory["delivered"] / seconds,
        "shards": {
            "memory": memory,
            "adapter": fates.since(before, "adapter"),
            "in_flight_mean": statistics.fmean(in_flight) if in_flight else 0.0,
            "in_flight_max": max(in_flight, default=0),
            "adapter_in_flight_mean": (statistics.fmean(adapters_in_flight)
                                       if adapters_in_flight else 0.0),
            "in_flight_at_end": fates.open("memory"),
        },
        "waves": waves.started - waves_before,
        "rss_start_mb": rss[0], "rss_peak_mb": max(rss), "rss_end_mb": rss[-1],
        "rss_samples": len(rss),
        # The machine's 1-minute load average before and after: other work on a shared VM
        # stretches every figure above, so the report says how busy it was.
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    report["gates"] = [g.judge(report) for g in GATES]
    if series:
        first = sim.tick - len(tick_ms) + 1
        report["series"] = {
            "first_tick": first,
            "tick": [round(v, 4) for v in tick_ms],
            **{p: [round(v, 4) for v in hist[p]] for p in systems},
        }
    return report


def _ticks_warmup(args: argparse.Namespace, scaling: bool) -> tuple[int, int]:
    quick = bool(getattr(args, "quick", False))
    if scaling:
        ticks = QUICK_SCALING_TICKS if quick else SCALING_TICKS
        warm = QUICK_SCALING_WARMUP if quick else SCALING_WARMUP
    else:
        ticks, warm = (QUICK_TICKS, QUICK_WARMUP) if quick else (TICKS, WARMUP)
    if getattr(args, "ticks", None):
        ticks = args.ticks
    if getattr(args, "warmup", None) is not None:
        warm = args.warmup
    return ticks, warm


def scenario_full(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """The full tick run, ``--scaling`` or ``--soak`` (see the module docstring)."""
    if getattr(args, "soak", None):
        return _soak(args, config, progress)
    if getattr(args, "scaling", None):
        report = run_scaling(args, config, progress)
    else:
        report = _tick_run(args, config, progress)
    plot_dir = getattr(args, "plot", None)
    if plot_dir:
        from game.bench.plots import write_plots

        progress("full: drawing the plots")
        report["plots"] = [str(p) for p in write_plots(report, Path(plot_dir))]
    return report


def _tick_run(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """One timed run of the full scenario, then the event log's validation."""
    from game.eventlog import validate

    cfg = full_config(config, args)
    ticks, warm = _ticks_warmup(args, scaling=False)
    with tempfile.TemporaryDirectory() as tmp:
        events = getattr(args, "events", None) or str(Path(tmp) / "events.jsonl")
        report = run_full(cfg, ticks=ticks, warmup=warm, shards=getattr(args, "shards", None),
                          rate=getattr(args, "rate", None), events=events, progress=progress)
        progress("full: validating the event log")
        with Path(events).open("rb") as lines:
            check = validate(lines, allow_in_flight=True)
    report["event_log"] = {"lines": check.lines, "problems": check.problem_count,
                           "first_problems": [str(p) for p in check.problems[:5]],
                           "kinds": dict(sorted(check.kinds.items()))}
    return report


def run_scaling(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """The full scenario at each ``--scaling`` mesh, then each shard count at the largest.

    Every mesh runs the default workload (or ``--shards``); the largest mesh runs again with
    each of ``--scaling-shards`` memory shards kept in flight. Rows carry time per tick against
    lattice cells and shards in flight; the fitted log-log slope of mean ms per tick against
    cells, and the ms each extra shard in flight costs, summarise them.
    """
    meshes = list(args.scaling) if isinstance(args.scaling, list | tuple) else list(
        SCALING_MESHES)
    counts = list(getattr(args, "scaling_shards", None) or SCALING_SHARDS)
    ticks, warm = _ticks_warmup(args, scaling=True)
    largest = max(meshes, key=lambda m: (m[0] * m[1], m))
    plan: list[tuple[tuple[int, int], int | None, str]] = [
        (m, getattr(args, "shards", None), "mesh") for m in meshes]
    plan += [(largest, k, "shards") for k in counts]
    rows: list[Report] = []
    for i, (mesh, shards, sweep) in enumerate(plan):
        label = f"{mesh[0]}x{mesh[1]}" + ("" if shards is None else f", {shards} shards")
        progress(f"scaling {i + 1}/{len(plan)}: {label}")
        run_args = argparse.Namespace(**{**vars(args), "mesh": mesh, "shards": shards})
        cfg = full_config(config, run_args)
        r = run_full(cfg, ticks=ticks, warmup=warm, shards=shards,
                     rate=getattr(args, "rate", None), progress=progress, series=False)
        s = r["settings"]
        rows.append({
            "sweep": sweep, "mesh": f"{mesh[0]}x{mesh[1]}", "tile": s["tile"],
            "cells": s["cells"], "shards": shards, "traffic_rate": s["traffic_rate"],
            "in_flight_mean": r["shards"]["in_flight_mean"],
            "adapter_in_flight_mean": r["shards"]["adapter_in_flight_mean"],
            "ticks": r["ticks"], "tick_p50_ms": r["tick_ms"]["p50"],
            "tick_p95_ms": r["tick_ms"]["p95"], "tick_p99_ms": r["tick_ms"]["p99"],
            "tick_max_ms": r["tick_ms"]["max"], "tick_mean_ms": r["tick_ms"]["mean"],
            "ticks_per_s": r["ticks_per_s"], "cell_updates_per_s": r["cell_updates_per_s"],
            "shards_delivered_per_s": r["shards_delivered_per_s"],
            "rss_peak_mb": r["rss_peak_mb"], "detect_every": s["detect_every"],
            "load_avg_1m": r["load_avg_1m"],
            "systems_mean_ms": {p: v["mean"] for p, v in r["systems"].items()},
            "gates": r["gates"],
        })
    return {"mode": "scaling", "ticks": ticks, "warmup_ticks": warm, "rows": rows,
            "settings": {"meshes": [f"{m[0]}x{m[1]}" for m in meshes],
                         "largest": f"{largest[0]}x{largest[1]}", "shard_counts": counts,
                         "wave_every": WAVE_EVERY, "rate": getattr(args, "rate", None)},
            "fit": scaling_fit(rows)}


def scaling_fit(rows: Sequence[Report]) -> Report:
    """How time per tick grows: against cells, and against shards in flight.

    The log-log slope of mean ms per tick against cells over the mesh rows, and the ms each
    shard in flight adds over the shard rows (least squares); None with fewer than two points.
    """
    mesh = [r for r in rows if r["sweep"] == "mesh" and r["tick_mean_ms"] > 0]
    out: Report = {"ms_vs_cells_loglog_slope": None, "ms_per_shard_in_flight": None}
    if len({r["cells"] for r in mesh}) >= 2:
        x = np.log([r["cells"] for r in mesh])
        y = np.log([r["tick_mean_ms"] for r in mesh])
        out["ms_vs_cells_loglog_slope"] = float(np.polyfit(x, y, 1)[0])
    sh = [r for r in rows if r["sweep"] == "shards"]
    if len({round(r["in_flight_mean"], 6) for r in sh}) >= 2:
        x = np.array([r["in_flight_mean"] for r in sh])
        y = np.array([r["tick_mean_ms"] for r in sh])
        out["ms_per_shard_in_flight"] = float(np.polyfit(x, y, 1)[0])
    return out


def _soak(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """The integration soak of ``--soak SECONDS``: wall clock, RSS growth, the log validated."""
    from game.eventlog import validate

    cfg = full_config(config, args)
    seconds = args.soak
    with tempfile.TemporaryDirectory() as tmp:
        events = getattr(args, "events", None) or str(Path(tmp) / "events.jsonl")
        report = soak(cfg, seconds, progress, events=events, mirror=True)
        progress("full: validating the event log")
        with Path(events).open("rb") as lines:
            check = validate(lines, allow_in_flight=True)
    report["mode"] = "soak"
    report["event_log"] = {"lines": check.lines, "problems": check.problem_count,
                           "first_problems": [str(p) for p in check.problems[:5]],
                           "kinds": dict(sorted(check.kinds.items()))}
    report["transport"] = cfg.route.transport
    return report


def _n(value: float) -> str:
    """A count or rate with thousands separators; large rates in k or M."""
    if value >= 1e7:
        return f"{value / 1e6:,.1f} M"
    if value >= 1e5:
        return f"{value / 1e3:,.0f} k"
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.1f}"


def print_full(report: Report) -> None:
    """The run, the scaling rows or the soak as readable lines; then the plots written.

    A run is a table: system | p50 | p95 | p99 | max | mean | share of the tick.
    """
    mode = report.get("mode")
    if mode == "soak" or "rss_growth_mb" in report:
        print(f"full integration soak, transport {report['transport']}:")
        print_soak(report)
        log = report["event_log"]
        print(f"event log: {log['lines']} lines, {log['problems']} problem(s)"
              + "".join(f"\n  {p}" for p in log["first_problems"]))
        return
    if mode == "scaling":
        print_scaling(report)
    else:
        print_ticks(report)
    for path in report.get("plots", []):
        print(f"plot: {path}")


def print_ticks(report: Report) -> None:
    """One timed run: settings, the per-system table, rates, shards, RSS, gates."""
    s = report["settings"]
    work = (f"{s['shards_target']} memory shards kept in flight" if s["shards_target"] is not None
            else f"{s['traffic_rate']:g} shards spawned a tick")
    pace = f"paced at {s['rate']:g} ticks/s" if s["rate"] else "back to back (no --rate)"
    print(f"full scenario: {s['mesh'][0]}x{s['mesh'][1]} mesh of {s['tile']}x{s['tile']} tiles "
          f"({s['lattice'][0]}x{s['lattice'][1]} = {s['cells']:,} cells), {s['backend']} "
          f"backend, seed {s['seed']}")
    print(f"workload: {work} ({s['router']} router, {s['transport']} transport, ttl "
          f"{s['ttl']}); pulses every {s['pulse_every']} ticks ({s['pulse_adapter'] or 'none'}); "
          f"a wave every {s['wave_every']} ticks; detect every {s['detect_every']} tick(s)"
          f"{' in a worker' if s['detect_worker'] else ''}; {pace}")
    print(f"warm-up: model load {report['load_s']:.1f} s (warm-up batch "
          f"{report['warm_batch_ms']:.0f} ms), {s['warmup_ticks']} ticks untimed "
          f"({report['warmup_s']:.1f} s); timed: {report['ticks']} ticks in "
          f"{report['seconds']:.2f} s of ticking")
    head = (f"{'system':<8} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'max ms':>9} "
            f"{'mean ms':>9} {'share':>7}")
    print(head)
    print("-" * len(head))
    t = report["tick_ms"]
    for phase, r in report["systems"].items():
        print(f"{phase:<8} {r['p50']:>9.3f} {r['p95']:>9.3f} {r['p99']:>9.3f} {r['max']:>9.3f} "
              f"{r['mean']:>9.3f} {100 * r['share']:>6.1f}%")
    other = report["overhead_ms_mean"]
    share = 100 * other / t["mean"] if t["mean"] else 0.0
    print(f"{'(other)':<8} {'':>9} {'':>9} {'':>9} {'':>9} {other:>9.3f} {share:>6.1f}%")
    print("-" * len(head))
    print(f"{'tick':<8} {t['p50']:>9.3f} {t['p95']:>9.3f} {t['p99']:>9.3f} {t['max']:>9.3f} "
          f"{t['mean']:>9.3f} {100.0:>6.1f}%")
    line = (f"ticks/s {report['ticks_per_s']:.1f}; cell-updates/s "
            f"{_n(report['cell_updates_per_s'])}")
    if s["rate"]:
        line += (f"; wall clock {report['wall_ticks_per_s']:.1f} ticks/s, "
                 f"{report['overruns']} tick(s) over their 1/{s['rate']:g} s slot")
    print(line)
    sh = report["shards"]
    m, a = sh["memory"], sh["adapter"]
    drops = ", ".join(f"{k} {v}" for k, v in m["dropped_by_reason"].items()) or "none"
    print(f"shards: {report['shards_delivered_per_s']:.1f} delivered/s; spawned {m['spawned']:,}, "
          f"delivered {m['delivered']:,}, expired {m['expired']:,}, dropped {m['dropped']:,} "
          f"({drops}); in flight mean {sh['in_flight_mean']:.1f}, max {sh['in_flight_max']}")
    print(f"waves: {report['waves']} started; adapter shards spawned {a['spawned']:,}, delivered "
          f"{a['delivered']:,}, dropped {a['dropped']:,} (duplicates end a wave)")
    print(f"RSS: start {report['rss_start_mb']:.0f} MB, peak {report['rss_peak_mb']:.0f} MB, "
          f"end {report['rss_end_mb']:.0f} MB ({report['rss_samples']} samples); machine load "
          f"average {report['load_avg_1m'][0]:.1f} before, {report['load_avg_1m'][1]:.1f} after "
          f"(on {os.cpu_count()} CPUs)")
    log = report.get("event_log")
    if log is not None:
        print(f"event log: {log['lines']:,} lines, {log['problems']} problem(s)"
              + "".join(f"\n  {p}" for p in log["first_problems"]))
    print_gates(report["gates"])


def print_gates(gates: Sequence[Report]) -> None:
    """The gates that apply, PASS or FAIL; the others named with where they apply."""
    for g in gates:
        if g["applies"]:
            verdict = "PASS" if g["pass"] else "FAIL"
            print(f"gate {g['name']}: {g['value']:.2f} {g['op']} {g['limit']:g} {g['unit']}: "
                  f"{verdict}")
    skipped = [f"{g['name']} ({g['where']})" for g in gates if not g["applies"]]
    if skipped:
        print("gates not applying to this run: " + "; ".join(skipped))


def print_scaling(report: Report) -> None:
    """The scaling rows as a table, then the fits."""
    print(f"full scenario scaling: {report['ticks']} timed ticks per row after "
          f"{report['warmup_ticks']} warm-up ticks; a wave every "
          f"{report['settings']['wave_every']} ticks")
    head = (f"{'mesh':>6} {'cells':>10} {'shards':>8} {'in flight':>9} {'p50 ms':>9} "
            f"{'p95 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'ticks/s':>8} {'cell-upd/s':>11} "
            f"{'deliv/s':>8} {'RSS MB':>7} {'detect':>6}")
    print(head)
    print("-" * len(head))
    for r in report["rows"]:
        shards = f"{r['traffic_rate']:g}/tick" if r["shards"] is None else str(r["shards"])
        print(f"{r['mesh']:>6} {r['cells']:>10,} {shards:>8} {r['in_flight_mean']:>9.1f} "
              f"{r['tick_p50_ms']:>9.2f} {r['tick_p95_ms']:>9.2f} {r['tick_p99_ms']:>9.2f} "
              f"{r['tick_mean_ms']:>9.2f} {r['ticks_per_s']:>8.1f} "
              f"{_n(r['cell_updates_per_s']):>11} {r['shards_delivered_per_s']:>8.1f} "
              f"{r['rss_peak_mb']:>7.0f} {'1/' + str(r['detect_every']):>6}")
    fit = report["fit"]
    if fit["ms_vs_cells_loglog_slope"] is not None:
        print(f"time per tick grows as cells^{fit['ms_vs_cells_loglog_slope']:.2f} "
              "(log-log fit over the mesh rows)")
    if fit["ms_per_shard_in_flight"] is not None:
        per = fit["ms_per_shard_in_flight"]
        print(f"each shard in flight adds {per * 1e3:.1f} us a tick at "
              f"{report['settings']['largest']} (fit over the shard rows)")
    for r in report["rows"]:
        where = r["mesh"] if r["shards"] is None else f"{r['mesh']} with {r['shards']} shards"
        for g in r["gates"]:
            if g["applies"] and g["name"] != "rss_peak_mb":
                verdict = "PASS" if g["pass"] else "FAIL"
                print(f"gate {g['name']} at {where}: {g['value']:.2f} {g['op']} {g['limit']:g} "
                      f"{g['unit']}: {verdict}")
    worst = max((r["rss_peak_mb"] for r in report["rows"]), default=0.0)
    print(f"gate rss_peak_mb (every run): peak {worst:.0f} MB < 1536 MB: "
          f"{'PASS' if worst < 1536 else 'FAIL'}")
