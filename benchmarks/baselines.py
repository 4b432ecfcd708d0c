"""The baselines the issue asks for, over the same memory texts: plain BM25 (``\\w+``
lower-cased tokens, k1 1.2, b 0.75, no stemming, no stop words) and dense-only MiniLM
(exact cosine). Kept outside ``memsvc`` on purpose: they are yardsticks, not features."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import numpy.typing as npt

__all__ = ["PlainBM25", "dense_ranking"]

_WORD = re.compile(r"\w+")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class PlainBM25:
    def __init__(self, docs: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        counts = [Counter(_tokens(d)) for d in docs]
        self.n = len(docs)
        self.lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
        self.avg = float(self.lengths.mean()) if self.n else 1.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, c in enumerate(counts):
            for term, tf in c.items():
                self.postings.setdefault(term, []).append((i, tf))

    def scores(self, query: str) -> npt.NDArray[np.float64]:
        out = np.zeros(self.n)
        for term in set(_tokens(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            rows = np.array([i for i, _ in posting])
            tf = np.array([f for _, f in posting], dtype=np.float64)
            idf = math.log(1 + (self.n - len(posting) + 0.5) / (len(posting) + 0.5))
            norm = self.k1 * (1 - self.b + self.b * self.lengths[rows] / self.avg)
            out[rows] += idf * tf * (self.k1 + 1) / (tf + norm)
        return out

    def ranking(self, query: str, k: int) -> list[int]:
        s = self.scores(query)
        return [int(i) for i in np.lexsort((np.arange(self.n), -s))[:k]]


def dense_ranking(
    vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32], k: int
) -> list[int]:
    s = vectors @ query
    return [int(i) for i in np.lexsort((np.arange(len(s)), -s))[:k]]
