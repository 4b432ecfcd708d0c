"""A disk cache of MiniLM vectors for the quality benchmarks (``benchmarks/.cache/``, git
ignored): the same vectors as ``MiniLMEmbedder`` (each text is embedded by it once), so a
re-run spends its time on retrieval, not on the model. Delete the file to start afresh."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.embedder import MiniLMEmbedder

__all__ = ["DEFAULT_CACHE", "CachedEmbedder"]

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache" / "minilm-vectors.npz"
Vectors = npt.NDArray[np.float32]


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class CachedEmbedder:
    """``MiniLMEmbedder`` with a text -> vector disk cache (same identity and dim, so
    memsvc calibrates it as MiniLM). The model loads only on a cache miss."""

    identity = MiniLMEmbedder.identity
    dim = MiniLMEmbedder.dim

    def __init__(self, path: Path = DEFAULT_CACHE, quantized_queries: bool = False) -> None:
        self.path = path
        self.quantized_queries = quantized_queries
        self._inner: MiniLMEmbedder | None = None
        self._queries: MiniLMEmbedder | None = None
        self._vectors: dict[str, Vectors] = {}
        self._dirty = False
        if path.exists():
            with np.load(path) as data:
                keys, mat = data["keys"], data["vectors"]
            self._vectors = {str(k): mat[i] for i, k in enumerate(keys)}

    def warm(self) -> None:
        """Nothing to load up front: the model loads on the first miss."""

    def embed(self, texts: list[str]) -> Vectors:
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            if self._inner is None:
                self._inner = MiniLMEmbedder()
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            fresh = self._inner.embed([by_key[k] for k in missing])
            self._vectors.update(zip(missing, fresh, strict=True))
            self._dirty = True
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self._vectors[k]
        return out

    def embed_query(self, text: str) -> Vectors:
        """A query's vector as the service embeds it: the memories' vector, or with
        ``quantized_queries`` the int8 graph's (``MiniLMEmbedder.embed_query``), cached
        apart."""
        if not self.quantized_queries:
            vec: Vectors = self.embed([text])[0]
            return vec
        key = "q8|" + _key(text)
        held = self._vectors.get(key)
        if held is None:
            if self._queries is None:
                self._queries = MiniLMEmbedder(quantized_queries=True)
            held = self._vectors[key] = self._queries.embed_query(text)
            self._dirty = True
        return held

    def token_states(self, texts: list[str]) -> list[Vectors]:
        """The model's token states (not cached: the opt-in re-ranker's cost is real)."""
        if self._inner is None:
            self._inner = MiniLMEmbedder()
        return self._inner.token_states(texts)

    def save(self) -> None:
        """Write the cache when it gained vectors."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="<U40")
        mat = np.stack(list(self._vectors.values())).astype(np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=mat)
        tmp.replace(self.path)
        self._dirty = False
