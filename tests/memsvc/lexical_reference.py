"""The dict-of-dicts BM25F index that ``memsvc.retrieval.lexical`` replaced (kept verbatim
as the reference its compact successor must score identically to), but for the ranking
IDF's N, which both take from ``lexical.query_collection`` (the rows holding a query
term)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import numpy.typing as npt

from memsvc.retrieval import lexical
from memsvc.retrieval.analysis import analyze
from memsvc.retrieval.lexical import BM25_B, BM25_K1
from memsvc.retrieval.relevance import coverage

__all__ = ["ReferenceIndex"]


Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class ReferenceIndex:
    """Postings by row number (the row numbering of the project's dense matrix)."""

    def __init__(self) -> None:
        self._postings: dict[str, dict[int, int]] = {}
        self._terms: dict[int, Counter[str]] = {}
        self._lengths = np.zeros(0, dtype=np.float64)

    @property
    def documents(self) -> int:
        """How many rows hold indexed text."""
        return len(self._terms)

    def put(self, row: int, text: str) -> None:
        """Index ``text`` as row ``row`` (replacing what the row held)."""
        self.clear(row)
        counts = Counter(analyze(text))
        self._ensure(row + 1)
        self._lengths[row] = float(sum(counts.values()))
        self._terms[row] = counts
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[row] = tf

    def _ensure(self, size: int) -> None:
        if size > self._lengths.size:
            grown = np.zeros(max(size, int(self._lengths.size * 1.5) + 64))
            grown[: self._lengths.size] = self._lengths
            self._lengths = grown

    def clear(self, row: int) -> None:
        """Remove row ``row``'s terms from the index (no-op when it holds none)."""
        counts = self._terms.pop(row, None)
        if counts is None:
            return
        for term in counts:
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(row, None)
                if not posting:
                    del self._postings[term]
        self._lengths[row] = 0.0

    def _term_freqs(self, term: str, n: int) -> tuple[Floats, int]:
        posting = self._postings.get(term)
        tf = np.zeros(n, dtype=np.float64)
        if not posting:
            return tf, 0
        rows = np.fromiter(posting.keys(), dtype=np.int64, count=len(posting))
        tf[rows] = np.fromiter(posting.values(), dtype=np.float64, count=len(posting))
        return tf, len(posting)

    def scores(self, query: str, n: int, prev: Ints) -> Floats:
        """BM25F score of each of the first ``n`` rows; ``prev[i]`` is row i's predecessor
        in its episode or -1."""
        out = np.zeros(n, dtype=np.float64)
        docs = self.documents
        if n == 0 or docs == 0:
            return out
        self._ensure(n)
        has_prev = prev[:n] >= 0
        prev_rows = np.where(has_prev, prev[:n], 0)
        own_len = self._lengths[:n]
        length = own_len + lexical.NEIGHBOUR_WEIGHT * np.where(has_prev, own_len[prev_rows], 0.0)
        live_lengths = length[own_len > 0]
        avg = float(live_lengths.mean()) if live_lengths.size else 1.0
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / max(avg, 1e-9))
        found = [self._term_freqs(term, n) for term in dict.fromkeys(analyze(query))]
        found = [(tf, df) for tf, df in found if df > 0]
        docs = lexical.query_collection(found)
        for tf, df in found:
            idf = math.log(1.0 + (docs - df + 0.5) / (df + 0.5))
            tf = tf + lexical.NEIGHBOUR_WEIGHT * np.where(has_prev, tf[prev_rows], 0.0)
            out += idf * tf * (BM25_K1 + 1.0) / (tf + norm)
        return out

    def idf(self, term: str) -> float:
        """BM25's IDF of ``term`` in this index; a term no memory holds gets the highest."""
        docs = self.documents
        df = len(self._postings.get(term, ()))
        return math.log(1.0 + (docs - df + 0.5) / (df + 0.5))

    def coverage(self, query: str, rows: list[int], prev: list[int]) -> list[float]:
        """For each of ``rows`` (``prev``: its predecessor row or -1), the IDF-weighted
        share of the query's terms it holds, its predecessor's at ``lexical.NEIGHBOUR_WEIGHT``."""
        terms = list(dict.fromkeys(analyze(query)))
        weights = [self.idf(t) for t in terms]
        empty: Counter[str] = Counter()
        out = []
        for row, before in zip(rows, prev, strict=True):
            own = self._terms.get(row, empty)
            nb = self._terms.get(before, empty) if before >= 0 else empty
            out.append(
                coverage(
                    weights,
                    [t in own for t in terms],
                    [t in nb for t in terms],
                    lexical.NEIGHBOUR_WEIGHT,
                )
            )
        return out
