"""Candidate generation, the first step of a search. A project small enough to hold in
memory is scored whole by ``hybrid`` (BM25F with a neighbour field, dense, time and
episode signals); a bigger one falls back to LanceDB vector and full-text search fused by
reciprocal rank."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.cache import CachedProject, ProjectCache
from memsvc.retrieval.embedder import Embedder, QueryCache
from memsvc.retrieval.hybrid import candidates_from, score_rows
from memsvc.retrieval.ranking import Candidate, fuse
from memsvc.store.index import LanceIndex

__all__ = ["CandidateSource", "query_terms"]

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 64


def query_terms(text: str) -> list[str]:
    """Plain lower-cased words: no query syntax from the caller reaches the FTS engine."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(seen) >= MAX_TERMS:
            break
        seen.setdefault(word[:40], None)
    return list(seen)


class CandidateSource:
    """Scored candidate ids for a query: in memory below ``exact_scan_max_rows``, else from
    the LanceDB index."""

    def __init__(
        self,
        index: LanceIndex,
        embedder: Embedder,
        cache: ProjectCache,
        exact_scan_max_rows: int = 50_000,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.cache = cache
        self.queries = QueryCache(embedder)
        self.exact_max = exact_scan_max_rows

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """The query's vector (LRU-cached)."""
        return self.queries.get(text)

    def candidates(
        self,
        project: str,
        generation: int,
        text: str,
        depth: int,
        statuses: list[str],
        kinds: list[str] | None,
        at: datetime | None = None,
    ) -> list[Candidate]:
        """Up to ``depth`` candidates of these statuses and kinds, best first; relative
        times in the query ("last week") are read against ``at`` (default: now)."""
        qvec = self.embed_query(text)
        entry = self.cache.entry(project, generation)
        if entry.n <= self.exact_max:
            return self._in_memory(entry, qvec, text, depth, set(statuses), kinds, at)
        # pragma: no cover - exercised by the scale benchmark
        dense = self.index.vector_search(project, qvec, depth, statuses, kinds or [])
        lexical = self.index.full_text(project, query_terms(text), depth, statuses, kinds or [])
        return fuse(dense, lexical)

    @staticmethod
    def _in_memory(
        entry: CachedProject,
        qvec: npt.NDArray[np.float32],
        text: str,
        depth: int,
        statuses: set[str],
        kinds: list[str] | None,
        at: datetime | None,
    ) -> list[Candidate]:
        with entry.lock:
            n = entry.n
            if n == 0:
                return []
            dense = (entry.matrix[:n] @ qvec).astype(np.float64)
            timeline = entry.timeline()
            lexical = entry.lexical.scores(text, n, timeline.prev)
            mask = entry.mask(statuses, set(kinds) if kinds else None)
            times = entry.times_array()
            ids = entry.ids[:n]
        scores = score_rows(text, lexical, dense, times, timeline, mask, at)
        return candidates_from(scores, ids, mask, depth)
