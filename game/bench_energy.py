"""``cybermesh bench --scenario energy``: the semantic router with and without energy hints.

The same seeds and shards twice, hints off then on, on skewed traffic (80 % of shards carry a
text of one of 3 popular bots' topics) and on uniform traffic, with a horizon that leaves the
router local maxima to escape (``route.horizon``, default 1 here). Reports mean and p95 hops,
delivery, delivery to the most similar bot, expiries, ms per tick, and checks the event log for
loops (no shard revisits a bot) and deadlock (every shard ends). The compute overhead is the
route system's extra time per tick with hints, against the whole tick without.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from game.bench import _pct
from game.bench_routing import Ledger, Progress, Report, to_most_similar, watched_sim
from game.commands import SpawnShard
from game.config import Config, override
from game.shardnet import ShardNet
from game.world import stream


def skewed(net: ShardNet, rng: np.random.Generator, popular: list[tuple[int, int]],
           share: float) -> SpawnShard:
    """One semantic shard from a uniform live source.

    It carries a held-out text of a popular bot's topic with probability ``share``, else of
    any live bot's topic.
    """
    live = net.live()
    src = live[int(rng.integers(len(live)))]
    if popular and rng.random() < share:
        bot = popular[int(rng.integers(len(popular)))]
    else:
        bot = live[int(rng.integers(len(live)))]
    texts = net.held_out_by_topic[net.topics[bot]]
    return SpawnShard(texts[int(rng.integers(len(texts)))], src, None)


def run_hints(cfg: Config, hints: bool, skew: float, shards: int, rate: float) -> Report:
    """``shards`` semantic shards at ``rate`` a tick, hints on or off; runs until all end."""
    from game.eventlog import validate

    cfg = override(override(cfg, "route.hints", hints), "route.router", "semantic")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.jsonl"
        sim, ledger = watched_sim(cfg, str(log))
        try:
            net = sim.net
            assert net is not None
            rng = stream(cfg.seed, 5)
            live = net.live()
            popular = [live[i] for i in rng.choice(len(live), 3, replace=False)] if skew else []
            # Encode every text first, so that ticks measure routing, not the model loading.
            net.embedder.embed([m for b in net.bots.values() for m in b.memories]
                               + [t for ts in net.held_out_by_topic.values() for t in ts])
            sim.schedule.record_history()
            owed, sent = 0.0, 0
            while sent < shards or ledger.open:
                owed += rate if sent < shards else 0.0
                while owed >= 1 and sent < shards:
                    sim.post(skewed(net, rng, popular, skew))
                    owed -= 1
                    sent += 1
                sim.step()
                if sim.tick > 100 * shards:
                    break
            report = _outcome(ledger, net)
            hist = sim.schedule.history or {}
            ticks = [sum(ms) for ms in zip(*hist.values(), strict=True)]
            report["ms_per_tick"] = statistics.fmean(ticks[1:]) if len(ticks) > 1 else 0.0
            report["route_ms_mean"] = statistics.fmean(hist.get("route", [0.0]))
        finally:
            sim.close()
        with log.open("rb") as lines:
            check = validate(lines)
    report["loops"] = sum("revisits" in p.message for p in check.problems)
    report["log_problems"] = check.problem_count
    report["unended"] = ledger.open
    return report


def _outcome(ledger: Ledger, net: ShardNet) -> Report:
    recs = list(ledger.shards.values())
    hops = [r.hops for r in recs]
    return {
        "shards": len(recs),
        "hops_mean": statistics.fmean(hops) if hops else 0.0,
        "hops_p95": _pct(hops, 95),
        "delivered": sum(r.end == "delivered" for r in recs) / max(len(recs), 1),
        "to_most_similar": to_most_similar(recs, net),
        "expired": sum(r.end == "expired" for r in recs),
    }


def scenario_energy(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """Hints off and on, skewed and uniform traffic, the same seeds (module docstring)."""
    cfg = override(config, "detect.enabled", False)
    if config.route.horizon == 4:  # the default sees all of 5x5: nothing for hints to do
        cfg = override(cfg, "route.horizon", 1)
    shards = args.shards or (2000 if args.quick else 10_000)
    rows = []
    for traffic, skew in (("skewed", 0.8), ("uniform", 0.0)):
        for hints in (False, True):
            progress(f"energy: {traffic} traffic, hints {'on' if hints else 'off'}, "
                     f"{shards} shards")
            rows.append({"traffic": traffic, "hints": hints,
                         **run_hints(cfg, hints, skew, shards, 2.0)})
    for off, on in ((rows[0], rows[1]), (rows[2], rows[3])):
        on["hops_change"] = on["hops_mean"] / off["hops_mean"] - 1 if off["hops_mean"] else 0.0
        # Only the route system differs between the two runs; the rest of the tick is the same
        # work, so the hint's cost is the route system's extra time against the whole tick.
        on["overhead"] = (on["route_ms_mean"] - off["route_ms_mean"]) / off["ms_per_tick"]
    return {"horizon": cfg.route.horizon, "confidence": cfg.route.confidence,
            "shards": shards, "rows": rows}


def print_energy(report: Report) -> None:
    """Side by side: hints off and on, per traffic."""
    print(f"semantic router, horizon {report['horizon']}, confidence {report['confidence']}, "
          f"{report['shards']} shards per row at 2 a tick, 5x5 mesh")
    print(f"{'traffic':<8} {'hints':<5} {'hops':>6} {'p95':>5} {'deliv':>6} {'best':>6} "
          f"{'expired':>7} {'ms/tick':>8} {'loops':>5} {'change':>8} {'overhead':>8}")
    for r in report["rows"]:
        change = f"{100 * r['hops_change']:+.1f}%" if "hops_change" in r else ""
        over = f"{100 * r['overhead']:+.1f}%" if "overhead" in r else ""
        print(f"{r['traffic']:<8} {'on' if r['hints'] else 'off':<5} {r['hops_mean']:>6.2f} "
              f"{r['hops_p95']:>5.0f} {100 * r['delivered']:>5.1f}% "
              f"{100 * r['to_most_similar']:>5.1f}% {r['expired']:>7} {r['ms_per_tick']:>8.2f} "
              f"{r['loops']:>5} {change:>8} {over:>8}")
