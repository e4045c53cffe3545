"""Tier 2 embeddings with the real bundled model, the Ollama protocol, and the memory corpus."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from game.config import EmbedConfig
from game.corpus import MEMORIES, assign_topics, load_corpus
from game.embedding import (
    Embedder,
    EmbedError,
    OllamaEncoder,
    SentenceTransformerEncoder,
    Vectors,
    choose_device,
    make_embedder,
)
from game.errors import BadInput
from tests.helpers import free_port

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROFILE_TEXTS = 4  # the default traffic.memories_per_bot


class Counting:
    """Delegates to a real encoder and records every encode call's texts."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.device = inner.device
        self.precision = inner.precision
        self.calls: list[list[str]] = []

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    @property
    def loaded(self) -> bool:
        return bool(self.inner.loaded)

    def encode(self, texts: list[str]) -> Vectors:
        self.calls.append(list(texts))
        out: Vectors = self.inner.encode(texts)
        return out


@pytest.fixture(scope="module")
def fp32() -> SentenceTransformerEncoder:
    enc = SentenceTransformerEncoder("cpu", "fp32")
    enc.load()
    return enc


@pytest.fixture(scope="module")
def int8() -> SentenceTransformerEncoder:
    enc = SentenceTransformerEncoder("cpu", "int8")
    enc.load()
    return enc


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[str, ...]]:
    return load_corpus()


def counted(encoder: SentenceTransformerEncoder, **kw: int) -> tuple[Embedder, Counting]:
    spy = Counting(encoder)
    return Embedder(spy, **kw), spy


# --- the embedder over the real model ---------------------------------------------------------


@pytest.mark.integration
def test_make_embedder_resolves_auto_on_cpu_and_shares_one_model() -> None:
    emb = make_embedder(EmbedConfig())
    assert emb.encoder.device == "cpu"
    assert emb.encoder.precision == "fp32"  # batch-independent vectors by default
    assert emb.batch_size == 32 and emb.cache_size == 4096
    assert make_embedder(EmbedConfig(precision="int8")).encoder.precision == "int8"
    assert make_embedder(EmbedConfig()).encoder is emb.encoder  # one model per process
    assert isinstance(make_embedder(EmbedConfig(backend="ollama")).encoder, OllamaEncoder)


@pytest.mark.unit
def test_model_path_is_a_string() -> None:
    assert isinstance(SentenceTransformerEncoder("cpu").model_path, str)


@pytest.mark.unit
def test_an_unloadable_model_is_one_line(tmp_path: Path) -> None:
    enc = SentenceTransformerEncoder("cpu", "fp32", model_path=str(tmp_path))
    with pytest.raises(EmbedError, match="cannot load the model from") as err:
        enc.load()
    assert "\n" not in str(err.value) and not enc.loaded


@pytest.mark.integration
def test_vectors_are_384_d_unit_float32(fp32: SentenceTransformerEncoder) -> None:
    emb, _ = counted(fp32)
    assert emb.loaded and emb.dim == 384
    vecs = emb.embed(["Bees make honey.", "Lava flows downhill.", "A knight moves in an L."])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert emb.embed([]).shape == (0, 384)


@pytest.mark.integration
def test_same_text_twice_is_one_encode_then_a_cache_hit(fp32: SentenceTransformerEncoder) -> None:
    emb, spy = counted(fp32)
    a = emb.embed(["The queen bee lays eggs."])
    b = emb.embed(["The queen bee lays eggs."])
    assert len(spy.calls) == 1
    assert (emb.hits, emb.misses) == (1, 1)
    np.testing.assert_array_equal(a, b)
    b[0, 0] = 42.0  # callers get copies; the cache is not writable through them
    np.testing.assert_array_equal(emb.embed(["The queen bee lays eggs."]), a)


@pytest.mark.integration
def test_lru_evicts_the_least_recently_used(fp32: SentenceTransformerEncoder) -> None:
    emb, spy = counted(fp32, cache_size=2)
    emb.embed(["alpha text"])
    emb.embed(["beta text"])
    emb.embed(["alpha text"])  # hit: alpha becomes the most recent
    emb.embed(["gamma text"])  # evicts beta
    assert "alpha text" in emb and "gamma text" in emb and "beta text" not in emb
    assert len(emb) == 2 and len(spy.calls) == 3
    emb.embed(["beta text"])
    assert spy.calls[-1] == ["beta text"]  # re-encoded
    assert "alpha text" not in emb  # alpha was least recent now


@pytest.mark.integration
def test_cache_size_zero_turns_the_cache_off(fp32: SentenceTransformerEncoder) -> None:
    emb, spy = counted(fp32, cache_size=0)
    emb.embed(["one"])
    emb.embed(["one"])
    assert len(spy.calls) == 2 and len(emb) == 0 and emb.hits == 0


@pytest.mark.integration
def test_duplicates_inside_one_call_are_encoded_once(fp32: SentenceTransformerEncoder) -> None:
    emb, spy = counted(fp32)
    out = emb.embed(["x marks", "y marks", "x marks", "x marks"])
    assert spy.calls == [["x marks", "y marks"]]
    assert out.shape == (4, 384)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[3])
    assert not np.array_equal(out[0], out[1])


@pytest.mark.integration
def test_forty_texts_at_batch_32_are_two_encode_calls(
    fp32: SentenceTransformerEncoder, corpus: dict[str, tuple[str, ...]]
) -> None:
    texts = [t for topic in corpus.values() for t in topic][:45]
    emb, spy = counted(fp32, batch_size=32)
    out = emb.embed(texts[:40])
    assert [len(c) for c in spy.calls] == [32, 8]
    assert [n for n, _ in emb.batches] == [32, 8]
    assert out.shape == (40, 384)
    stats = emb.stats()
    assert stats["encode_calls"] == 2 and stats["misses"] == 40 and stats["hits"] == 0
    assert stats["batch_p50_ms"] is not None and stats["batch_p95_ms"] >= stats["batch_p50_ms"]
    # a partly cached call encodes only the misses, still in one call
    emb.embed(texts[30:45])
    assert spy.calls[-1] == texts[40:45]


@pytest.mark.integration
def test_cached_rows_match_fresh_encodes(fp32: SentenceTransformerEncoder) -> None:
    emb, _ = counted(fp32)
    texts = ["Sourdough needs a lively starter.", "Glaciers carve valleys."]
    first = emb.embed(texts)
    np.testing.assert_allclose(emb.embed(texts[::-1]), first[::-1], atol=0)
    np.testing.assert_allclose(fp32.encode(texts), first, atol=1e-5)


PAIRS = [
    ("beekeeping", "tax_law"),
    ("volcanoes", "violin"),
    ("chess_openings", "sourdough_baking"),
    ("astronomy", "knitting"),
    ("cycling", "cryptography"),
    ("jazz", "dentistry"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_same_topic_is_closer_than_another_topic(
    fp32: SentenceTransformerEncoder, corpus: dict[str, tuple[str, ...]], a: str, b: str
) -> None:
    va = fp32.encode(list(corpus[a][:2]))
    vb = fp32.encode(list(corpus[b][:2]))
    same = float(va[0] @ va[1])
    assert same > float(va[0] @ vb[0]) and same > float(va[0] @ vb[1])
    assert float(vb[0] @ vb[1]) > float(vb[0] @ va[1])


@pytest.fixture(scope="module")
def corpus_vectors(
    request: pytest.FixtureRequest, corpus: dict[str, tuple[str, ...]]
) -> Callable[[str], Vectors]:
    """Every corpus text's vector at a precision (in file order), encoded once per module."""
    done: dict[str, Vectors] = {}
    texts = [t for topic in corpus.values() for t in topic]

    def get(precision: str) -> Vectors:
        if precision not in done:
            encoder = request.getfixturevalue(precision)
            done[precision] = Embedder(encoder, batch_size=32, cache_size=0).embed(texts)
        return done[precision]

    return get


@pytest.mark.integration
def test_int8_stays_close_to_fp32_on_the_corpus(
    corpus_vectors: Callable[[str], Vectors],
) -> None:
    cos = np.sum(corpus_vectors("fp32") * corpus_vectors("int8"), axis=1)
    print(f"cosine int8 vs fp32: worst {cos.min():.3f}, mean {cos.mean():.3f}")
    assert cos.min() >= 0.90, f"worst int8/fp32 cosine {cos.min():.3f}"
    assert cos.mean() >= 0.93


def held_out_accuracy(vectors: Vectors, n_topics: int, per_topic: int = 10) -> tuple[int, int]:
    """Held-out texts whose nearest topic profile is their own topic: (right, total)."""
    by_topic = vectors.reshape(n_topics, per_topic, -1)
    profiles = by_topic[:, :PROFILE_TEXTS].mean(axis=1)
    profiles /= np.linalg.norm(profiles, axis=1, keepdims=True)
    held = by_topic[:, PROFILE_TEXTS:]
    nearest = np.argmax(held @ profiles.T, axis=2)  # (topic, held-out text)
    right = int(np.sum(nearest == np.arange(n_topics)[:, None]))
    return right, nearest.size


@pytest.mark.integration
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_held_out_texts_find_their_own_topic(
    corpus_vectors: Callable[[str], Vectors], corpus: dict[str, tuple[str, ...]], precision: str
) -> None:
    right, total = held_out_accuracy(corpus_vectors(precision), len(corpus))
    print(f"held-out topic accuracy {precision}: {right}/{total} = {right / total:.3f}")
    assert total == len(corpus) * (10 - PROFILE_TEXTS)
    assert right / total >= 0.90, f"{right}/{total}"


# --- devices ------------------------------------------------------------------------------------


@pytest.mark.unit
def test_choose_device() -> None:
    assert choose_device("cpu") == "cpu"
    assert choose_device("auto") == "cpu"  # this machine has no GPU
    with pytest.raises(EmbedError, match="embed.device cuda: not available") as err:
        choose_device("cuda")
    assert "\n" not in str(err.value)
    with pytest.raises(EmbedError, match="embed.device mps"):
        choose_device("mps")
    with pytest.raises(EmbedError):
        SentenceTransformerEncoder("cuda")


@pytest.mark.integration
def test_importing_game_embedding_does_not_import_torch() -> None:
    code = (
        "import sys\nimport game.embedding, game.corpus, game.bench.embed\n"
        "print([m for m in ('torch', 'sentence_transformers', 'aiohttp') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


# --- Ollama ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_ollama_unreachable_is_one_line_within_the_timeout() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    enc = OllamaEncoder(url, "nomic-embed-text", timeout=2.0)
    t0 = time.perf_counter()
    with pytest.raises(EmbedError) as err:
        enc.encode(["hello"])
    # A hang guard, not a speed: a refusal is immediate (milliseconds); only waiting or
    # retrying would reach the configured timeout.
    assert time.perf_counter() - t0 < enc.timeout
    msg = str(err.value)
    assert "\n" not in msg
    assert f"cannot reach {url} (connection refused)" in msg
    assert "ollama serve" in msg and "ollama pull nomic-embed-text" in msg


@pytest.mark.unit
def test_ollama_url_must_be_http() -> None:
    with pytest.raises(EmbedError, match="http://"):
        OllamaEncoder("file:///etc/passwd")


#: How long the fake Ollama takes to answer model "slow": ten times the timeout tried on it.
SLOW_REPLY = 2.0


@contextmanager
def fake_ollama(dim: int = 7) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny aiohttp server speaking Ollama's POST /api/embed, in a background thread."""
    from aiohttp import web

    seen: list[dict[str, Any]] = []

    async def embed(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append(body)
        model = body.get("model")
        if model == "slow":
            await asyncio.sleep(SLOW_REPLY)
        if model == "broken":
            return web.Response(text="<html>not json</html>", content_type="text/html")
        if model == "shapeless":
            return web.json_response({"embedding": [1.0, 2.0]})
        if model != "nomic-embed-text":
            return web.json_response(
                {"error": f'model "{model}" not found, try pulling it first'}, status=404
            )
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[float(len(t) + k) for k in range(dim)] for t in inputs]
        return web.json_response(
            {"model": model, "embeddings": vectors, "total_duration": 1, "load_duration": 1}
        )

    app = web.Application()
    app.router.add_post("/api/embed", embed)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.mark.integration
def test_ollama_protocol_conformance() -> None:
    with fake_ollama(dim=7) as (url, seen):
        enc = OllamaEncoder(url + "/", "nomic-embed-text", timeout=5.0)
        assert not enc.loaded
        emb = Embedder(enc, batch_size=2)
        out = emb.embed(["a", "bb", "ccc", "a"])
        assert out.shape == (4, 7) and out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
        expected = np.arange(7, dtype=np.float32) + 2  # "bb"
        np.testing.assert_allclose(out[1], expected / np.linalg.norm(expected), rtol=1e-6)
        assert seen == [
            {"model": "nomic-embed-text", "input": ["a", "bb"]},
            {"model": "nomic-embed-text", "input": ["ccc"]},
        ]
        assert enc.dim == 7 and emb.dim == 7 and enc.loaded


@pytest.mark.integration
@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("missing-model", "model 'missing-model' not found"),
        ("broken", "malformed reply"),
        ("shapeless", "malformed reply"),
    ],
)
def test_ollama_errors_are_one_line(model: str, needle: str) -> None:
    with fake_ollama() as (url, _):
        with pytest.raises(EmbedError, match=needle) as err:
            OllamaEncoder(url, model, timeout=5.0).encode(["hi"])
    assert "\n" not in str(err.value)
    if model == "missing-model":
        assert "ollama pull missing-model" in str(err.value)


@pytest.mark.integration
def test_ollama_respects_the_timeout() -> None:
    with fake_ollama() as (url, _):
        t0 = time.perf_counter()
        with pytest.raises(EmbedError, match="0.2 s") as err:
            OllamaEncoder(url, "slow", timeout=0.2).encode(["hi"])
        # It gave up before the reply came: against the fake's own delay, not a speed.
        assert time.perf_counter() - t0 < SLOW_REPLY
    assert "\n" not in str(err.value)


# --- the corpus ---------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_shipped_corpus_has_the_documented_shape(corpus: dict[str, tuple[str, ...]]) -> None:
    assert len(corpus) >= 40
    texts = [t for topic in corpus.values() for t in topic]
    assert len(set(texts)) == len(texts)
    for topic, items in corpus.items():
        assert len(items) == 10, topic
        for text in items:
            assert 6 <= len(text.split()) <= 16, text
    assert MEMORIES.name == "memories.yaml" and MEMORIES.is_file()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("a: [b\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("bees: honey\n", "topic 'bees': expected a non-empty list"),
        ("bees: []\n", "topic 'bees': expected a non-empty list"),
        ("bees:\n  - fine text\n  - 3\n", "topic 'bees': text 2"),
        ("bees:\n  - fine text\n  - ''\n", "topic 'bees': text 2"),
    ],
)
def test_bad_corpus_is_one_line(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(content)
    with pytest.raises(BadInput, match=needle) as err:
        load_corpus(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.unit
def test_missing_corpus_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        load_corpus(tmp_path / "nope.yaml")


@pytest.mark.unit
def test_assign_topics_is_a_seeded_shuffle(corpus: dict[str, tuple[str, ...]]) -> None:
    n = len(corpus)
    a = assign_topics(corpus, 25, np.random.default_rng(7))
    assert a == assign_topics(corpus, 25, np.random.default_rng(7))
    assert len(set(a)) == 25  # no repeats while bots <= topics
    assert a != assign_topics(corpus, 25, np.random.default_rng(8))
    many = assign_topics(corpus, n + 5, np.random.default_rng(7))
    assert sorted(many[:n]) == sorted(corpus) and many[n:] == many[:5]
    assert assign_topics(corpus, 0, np.random.default_rng(0)) == []


class _SmallDevice:
    """An encoder on a device that runs out of memory above ``limit`` texts a batch; its vector
    for a text depends only on the text (so a split must not change any row)."""

    name, device, precision, dim = "small-device", "cuda", "fp32", 4

    def __init__(self, limit: int, error: type[Exception] = RuntimeError) -> None:
        self.limit = limit
        self.error = error
        self.calls: list[int] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        if len(texts) > self.limit:
            raise self.error("CUDA out of memory. Tried to allocate 2.00 GiB")
        rows = np.array([[len(t), sum(map(ord, t)) % 97, t.count("a"), 1.0] for t in texts],
                        np.float32)
        out: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return out


@pytest.mark.unit
def test_a_batch_that_runs_out_of_memory_is_split_and_rows_stay_in_order() -> None:
    texts = [f"text {i} " + "a" * i for i in range(10)]
    reference = _SmallDevice(limit=100).encode(texts)
    device = _SmallDevice(limit=3)
    embedder = Embedder(device, batch_size=10, cache_size=0)
    got = embedder.embed(texts)
    assert np.array_equal(got, reference)
    assert max(n for n in device.calls if n <= 3) <= 3 and embedder.splits >= 3
    assert embedder.stats()["splits"] == embedder.splits


@pytest.mark.unit
def test_out_of_memory_on_one_text_is_one_line_and_other_errors_pass_through() -> None:
    with pytest.raises(EmbedError, match="out of memory encoding one text"):
        Embedder(_SmallDevice(limit=0), batch_size=4).embed(["x"])

    class Broken(_SmallDevice):
        def encode(self, texts: list[str]) -> np.ndarray:
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        Embedder(Broken(limit=9), batch_size=4).embed(["x", "y"])


@pytest.mark.unit
def test_warm_up_runs_one_batch_and_leaves_cache_and_counters_alone() -> None:
    device = _SmallDevice(limit=100)
    embedder = Embedder(device, batch_size=8)
    assert embedder.warm_up() >= 0.0
    assert device.calls == [8] and len(embedder) == 0
    assert embedder.stats()["requests"] == 0 and embedder.stats()["encode_calls"] == 0
