"""``cybermesh bench --scenario embed``: encode latency fp32 vs int8 on cpu, and cache hits.

Gates (design card): a batch of 32 texts encodes in ≤ 50 ms at the default precision, and a cache
hit costs ≤ 0.05 ms per text. fp32 and int8 batches alternate every repetition so that the noise
of a shared machine lands on both equally; every timed batch is 32 distinct texts the embedder
has not cached.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from game.config import Config
from game.corpus import load_corpus
from game.embedding import Embedder, SentenceTransformerEncoder
from game.stats import percentile

GATE_BATCH_MS = 50.0
GATE_HIT_MS = 0.05
BATCH = 32
PRECISIONS = ("fp32", "int8")


def _summary(ms: list[float]) -> dict[str, Any]:
    """p50, p95 and min of a list of milliseconds."""
    return {
        "batches": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "min_ms": float(min(ms)),
    }


def _windows(texts: list[str], start: int, count: int) -> list[list[str]]:
    """``count`` windows of ``BATCH`` consecutive texts (wrapping), starting at window ``start``."""
    n = len(texts)
    return [
        [texts[(w * BATCH + k) % n] for k in range(BATCH)] for w in range(start, start + count)
    ]


def scenario_embed(
    args: argparse.Namespace, config: Config, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Measure load time, per-batch latency (fp32 and int8, cpu), int8 fidelity and cache hits."""
    quick = bool(getattr(args, "quick", False))
    reps = 6 if quick else 24
    warmup = 2 if quick else 4
    hit_rounds = 100 if quick else 1000
    corpus = load_corpus()
    texts = [text for topic in corpus.values() for text in topic]
    if len(texts) < BATCH:
        raise ValueError(f"the corpus has {len(texts)} texts; the bench needs {BATCH}")

    progress("embed: importing sentence-transformers")
    t0 = time.perf_counter()
    import sentence_transformers  # noqa: F401 - timed on its own, apart from the model load
    import torch

    import_s = time.perf_counter() - t0
    load_before = os.getloadavg()[0]  # a busy machine (load > cores) slows torch's threads a lot
    embedders: dict[str, Embedder] = {}
    load_s: dict[str, float] = {}
    for precision in PRECISIONS:
        progress(f"embed: loading the model at {precision}")
        t0 = time.perf_counter()
        encoder = SentenceTransformerEncoder("cpu", precision)
        encoder.load()
        load_s[precision] = time.perf_counter() - t0
        cache_size = max(config.embed.cache_size, BATCH)  # the hit timing needs a batch cached
        embedders[precision] = Embedder(encoder, batch_size=BATCH, cache_size=cache_size)

    progress(f"embed: warm-up ({warmup} batches each)")
    for batch in _windows(texts, 0, warmup):
        for precision in PRECISIONS:
            embedders[precision].clear_cache()
            embedders[precision].embed(batch)
    for emb in embedders.values():
        emb.reset_stats()

    progress(f"embed: {reps} batches of {BATCH} per precision, alternating")
    for rep, batch in enumerate(_windows(texts, warmup, reps)):
        order = PRECISIONS if rep % 2 == 0 else PRECISIONS[::-1]
        for precision in order:
            emb = embedders[precision]
            emb.clear_cache()  # every timed batch is all misses: one encode of 32 texts
            emb.embed(batch)
    timings = {p: _summary([ms for _, ms in embedders[p].batches]) for p in PRECISIONS}
    for p in PRECISIONS:
        assert all(n == BATCH for n, _ in embedders[p].batches)

    progress("embed: int8 vs fp32 cosine over the corpus")
    vectors = {}
    for precision in PRECISIONS:
        emb = embedders[precision]
        emb.clear_cache()
        vectors[precision] = emb.embed(texts)
    cosine = np.sum(vectors["fp32"] * vectors["int8"], axis=1)

    progress(f"embed: cache hits ({hit_rounds} lookups of {BATCH} cached texts)")
    default_precision = "fp32"  # the default: vectors do not depend on their batch-mates
    emb = embedders[default_precision]
    cached = texts[:BATCH]
    emb.embed(cached)
    hit_ms: list[float] = []
    for _ in range(hit_rounds):
        t0 = time.perf_counter()
        emb.embed(cached)
        hit_ms.append((time.perf_counter() - t0) * 1000.0)
    hit_ms_per_text = float(np.median(hit_ms)) / BATCH

    batch_p50 = timings[default_precision]["p50_ms"]
    report: dict[str, Any] = {
        "scenario": "embed",
        "model": SentenceTransformerEncoder.name,
        "device": "cpu",
        "torch_threads": int(torch.get_num_threads()),
        "cpus": os.cpu_count(),
        "loadavg_1m": [load_before, os.getloadavg()[0]],
        "batch": BATCH,
        "reps": reps,
        "quick": quick,
        "import_s": import_s,
        "load_s": load_s,
        "fp32": timings["fp32"],
        "int8": timings["int8"],
        "int8_fp32_ratio": timings["int8"]["p50_ms"] / timings["fp32"]["p50_ms"],
        "worst_cosine": float(cosine.min()),
        "mean_cosine": float(cosine.mean()),
        "cosine_texts": len(texts),
        "hit_ms_per_text": hit_ms_per_text,
        "default_precision": default_precision,
        "gate_batch_ms": 50,
        "gate_hit_ms": 0.05,
        "pass_batch": batch_p50 <= GATE_BATCH_MS,
        "pass_batch_fp32": timings["fp32"]["p50_ms"] <= GATE_BATCH_MS,
        "pass_batch_int8": timings["int8"]["p50_ms"] <= GATE_BATCH_MS,
        "pass_hit": hit_ms_per_text <= GATE_HIT_MS,
    }
    report["passed"] = bool(report["pass_batch"] and report["pass_hit"])
    return report


def _verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def print_embed(report: dict[str, Any]) -> None:
    """Print the embed bench's table and its two gates."""
    print(
        f"embed: {report['model']} on {report['device']} "
        f"({report['torch_threads']} torch threads), "
        f"{report['reps']} batches of {report['batch']} distinct uncached texts per precision, "
        f"alternating; import {report['import_s']:.1f} s; load average "
        f"{report['loadavg_1m'][0]:.1f} -> {report['loadavg_1m'][1]:.1f} on {report['cpus']} cpus"
    )
    print(f"{'precision':<10}{'load s':>8}{'p50 ms':>9}{'p95 ms':>9}{'min ms':>9}")
    for p in PRECISIONS:
        t = report[p]
        print(
            f"{p:<10}{report['load_s'][p]:>8.2f}{t['p50_ms']:>9.1f}{t['p95_ms']:>9.1f}"
            f"{t['min_ms']:>9.1f}"
        )
    print(
        f"int8/fp32 p50 ratio {report['int8_fp32_ratio']:.2f}; cosine int8 vs fp32 over "
        f"{report['cosine_texts']} corpus texts: worst {report['worst_cosine']:.3f}, "
        f"mean {report['mean_cosine']:.3f}"
    )
    p = report["default_precision"]
    print(
        f"gate batch of {report['batch']} at {p} (cpu default): p50 {report[p]['p50_ms']:.1f} ms "
        f"<= {report['gate_batch_ms']} ms: {_verdict(report['pass_batch'])}"
    )
    print(
        f"gate cache hit: {report['hit_ms_per_text']:.4f} ms/text "
        f"<= {report['gate_hit_ms']} ms: {_verdict(report['pass_hit'])}"
    )
