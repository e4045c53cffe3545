"""``cybermesh bench --scenario energy``: the semantic router with and without energy hints.

The same seeds and shards twice, hints off then on, on skewed traffic (80 % of shards carry a
text of one of 3 popular bots' topics) and on uniform traffic, with a horizon that leaves the
router local maxima to escape (``route.horizon``, default 1 here). Reports mean and p95 hops,
delivery, delivery to the most similar bot, expiries, ms per tick, and checks the event log for
loops (no shard revisits a bot) and deadlock (every shard ends). The two sides run in lockstep in
one process; the compute overhead is the median whole tick with hints against the one without.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from game.bench.routing import Ledger, to_most_similar, watched_sim
from game.bench.scenario import Progress, Report
from game.config import Config, override
from game.engine.commands import SpawnShard
from game.engine.world import Purpose, stream
from game.shardnet import ShardNet
from game.stats import percentile


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


class _Arm:
    """One side of the comparison: a sim, its ledger and its own copy of the traffic stream."""

    def __init__(self, cfg: Config, hints: bool, skew: float, log: Path) -> None:
        cfg = override(override(cfg, "route.hints", hints), "route.router", "semantic")
        self.sim, self.ledger = watched_sim(cfg, str(log))
        self.log = log
        net = self.sim.net
        assert net is not None
        self.net = net
        # The same seed on both sides: the same shards.
        self.rng = stream(cfg.seed, Purpose.SKEWED_TRAFFIC)
        live = net.live()
        self.popular = ([live[i] for i in self.rng.choice(len(live), 3, replace=False)]
                        if skew else [])
        self.skew = skew
        # Encode every text first, so that ticks measure routing, not the model loading.
        net.embedder.embed([m for b in net.bots.values() for m in b.memories]
                           + [t for ts in net.held_out_by_topic.values() for t in ts])
        self.sim.schedule.record_history()

    def tick(self, spawn: int) -> None:
        for _ in range(spawn):
            self.sim.post(skewed(self.net, self.rng, self.popular, self.skew))
        self.sim.step()

    def report(self) -> Report:
        from game.eventlog import validate

        report = _outcome(self.ledger, self.net)
        hist = self.sim.schedule.history or {}
        ticks = [sum(ms) for ms in zip(*hist.values(), strict=True)]
        # Medians: a VM's stolen milliseconds land on a few ticks, not on the typical one.
        report["ms_per_tick"] = statistics.median(ticks[1:]) if len(ticks) > 1 else 0.0
        report["unended"] = self.ledger.open
        self.sim.close()
        with self.log.open("rb") as lines:
            check = validate(lines)
        report["loops"] = sum("revisits" in p.message for p in check.problems)
        report["log_problems"] = check.problem_count
        return report


def run_pair(cfg: Config, skew: float, shards: int, rate: float) -> tuple[Report, Report]:
    """``shards`` semantic shards at ``rate`` a tick, hints off and on; runs until all end.

    The two sims step in lockstep, one tick each in turn, so that both see the same machine:
    a slow minute on a shared VM slows both sides, not one.
    """
    with tempfile.TemporaryDirectory() as tmp:
        arms = [_Arm(cfg, hints, skew, Path(tmp) / f"hints-{hints}.jsonl")
                for hints in (False, True)]
        try:
            owed, sent = 0.0, 0
            while sent < shards or any(a.ledger.open for a in arms):
                owed += rate if sent < shards else 0.0
                spawn = min(int(owed), shards - sent)
                owed -= spawn
                sent += spawn
                for arm in arms:
                    if arm.ledger.open or spawn:
                        arm.tick(spawn)
                if arms[0].sim.tick > 100 * shards:
                    break
            off, on = (arm.report() for arm in arms)
        finally:
            for arm in arms:
                arm.sim.close()
    return off, on


def _outcome(ledger: Ledger, net: ShardNet) -> Report:
    recs = list(ledger.shards.values())
    hops = [r.hops for r in recs]
    return {
        "shards": len(recs),
        "hops_mean": statistics.fmean(hops) if hops else 0.0,
        "hops_p95": percentile(hops, 95),
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
        progress(f"energy: {traffic} traffic, hints off and on, {shards} shards each")
        off, on = run_pair(cfg, skew, shards, 2.0)
        on["hops_change"] = on["hops_mean"] / off["hops_mean"] - 1 if off["hops_mean"] else 0.0
        on["overhead"] = on["ms_per_tick"] / off["ms_per_tick"] - 1 if off["ms_per_tick"] else 0.0
        rows += [{"traffic": traffic, "hints": False, **off},
                 {"traffic": traffic, "hints": True, **on}]
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
