"""``cybermesh bench --scenario pulse``: whether an adapter makes patterns last.

The persistence experiment: for each seed, a random soup (``lattice.soup_density``) on the 5×5
mesh runs ``--ticks`` ticks (default 200) four ways with the same seed: no pulse; a
budget-matched random pulse (every bot sets ``pulse.budget`` random dead cells of its tile every
``pulse.every`` ticks); and each saved adapter, active at every bot, pulsing on the same
schedule. The measure is fixed:

- **persistence**: settled cells at the last tick, alive in each of the last three generations
  (still lifes whole, steady oscillator cells; churn and gliders do not count);
- live cells at the last tick, and births over the last 50 ticks (activity) beside it.

Then each adapter's own, visible effect: one pulse of every bot on ash (tick 150), and the births
(the stir) and settled cells over the next 16 ticks.

Seeds are the experiment's own (0..99 by default); the adapters were trained on 16×16 soups
drawn from another generator (``scripts/train_adapters.py``). Each mode reports its mean and a
95 % confidence interval over seeds; each gain over no pulse is the ratio of means with a paired
bootstrap interval (2,000 resamples of the seeds). Also measured: one batched forward for all
25 tiles, an adapter switch, and RSS with the model and adapters loaded.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from game.bench.scenario import Progress, Report
from game.config import Config, override
from game.stats import percentile

EVERY = 10  # the experiment's pulse schedule, when pulse.every is 0 (on demand)
RESIDENT = "rule_persist"  # the adapter the random control's bots hold (it never reads it)
ACTIVITY_WINDOW = 50


def run_soup(cfg: Config, seed: int, ticks: int, mode: str) -> dict[str, float]:
    """One soup for ``ticks`` ticks with pulse mode ``none``, ``random`` or an adapter name."""
    from game.app.build import build_sim
    from game.pulse import settled

    cfg = override(cfg, "seed", seed)
    if mode == "none":
        cfg = override(cfg, "pulse.every", 0)
    elif mode == "random":  # bots pulse only with an adapter active; the control ignores it
        cfg = override(override(cfg, "pulse.scorer", "random"), "pulse.adapter", RESIDENT)
    else:
        cfg = override(cfg, "pulse.adapter", mode)
    sim = build_sim(cfg)
    try:
        import torch

        frames = []
        births = 0
        for t in range(ticks):
            sim.step()
            if t >= ticks - ACTIVITY_WINDOW:
                births += int(sim.substrate.births.sum())
            if t >= ticks - 3:
                frames.append(torch.from_numpy(sim.substrate.alive.copy()))
        pulses = sum(b.pulses for b in sim.net.bots.values()) if sim.net else 0
        return {"settled": float(settled(frames).sum()), "live": float(sim.population()),
                "births": float(births), "pulses": float(pulses)}
    finally:
        sim.close()


def _interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95 % confidence interval (normal approximation): (mean, low, high)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, mean, mean
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def _gain(mode: list[float], base: list[float], rng: np.random.Generator) -> tuple[
        float, float, float]:
    """Ratio of means minus 1, with a paired bootstrap 95 % interval over seeds."""
    a, b = np.asarray(mode), np.asarray(base)
    ratio = float(a.mean() / b.mean() - 1) if b.mean() else 0.0
    picks = rng.integers(0, len(a), (2000, len(a)))
    boots = a[picks].mean(axis=1) / np.maximum(b[picks].mean(axis=1), 1e-9) - 1
    low, high = np.percentile(boots, [2.5, 97.5])
    return ratio, float(low), float(high)


def _costs(cfg: Config) -> dict[str, float]:
    """Batched forward for all 25 tiles, adapter switch, RSS with model and adapters."""
    import psutil
    import torch

    from game.adapters import PulseModel
    from game.paths import project_path
    from game.pulse import features

    model = PulseModel.from_folder(project_path(cfg.pulse.adapters))
    names = model.names
    h = cfg.mesh.rows * cfg.mesh.tile
    w = cfg.mesh.cols * cfg.mesh.tile
    gen = torch.Generator().manual_seed(0)
    x = features((torch.rand(1, 1, h, w, generator=gen) < 0.35).float(),
                 torch.rand(1, 1, h, w, generator=gen))
    model.scores(x, names[0])  # warm
    forward = []
    for _ in range(50):
        start = time.perf_counter()
        model.scores(x, names[0])
        forward.append(1e3 * (time.perf_counter() - start))
    switch = []
    for i in range(200):
        start = time.perf_counter()
        model.use(names[i % len(names)])
        switch.append(1e3 * (time.perf_counter() - start))
    return {"forward_ms_p50": statistics.median(forward),
            "forward_ms_p95": percentile(forward, 95),
            "switch_ms_p50": statistics.median(switch),
            "switch_ms_max": max(switch),
            "rss_mb": psutil.Process().memory_info().rss / 2**20,
            "adapters": len(names), "tiles": cfg.mesh.rows * cfg.mesh.cols}


def one_pulse(cfg: Config, seeds: range, mode: str, settle: int = 150,
              after: int = 16) -> Report:
    """Each adapter's own effect: one pulse of every bot at tick ``settle`` (ash by then).

    Births over the next ``after`` ticks (the stir) and settled cells at the end, means over
    ``seeds``; ``none`` does not pulse.
    """
    import torch

    from game.app.build import build_sim
    from game.pulse import settled

    births, still = [], []
    cfg = override(cfg, "pulse.every", 0)
    for seed in seeds:
        c = override(cfg, "seed", seed)
        if mode == "random":
            c = override(override(c, "pulse.scorer", "random"), "pulse.adapter", RESIDENT)
        elif mode != "none":
            c = override(c, "pulse.adapter", mode)
        sim = build_sim(c)
        try:
            sim.step(settle)
            if mode != "none":
                sim.pulse()
            born, frames = 0, []
            for t in range(after):
                sim.step()
                born += int(sim.substrate.births.sum())
                if t >= after - 3:
                    frames.append(torch.from_numpy(sim.substrate.alive.copy()))
        finally:
            sim.close()
        births.append(float(born))
        still.append(float(settled(frames).sum()))
    return {"mode": mode, "births": statistics.fmean(births), "settled": statistics.fmean(still)}


def wave(cfg: Config, origin: tuple[int, int] = (2, 2), adapter: str = RESIDENT,
         limit: int = 50) -> Report:
    """Start a LoRA wave at ``origin`` and read the front's arrival at each bot from the log."""
    import tempfile
    from pathlib import Path

    from game.app.build import build_sim
    from game.engine.events import Adopt, WaveStart, decode_event
    from game.topology import torus_distance

    cfg = override(override(cfg, "pulse.every", 0), "pulse.adapter", "")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "wave.jsonl"
        sim = build_sim(cfg, log)
        try:
            assert sim.net is not None
            bots = sim.net.bots.values()
            sim.start_wave(origin, adapter)
            while sim.tick < limit and any(b.adapter != adapter for b in bots if not b.down):
                sim.step()
            active = sum(b.adapter == adapter for b in bots)
        finally:
            sim.close()
        events = [decode_event(line) for line in log.read_bytes().splitlines()]
    start = next(e for e in events if isinstance(e, WaveStart))
    rows, cols = cfg.mesh.rows, cfg.mesh.cols
    lags = [e.tick - start.tick - torus_distance(e.bot, start.bot, rows, cols)
            for e in events if isinstance(e, Adopt)]
    last = max((e.tick for e in events if isinstance(e, Adopt)), default=start.tick)
    return {"origin": list(origin), "adapter": adapter, "reached": len(lags),
            "active": active, "bots": rows * cols, "ticks": last - start.tick,
            "lag_max": max(lags, default=0), "lag_mean": statistics.fmean(lags) if lags else 0.0}


def scenario_pulse(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """The persistence experiment (module docstring)."""
    from game.adapters import adapter_names
    from game.paths import project_path

    first, stop = args.seeds or ((0, 8) if args.quick else (0, 100))
    ticks = args.ticks or 200
    cfg = override(override(config, "pulse.enabled", True), "detect.enabled", False)
    cfg = override(cfg, "traffic.rate", 0.0)
    if not cfg.pulse.every:
        cfg = override(cfg, "pulse.every", EVERY)
    names = adapter_names(project_path(cfg.pulse.adapters))
    modes = ["none", "random", *names]
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for seed in range(first, stop):
        progress(f"pulse: seed {seed} ({seed - first + 1}/{stop - first})")
        for mode in modes:
            results[mode].append(run_soup(cfg, seed, ticks, mode))
    rng = np.random.default_rng(0)
    rows = []
    base = [r["settled"] for r in results["none"]]
    control = [r["settled"] for r in results["random"]]
    for mode in modes:
        rs = results[mode]
        row: Report = {"mode": mode}
        for key in ("settled", "live", "births"):
            row[key], row[f"{key}_low"], row[f"{key}_high"] = _interval([r[key] for r in rs])
        settled = [r["settled"] for r in rs]
        row["gain"], row["gain_low"], row["gain_high"] = _gain(settled, base, rng)
        row["vs_random"], row["vs_random_low"], row["vs_random_high"] = _gain(
            settled, control, rng)
        rows.append(row)
    progress("pulse: one pulse on ash, per adapter")
    once = [one_pulse(cfg, range(first, min(stop, first + 20)), mode) for mode in modes]
    progress("pulse: forward, switch and memory")
    return {"wave": wave(cfg), "one_pulse": once, "seeds": [first, stop],
            "seed_count": stop - first, "ticks": ticks,
            "every": cfg.pulse.every, "budget": cfg.pulse.budget,
            "density": cfg.lattice.soup_density, "rows": rows, "costs": _costs(cfg)}


def print_pulse(report: Report) -> None:
    """One row per mode: persistence with its interval, gains over no pulse and over random."""
    first, stop = report["seeds"]
    print(f"persistence on the 5x5 mesh: {stop - first} soups (seeds {first}..{stop - 1}, density "
          f"{report['density']}), {report['ticks']} ticks, pulses of {report['budget']} cells "
          f"every {report['every']} ticks; settled = alive in each of the last 3 generations")
    print(f"{'mode':<13} {'settled':>18} {'live':>7} {'births/50t':>10} "
          f"{'vs none':>22} {'vs random':>22}")
    for r in report["rows"]:
        gain = f"{100 * r['gain']:+.1f}% [{100 * r['gain_low']:+.1f}, {100 * r['gain_high']:+.1f}]"
        rand = (f"{100 * r['vs_random']:+.1f}% [{100 * r['vs_random_low']:+.1f}, "
                f"{100 * r['vs_random_high']:+.1f}]")
        print(f"{r['mode']:<13} {r['settled']:>7.1f} [{r['settled_low']:>4.0f}, "
              f"{r['settled_high']:>4.0f}] {r['live']:>7.1f} {r['births']:>10.0f} "
              f"{gain:>22} {rand:>22}")
    print("one pulse of every bot at tick 150 (ash), then 16 ticks: births (the stir) and "
          "settled cells at the end, means over up to 20 seeds")
    for r in report["one_pulse"]:
        print(f"  {r['mode']:<13} births {r['births']:>8.1f}   settled {r['settled']:>6.1f}")
    w = report["wave"]
    print(f"LoRA wave of {w['adapter']} from {w['origin']}: {w['reached']}/{w['bots']} bots "
          f"reached, {w['active']} with it active, last after {w['ticks']} ticks; arrival minus "
          f"hop distance: max {w['lag_max']} ticks, mean {w['lag_mean']:.2f}")
    c = report["costs"]
    print(f"one forward for all {c['tiles']} tiles: p50 {c['forward_ms_p50']:.2f} ms, p95 "
          f"{c['forward_ms_p95']:.2f} ms; adapter switch p50 {c['switch_ms_p50']:.3f} ms "
          f"(max {c['switch_ms_max']:.3f}); RSS {c['rss_mb']:.0f} MB with {c['adapters']} "
          "adapters")
