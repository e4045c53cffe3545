"""Routing benchmarks: a burst of shards, an offered-load sweep, a burst recovery, a soak.

Figures come from the event log the run writes (every shard's spawn and terminal event), so
the bench measures what a user's ``--events`` file would show.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import esper
import msgspec
import numpy as np

from components.shard import Shard
from game.app.build import build_sim
from game.bench.scenario import Progress, Report
from game.cells import Cell
from game.config import Config, override
from game.engine.events import Delivered, Dropped, Event, Expired, Spawn
from game.engine.world import Purpose, Sim, stream
from game.files import open_for_writing
from game.shardnet import ShardNet
from game.stats import percentile
from game.topology import mean_distance, torus_distance
from systems.energy import tile_means


@dataclass(slots=True)
class ShardRecord:
    """One shard's life as the event log tells it."""

    spawn_tick: int
    src: Cell
    target: Cell | None
    text: str
    end: str = ""
    at: Cell | None = None
    hops: int = 0
    latency: int = 0
    reason: str = ""


class Ledger:
    """Listens to the event bus and keeps a record per shard."""

    def __init__(self) -> None:
        self.shards: dict[int, ShardRecord] = {}
        self.open = 0

    def __call__(self, events: list[Event]) -> None:
        """Take one tick's events."""
        for e in events:
            if isinstance(e, Spawn):
                self.shards[e.shard] = ShardRecord(e.tick, e.src, e.target, e.text)
                self.open += 1
            elif isinstance(e, Delivered | Expired | Dropped):
                r = self.shards[e.shard]
                r.end, r.at = e.kind, e.at
                if isinstance(e, Delivered):
                    r.hops, r.latency = e.hops, e.latency
                elif isinstance(e, Expired):
                    r.hops = e.hops
                else:
                    r.reason = e.reason
                self.open -= 1


def watched_sim(cfg: Config, events: str | None = None) -> tuple[Sim, Ledger]:
    """A simulation with tier 2, and a ledger listening to its events."""
    sim = build_sim(cfg, events_path=events, shards=True)
    ledger = Ledger()
    sim.events.listeners.append(ledger)
    return sim, ledger


def routing_config(config: Config, args: argparse.Namespace) -> Config:
    """The config of a routing run: the flags over the file, detection off (not measured)."""
    cfg = override(config, "detect.enabled", False)
    cfg = override(cfg, "traffic.rate", 0.0)
    if getattr(args, "mesh", None):
        cfg = override(cfg, "mesh.rows", args.mesh[0], "--mesh")
        cfg = override(cfg, "mesh.cols", args.mesh[1], "--mesh")
    for flag, key in (("router", "route.router"), ("loss", "route.loss")):
        value = getattr(args, flag, None)
        if value is not None:
            cfg = override(cfg, key, value, f"--{flag}")
    if getattr(args, "down", None):
        cfg = override(cfg, "route.down", [list(c) for c in args.down], "--down")
    return cfg


class StateDumps:
    """Writes the full state after every tick (``--state-dumps``).

    The baseline that ``scripts/check_compression_ratio.py`` compares the event log against;
    the format is :class:`game.eventlog.StateDump`.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.encoder = msgspec.json.Encoder()

    def write(self, sim: Sim) -> None:
        """Dump every live shard and every bot as of the end of the last tick."""
        net = sim.net
        assert net is not None
        sim.activate()
        shards = sorted([s.id, s.at[0], s.at[1], s.hops] for _, s in esper.get_component(Shard))
        bots = [[c[0], c[1], b.state, len(b.inbox)] for c, b in sorted(net.bots.items())]
        sub = sim.substrate
        lattice = base64.b64encode(np.packbits(sub.alive, axis=1).tobytes()).decode()
        energy = tile_means(sub.energy, net.rows, net.cols, sim.config.mesh.tile)
        line = self.encoder.encode({"tick": sim.tick, "shards": shards, "bots": bots,
                                    "lattice": lattice,
                                    "energy": [round(float(e), 6) for e in energy.ravel()]})
        self.out.write(line + b"\n")


def run_burst(
    cfg: Config,
    count: int,
    events: str | None = None,
    dumps: str | None = None,
    max_ticks: int = 100_000,
    warm: int = 0,
) -> tuple[Ledger, Sim, Report]:
    """Spawn ``count`` uniform-traffic shards and tick until all are terminal.

    They spawn at tick 1, or after ``warm`` ticks (to let a soup settle into ash first).
    """
    from game.traffic import uniform_spawns

    dump_file = open_for_writing(dumps, "the state dumps") if dumps is not None else None
    try:
        sim, ledger = watched_sim(cfg, events)
    except BaseException:
        if dump_file is not None:
            dump_file.close()
        raise
    try:
        net = sim.net
        assert net is not None
        sim.step(warm)
        semantic = cfg.route.router == "semantic"
        for spawn in uniform_spawns(net, count, semantic, stream(cfg.seed, Purpose.TRAFFIC)):
            sim.post(spawn)
        sim.schedule.record_history()
        dumper = StateDumps(dump_file) if dump_file is not None else None
        while True:
            sim.step()
            if dumper is not None:
                dumper.write(sim)
            if ledger.open == 0 or sim.tick >= max_ticks:
                break
        hist = sim.schedule.history or {}
        timing = {
            phase: {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95)}
            for phase, ms in hist.items() if phase in ("detect", "embed", "route", "glider")
        }
        return ledger, sim, {"ticks": sim.tick, "system_ms": timing}
    finally:
        if dump_file is not None:
            dump_file.close()


def to_most_similar(recs: Sequence[ShardRecord], net: ShardNet) -> float:
    """Share of ``recs`` delivered at the bot whose profile is most similar to their text.

    The bench's judge: a global lookup (:func:`game.routers.best_bot`) no router makes.
    """
    from game.routers import best_bot

    if not recs:
        return 0.0
    profiles = net.profiles()
    vectors = net.embedder.embed([r.text for r in recs])
    hits = sum(r.end == "delivered" and r.at == best_bot(v, profiles)
               for r, v in zip(recs, vectors, strict=True))
    return hits / len(recs)


def summarise(ledger: Ledger, sim: Sim) -> Report:
    """Delivery rate, hops, stretch, latency, drops by reason, semantic accuracy."""
    net = sim.net
    assert net is not None
    rows, cols = net.rows, net.cols
    recs = list(ledger.shards.values())
    delivered = [r for r in recs if r.end == "delivered"]
    stretches = []
    for r in delivered:
        assert r.at is not None
        d = torus_distance(r.src, r.at, rows, cols)
        if d:
            stretches.append(r.hops / d)
    out: Report = {
        "shards": len(recs),
        "delivered": len(delivered),
        "delivery_rate": len(delivered) / len(recs) if recs else 0.0,
        "expired": sum(r.end == "expired" for r in recs),
        "dropped": dict(sorted(Counter(r.reason for r in recs if r.end == "dropped").items())),
        "in_flight": ledger.open,
        "hops_mean": statistics.fmean(r.hops for r in delivered) if delivered else 0.0,
        "stretch_mean": statistics.fmean(stretches) if stretches else 1.0,
        "stretch_max": max(stretches, default=1.0),
        "latency_p50": percentile([r.latency for r in delivered], 50),
        "latency_p95": percentile([r.latency for r in delivered], 95),
    }
    if sim.config.route.router == "semantic" and recs:
        out["to_most_similar"] = to_most_similar(recs, net)
    stats = net.embedder.stats()
    out["embed"] = {k: stats[k] for k in ("encode_calls", "batch_p50_ms", "hits", "misses")}
    return out


def scenario_routing(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """One burst: ``--shards K`` at once on the configured mesh, router and faults.

    With ``--soak SECONDS`` it is instead a stress run at half the mesh's capacity that
    reports RSS growth.
    """
    cfg = routing_config(config, args)
    if getattr(args, "soak", None):
        return {"mode": "soak", **soak(cfg, args.soak, progress)}
    k = args.shards if getattr(args, "shards", None) is not None else 16
    progress(f"routing: {k} shards, {cfg.route.router} router, "
             f"{cfg.mesh.rows}x{cfg.mesh.cols} mesh (loading the embedding model)")
    ledger, sim, timing = run_burst(cfg, k, args.events, getattr(args, "state_dumps", None))
    try:
        report = {"mode": "burst", "config": _case(cfg, k), **summarise(ledger, sim),
                  **timing}
    finally:
        sim.close()
    if k > 1:
        progress("routing: single-shard baseline (every pair alone)")
        report["single_latency_p50"] = single_shard_median(cfg)
        report["p95_over_single_p50"] = report["latency_p95"] / max(
            report["single_latency_p50"], 1e-9)
    return report


def _case(cfg: Config, k: int) -> Report:
    r = cfg.route
    return {"shards": k, "router": r.router, "mesh": [cfg.mesh.rows, cfg.mesh.cols],
            "loss": r.loss, "down": [list(c) for c in r.down], "capacity": r.capacity,
            "inbox": r.inbox, "ttl": r.ttl, "seed": cfg.seed}


def single_shard_median(cfg: Config) -> float:
    """Median latency of a shard alone on the mesh: the unloaded baseline of the load gate.

    Every (source, target) pair of live bots is sent alone, one after the other (for the
    semantic router: every live source with 8 held-out texts spread over the corpus).
    """
    from game.engine.commands import SpawnShard

    sim, ledger = watched_sim(cfg)
    try:
        net = sim.net
        assert net is not None
        live = net.live()
        if cfg.route.router == "semantic":
            texts = net.held_out[:: max(1, len(net.held_out) // 8)][:8]
            spawns = [SpawnShard(t, src, None) for src in live for t in texts]
        else:
            spawns = [SpawnShard(net.held_out[0], src, dst)
                      for src in live for dst in live if dst != src]
        for spawn in spawns:
            sim.post(spawn)
            sim.step()
            while ledger.open:
                sim.step()
        lat = [r.latency for r in ledger.shards.values() if r.end == "delivered"]
        return float(statistics.median(lat)) if lat else 0.0
    finally:
        sim.close()


def load_gate(cfg: Config, sizes: tuple[int, ...] = (1, 2, 4, 8, 16), bursts: int = 10) -> Report:
    """K concurrent shards, pooled over ``bursts`` seeded bursts per K.

    Reports the shards not delivered and the p95 latency against the single-shard median.
    """
    single = single_shard_median(cfg)
    rows = []
    for k in sizes:
        lat: list[int] = []
        drops = 0
        for b in range(bursts):
            ledger, sim, _ = run_burst(override(cfg, "seed", cfg.seed + b), k)
            sim.close()
            lat += [r.latency for r in ledger.shards.values() if r.end == "delivered"]
            drops += sum(r.end != "delivered" for r in ledger.shards.values())
        p95 = percentile(lat, 95)
        rows.append({"k": k, "bursts": bursts, "not_delivered": drops, "latency_p95": p95,
                     "p95_over_single_p50": p95 / single if single else 0.0})
    return {"single_latency_p50": single, "rows": rows}


def bound(cfg: Config) -> float:
    """The node-capacity bound on delivered shards per tick: N·c / h̄."""
    rows, cols = cfg.mesh.rows, cfg.mesh.cols
    live = rows * cols - len(set(cfg.route.down))
    return live * cfg.route.capacity / mean_distance(rows, cols)


def offered_load(cfg: Config, rate: float, warm: int, ticks: int) -> Report:
    """Uniform traffic at ``rate`` shards per tick, measured after ``warm`` ticks.

    Reports shards delivered per tick over ``ticks`` ticks and the latency of the shards
    spawned in that window.
    """
    cfg = override(cfg, "traffic.rate", rate)
    sim, ledger = watched_sim(cfg)
    try:
        sim.step(warm)
        start = sim.tick
        sim.step(ticks)
        recs = [r for r in ledger.shards.values() if r.spawn_tick > start]
        done = [r for r in ledger.shards.values()
                if r.end == "delivered" and r.spawn_tick + r.latency - 1 > start]
        lat = [r.latency for r in recs if r.end == "delivered"]
        drops = Counter(r.reason for r in recs if r.end == "dropped")
        return {"offered": rate, "delivered_per_tick": len(done) / ticks,
                "latency_p50": percentile(lat, 50), "latency_p95": percentile(lat, 95),
                "dropped_share": sum(drops.values()) / max(len(recs), 1),
                "dropped": dict(sorted(drops.items()))}
    finally:
        sim.close()


def scenario_throughput(args: argparse.Namespace, config: Config, progress: Progress) -> Report:
    """Delivered throughput and latency against offered load (uniform traffic).

    Also the saturation throughput beside the node-capacity bound N·c / h̄, the K ≤ 16 load
    gate, and a burst of ``--shards`` (default 1024) shards with the ticks until latency is
    back to normal.
    """
    cfg = routing_config(config, args)
    b = bound(cfg)
    # --quick (CI's make perf) keeps what the gates read: saturation, which the 2x-bound row
    # reaches, and the K = 16 row of the load gate.
    fractions = [0.5, 1.0, 1.5, 2.0] if args.quick else \
        [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0]
    ticks = args.ticks or (200 if args.quick else 600)
    rows = []
    for f in fractions:
        progress(f"throughput: offered {f:.2f} x bound ({f * b:.1f} shards/tick)")
        rows.append({"fraction": f, **offered_load(cfg, f * b, 100, ticks)})
    best = max(r["delivered_per_tick"] for r in rows)
    sizes = (16,) if args.quick else (1, 2, 4, 8, 16)
    progress(f"throughput: K = {', '.join(map(str, sizes))} concurrent shards, bursts of each")
    load = load_gate(cfg, sizes, bursts=3 if args.quick else 10)
    burst = args.shards or 1024
    progress(f"throughput: a burst of {burst} shards over light traffic, and the recovery")
    return {"config": _case(cfg, 0), "bound": b, "h_mean": mean_distance(cfg.mesh.rows,
            cfg.mesh.cols), "sweep": rows, "saturation": best, "saturation_vs_bound": best / b,
            "load": load, "burst": burst_recovery(cfg, burst)}


def burst_recovery(cfg: Config, burst: int = 1024, probe_rate: float = 0.5,
                   ticks: int = 300) -> Report:
    """A burst of ``burst`` shards on top of light probe traffic.

    Reports whether every shard is accounted for, and how many ticks after the burst the
    probes' latency is back to the unloaded p95.
    """
    from game.traffic import uniform_spawns

    def probes(with_burst: bool) -> tuple[Ledger, set[int]]:
        from systems.input import InputSystem

        sim, ledger = watched_sim(override(cfg, "traffic.rate", probe_rate))
        try:
            net = sim.net
            assert net is not None
            sim.step(20)
            first = max(ledger.shards, default=0) + 1
            burst_ids: set[int] = set()
            if with_burst:
                semantic = cfg.route.router == "semantic"
                for spawn in uniform_spawns(net, burst, semantic, stream(cfg.seed, Purpose.BURST)):
                    sim.post(spawn)
                burst_ids = set(range(first, first + burst))  # commands get ids before traffic
            sim.step(ticks)
            source = sim.schedule.get("input")
            if isinstance(source, InputSystem) and source.traffic is not None:
                source.traffic.rate = 0.0
            while ledger.open and sim.tick < 10 * ticks:
                sim.step()
            return ledger, burst_ids
        finally:
            sim.close()

    calm, _ = probes(False)
    normal = percentile([r.latency for r in calm.shards.values() if r.end == "delivered"], 95)
    loaded, burst_ids = probes(True)
    burst_tick = 21
    probe = sorted((r for s, r in loaded.shards.items() if s not in burst_ids),
                   key=lambda r: r.spawn_tick)
    recovered = burst_tick
    for r in probe:
        if r.spawn_tick >= burst_tick and (r.end != "delivered" or r.latency > normal):
            recovered = r.spawn_tick + 1
    burst_recs = [loaded.shards[s] for s in sorted(burst_ids)]
    return {"burst": burst, "shards": len(loaded.shards), "accounted_for": loaded.open == 0,
            "burst_delivered": sum(r.end == "delivered" for r in burst_recs),
            "burst_dropped": dict(sorted(
                Counter(r.reason for r in burst_recs if r.end == "dropped").items())),
            "normal_latency_p95": normal, "recovered_after_ticks": recovered - burst_tick}


class Tally:
    """Counts terminal events by kind (and drops by reason) in constant memory."""

    def __init__(self) -> None:
        self.spawned = 0
        self.ended: Counter[str] = Counter()

    def __call__(self, events: list[Event]) -> None:
        """Take one tick's events."""
        for e in events:
            if isinstance(e, Spawn):
                self.spawned += 1
            elif isinstance(e, Dropped):
                self.ended[f"dropped:{e.reason}"] += 1
            elif isinstance(e, Delivered | Expired):
                self.ended[e.kind] += 1

    @property
    def open(self) -> int:
        """Shards spawned and not yet ended."""
        return self.spawned - sum(self.ended.values())


def _ticks(sim: Sim, ticks: int) -> str | None:
    """Run ``ticks`` ticks; what broke them, if anything (a soak reports it, never raises)."""
    try:
        sim.step(ticks)
    except Exception as err:  # noqa: BLE001 - a soak reports what broke it
        return f"tick {sim.tick}: {type(err).__name__}: {err}"
    return None


def soak(cfg: Config, seconds: float, progress: Progress, events: str | None = None,
         mirror: bool = False, warmup: int = 0) -> Report:
    """Run ``cfg`` (its traffic, or half the capacity bound) for ``seconds`` of wall time.

    The clock starts after the embedding model's load and ``warmup`` untimed ticks (a short
    soak needs them: the first tick encodes every bot's memories). RSS is sampled every
    second; growth is measured from the end of a warm-up, the first third of the run: the
    bounded caches (embeddings, shape classifications) fill during it (measured: ~3,000 ticks
    of the full scenario). Per-system timings cover the last 10,000 ticks. An exception stops
    the run and is reported, not raised.
    """
    import psutil

    proc = psutil.Process()
    if cfg.traffic.rate <= 0:
        cfg = override(cfg, "traffic.rate", 0.5 * bound(cfg))
    sim = build_sim(cfg, events_path=events, mirror=mirror, shards=True)
    tally = Tally()
    sim.events.listeners.append(tally)
    sim.schedule.record_history(keep=10_000)
    samples: list[tuple[float, float]] = []
    error: str | None = None
    try:
        assert sim.net is not None
        sim.net.embedder.load()
        error = _ticks(sim, warmup)
        first_tick = sim.tick
        start = time.monotonic()  # the seconds count the soak, not the load or the warm-up
        next_sample = start
        while error is None and (now := time.monotonic()) - start < seconds:
            error = _ticks(sim, 10)
            if error is None and now >= next_sample:
                samples.append((now - start, proc.memory_info().rss / 2**20))
                next_sample = now + 1.0
                progress(f"soak: {now - start:5.0f}/{seconds:.0f} s, tick {sim.tick}, "
                         f"rss {samples[-1][1]:.1f} MB")
        sim.activate()
        live_shards = len(esper.get_component(Shard))
        hist = sim.schedule.history or {}
        timing = {phase: {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
                          "max_ms": max(ms, default=0.0)} for phase, ms in hist.items()}
    finally:
        sim.close()
    elapsed = time.monotonic() - start
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    after = rss[t >= seconds / 3] if len(rss) else rss
    late = t >= seconds / 3
    base = float(after[0]) if len(after) else 0.0
    end = float(rss[-1]) if len(rss) else 0.0
    slope = float(np.polyfit(t[late], rss[late], 1)[0] * 60) if late.sum() > 2 else 0.0
    step = max(1, len(samples) // 120)
    timed = sim.tick - first_tick
    return {"seconds": seconds, "elapsed": elapsed, "rate": cfg.traffic.rate,
            "warmup_ticks": first_tick, "ticks": sim.tick,
            "ticks_per_s": timed / elapsed if elapsed else 0.0,
            "rss_warm_mb": base, "rss_end_mb": end, "rss_peak_mb": float(rss.max(initial=0.0)),
            "rss_growth_mb": end - base,
            "rss_growth_pct": 100 * (end - base) / base if base else 0.0,
            "rss_slope_mb_per_min": slope, "rss_samples": [
                [round(float(a), 1), round(float(b), 2)] for a, b in samples[::step]],
            "shards": {"spawned": tally.spawned, **dict(sorted(tally.ended.items())),
                       "in_flight": tally.open},
            "shard_entities_at_end": live_shards, "system_ms": timing, "error": error}


def print_routing(report: Report) -> None:
    """The routing scenario (a burst, or a soak) as readable lines."""
    if "rss_growth_mb" in report:
        print_soak(report)
        return
    c = report["config"]
    print(f"{c['shards']} shards, {c['router']} router, {c['mesh'][0]}x{c['mesh'][1]} mesh, "
          f"loss {c['loss']}, down {c['down'] or 'none'}, seed {c['seed']}: "
          f"{report['ticks']} ticks until every shard ended")
    print(f"delivered {report['delivered']}/{report['shards']} "
          f"({100 * report['delivery_rate']:.1f} %), expired {report['expired']}, "
          f"dropped {report['dropped'] or 'none'}, in flight {report['in_flight']}")
    print(f"hops mean {report['hops_mean']:.2f}; stretch vs torus shortest path mean "
          f"{report['stretch_mean']:.3f}, max {report['stretch_max']:.3f}")
    line = f"latency (ticks) p50 {report['latency_p50']:.1f}, p95 {report['latency_p95']:.1f}"
    if "single_latency_p50" in report:
        line += (f"; single-shard median {report['single_latency_p50']:.1f} "
                 f"(p95 / single median = {report['p95_over_single_p50']:.2f})")
    print(line)
    if "to_most_similar" in report:
        print(f"delivered to the bot with the most similar profile: "
              f"{100 * report['to_most_similar']:.1f} %")
    e = report["embed"]
    p50 = e["batch_p50_ms"] or 0.0
    print(f"embed: {e['encode_calls']} encode calls, p50 {p50:.1f} ms; "
          f"cache hits {e['hits']}, misses {e['misses']}")
    for phase, t in report["system_ms"].items():
        print(f"{phase} system: p50 {t['p50_ms']:.3f} ms, p95 {t['p95_ms']:.3f} ms per tick")


def print_soak(report: Report) -> None:
    """A soak: ticks, RSS after warm-up and at the end, shards, per-system timings, error."""
    print(f"soak {report['elapsed']:.0f} s at {report['rate']:.1f} shards/tick: "
          f"{report['ticks']} ticks ({report['ticks_per_s']:.0f}/s); RSS after warm-up "
          f"{report['rss_warm_mb']:.1f} MB, end {report['rss_end_mb']:.1f} MB "
          f"({report['rss_growth_mb']:+.1f} MB, {report['rss_growth_pct']:+.2f} %, "
          f"{report['rss_slope_mb_per_min']:+.2f} MB/min), peak {report['rss_peak_mb']:.1f} MB")
    sh = report["shards"]
    print("shards: " + ", ".join(f"{k} {v}" for k, v in sh.items())
          + f"; {report['shard_entities_at_end']} shard entities at the end")
    for phase, t in report["system_ms"].items():
        print(f"  {phase:<7} p50 {t['p50_ms']:.3f} ms, p95 {t['p95_ms']:.3f} ms, "
              f"max {t['max_ms']:.1f} ms (last 10,000 ticks)")
    print(f"error: {report['error'] or 'none'}")


def print_throughput(report: Report) -> None:
    """The offered-load sweep as a table, with the bound beside the measurement."""
    print(f"node-capacity bound N*c/h = {report['bound']:.2f} shards/tick "
          f"(h = {report['h_mean']:.3f} mean shortest-path hops)")
    print(f"{'offered':>8} {'x bound':>8} {'delivered':>10} {'x bound':>8} {'lat p50':>8} "
          f"{'lat p95':>8} {'dropped':>8}")
    for r in report["sweep"]:
        print(f"{r['offered']:>8.2f} {r['fraction']:>8.2f} {r['delivered_per_tick']:>10.2f} "
              f"{r['delivered_per_tick'] / report['bound']:>8.2f} {r['latency_p50']:>8.1f} "
              f"{r['latency_p95']:>8.1f} {100 * r['dropped_share']:>7.1f}%")
    print(f"saturation: {report['saturation']:.2f} shards/tick = "
          f"{100 * report['saturation_vs_bound']:.1f} % of the bound")
    load = report["load"]
    print(f"concurrent shards (single-shard median latency {load['single_latency_p50']:.1f}):")
    for r in load["rows"]:
        print(f"  K={r['k']:<3} {r['bursts']} bursts: not delivered {r['not_delivered']}, "
              f"latency p95 {r['latency_p95']:.1f} = {r['p95_over_single_p50']:.2f} x median")
    b = report["burst"]
    print(f"burst of {b['burst']} shards over probe traffic: every shard accounted for: "
          f"{b['accounted_for']}; burst delivered {b['burst_delivered']}, dropped "
          f"{b['burst_dropped'] or 'none'}; probe latency back to the unloaded p95 "
          f"({b['normal_latency_p95']:.0f} ticks) {b['recovered_after_ticks']} ticks after it")
