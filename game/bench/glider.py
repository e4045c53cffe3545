"""``cybermesh bench --scenario glider``: shards riding gliders across the 5×5 mesh.

Two lattices, the same shards: an empty one (every glider flies free) and soup ash (gliders
collide, shards fall back to links). Reports tracking error against the lattice's true
centroids, boards, handoffs, alights by reason, delivery and latency.
"""

from __future__ import annotations

import argparse
from typing import Any

from game.bench.routing import routing_config, run_burst, summarise
from game.bench.scenario import Progress, Report
from game.config import Config, override


def glider_config(config: Config, args: argparse.Namespace, density: float) -> Config:
    """The routing config with detection on, glider transport and a soup of ``density``."""
    cfg = routing_config(config, args)
    cfg = override(cfg, "detect.enabled", True)
    cfg = override(cfg, "lattice.soup_density", density)
    transport = config.route.transport if config.route.transport != "link" else "glider"
    return override(cfg, "route.transport", transport)


def ride(cfg: Config, shards: int, warm: int, events: str | None = None) -> Report:
    """One burst of ``shards`` with glider transport after ``warm`` ticks; the report."""
    from systems.glider import GliderSystem

    ledger, sim, timing = run_burst(cfg, shards, events, warm=warm)
    try:
        glider = sim.schedule.get("glider")
        assert isinstance(glider, GliderSystem)
        t = glider.tracking
        out: dict[str, Any] = {
            **summarise(ledger, sim), **timing,
            "tracking": {"samples": t.samples, "within_2_5": t.share_within,
                         "worst": t.worst, "mean": t.total / t.samples if t.samples else 0.0},
            "boards": glider.boards, "handoffs": glider.handoffs,
            "alights": dict(sorted(glider.alights.items())),
        }
        return out
    finally:
        sim.close()


def scenario_glider(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """Shards riding gliders on an empty lattice and on soup ash, the same seeds."""
    shards = args.shards or 16
    rows = []
    for label, density, warm in (("empty", 0.0, 0), ("ash", config.lattice.soup_density, 600)):
        progress(f"glider: {shards} shards on {label} lattice")
        cfg = glider_config(config, args, density)
        rows.append({"lattice": label, "warm_ticks": warm,
                     **ride(cfg, shards, warm, args.events if label == "empty" else None)})
    return {"shards": shards, "transport": glider_config(config, args, 0).route.transport,
            "rows": rows}


def print_glider(report: Report) -> None:
    """The glider scenario as readable lines."""
    print(f"{report['shards']} shards, transport {report['transport']}, 5x5 mesh")
    for r in report["rows"]:
        t = r["tracking"]
        print(f"{r['lattice']:>5} lattice: delivered {r['delivered']}/{r['shards']}, "
              f"latency p50 {r['latency_p50']:.0f} / p95 {r['latency_p95']:.0f} ticks, "
              f"hops {r['hops_mean']:.2f}; boards {r['boards']}, handoffs {r['handoffs']}, "
              f"alights {r['alights'] or 'none'}")
        print(f"      tracking: {100 * t['within_2_5']:.2f} % of {t['samples']} rider-ticks "
              f"within 2.5 cells of the glider's true centroid (worst {t['worst']:.2f}, "
              f"mean {t['mean']:.3f})")
        ms = r["system_ms"]
        print("      per tick: "
              + ", ".join(f"{k} p50 {v['p50_ms']:.2f} ms" for k, v in ms.items()))
