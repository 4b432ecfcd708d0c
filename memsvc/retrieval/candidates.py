"""Candidate generation, the first step of a search. Every project is ranked by the same
``hybrid.score_rows`` (BM25F with a neighbour field, dense, time and episode signals),
computed only for the rows that can score (``sparse``). A project of at most
``exact_scan_max_rows`` rows takes its dense part from every row's cosine. A bigger one
(``ann="coarse"``, the default) takes the best cosines from the coarse quantizer held
beside its vectors (``coarse``, trained in the background on the first search; until
then every row's cosine is computed); the cosines the ranking reports are exact, so only
the dense top can differ from the exact scan's. With
``ann="lance"`` a bigger project, once its LanceDB vector index is built, is ranked over
a candidate pool (``pool``) whose dense hits come from that index."""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.cache import CachedProject, ProjectCache
from memsvc.retrieval.coarse import CoarseIndex
from memsvc.retrieval.embedder import Embedder, QueryCache
from memsvc.retrieval.hybrid import candidates_from, score_rows
from memsvc.retrieval.pool import pool_depth, pool_rows, pool_timeline
from memsvc.retrieval.ranking import Candidate
from memsvc.retrieval.sparse import Cosines, DenseSource, Mask, Rows, sparse_candidates
from memsvc.retrieval.temporal import time_spans
from memsvc.retrieval.timeline import Timeline
from memsvc.store.index import LanceIndex

__all__ = ["ANN_KINDS", "CandidateSource", "CoarseDense", "query_terms"]

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 64
ACTIVE = "active"
UNFILTERED_SLACK = 2
ANN_KINDS = ("coarse", "lance")
EPISODE_FEEDBACK = False
"""Pseudo-relevance feedback limited to the top episode: expand the query with the
strongest terms of the best-ranked memory's episode and score once more (in-memory path).
Tried for issue 14; off: no gain on the dev split."""
FEEDBACK_ROWS = 0
"""Feed back only the episode's best this many rows (those its episode score averages:
``hybrid.EPISODE_TOP``); 0 = every row of the episode."""
"""An unfiltered index query asks this many times the pool depth (some hits are dropped
by the status mask)."""
LEXICAL_DEPTH = 0
"""Above ``exact_scan_max_rows`` (the coarse path), score only this many of the best
lexical rows (0: all of them). An experiment for issue 11, off: the others then count
as unscored rows of their episodes, which makes the lexical part approximate
(``benchmarks/results/search_passes.md``)."""


def query_terms(text: str) -> list[str]:
    """Plain lower-cased words: no query syntax from the caller reaches the FTS engine."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(seen) >= MAX_TERMS:
            break
        seen.setdefault(word[:40], None)
    return list(seen)


class CandidateSource:
    """Scored candidate ids for a query: every row scored below ``exact_scan_max_rows``,
    else a pool from the vector index and the keyword index."""

    def __init__(
        self,
        index: LanceIndex,
        embedder: Embedder,
        cache: ProjectCache,
        exact_scan_max_rows: int = 50_000,
        ann: str = "coarse",
        train_in_background: bool = True,
    ) -> None:
        if ann not in ANN_KINDS:
            raise ValueError(f"ann must be one of {ANN_KINDS}, not {ann!r}")
        self.index = index
        self.embedder = embedder
        self.cache = cache
        self.queries = QueryCache(embedder)
        self.exact_max = exact_scan_max_rows
        self.ann = ann
        self.train_in_background = train_in_background

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
        if self.ann == "coarse":
            coarse = self._coarse(entry) if entry.n > self.exact_max else None
            return self._in_memory(entry, qvec, text, depth, set(statuses), kinds, at, coarse)
        if self.uses_ann(project, entry.n):
            try:
                ids = self._dense_ids(project, qvec, depth, statuses, kinds)
            except Exception as exc:  # noqa: BLE001 - the exact scan still answers
                log.warning("vector index query for %s failed, scanning: %s", project, exc)
            else:
                return self._pooled(entry, qvec, text, depth, set(statuses), kinds, at, ids)
        return self._in_memory(entry, qvec, text, depth, set(statuses), kinds, at)

    def _dense_ids(
        self,
        project: str,
        qvec: npt.NDArray[np.float32],
        depth: int,
        statuses: list[str],
        kinds: list[str] | None,
    ) -> list[str]:
        """The vector index's best ids: unfiltered (the pool applies the mask) for the
        everyday search of active memories, which most rows are, with room for those the
        mask drops; filtered by LanceDB for rarer statuses or kinds."""
        k = pool_depth(depth)
        if kinds or statuses != [ACTIVE]:
            hits = self.index.ann_search(project, qvec[None, :], k, statuses, kinds)[0]
        else:
            hits = self.index.ann_search(project, qvec[None, :], UNFILTERED_SLACK * k)[0]
        return [i for i, _ in hits]

    def uses_ann(self, project: str, rows: int) -> bool:
        """Whether a search of this project (of ``rows`` rows) takes its dense candidates
        from the LanceDB vector index (``ann="lance"``): above ``exact_scan_max_rows``,
        once the index is built."""
        return self.ann == "lance" and rows > self.exact_max and self.index.ann_built(project)

    def _coarse(self, entry: CachedProject) -> CoarseIndex | None:
        """The entry's coarse quantizer; when it has none, its training is started on a
        thread of its own (or done now, ``train_in_background=False``) and, meanwhile,
        None (the search computes every row's cosine)."""
        if entry.coarse is not None:
            return entry.coarse
        if not self.train_in_background:
            return entry.trained_coarse()
        if not entry.coarse_wanted:
            entry.coarse_wanted = True
            threading.Thread(
                target=_train, args=(entry,), name="memsvc-coarse", daemon=True
            ).start()
        return None

    @staticmethod
    def _in_memory(
        entry: CachedProject,
        qvec: npt.NDArray[np.float32],
        text: str,
        depth: int,
        statuses: set[str],
        kinds: list[str] | None,
        at: datetime | None,
        coarse: CoarseIndex | None = None,
    ) -> list[Candidate]:
        with entry.lock:
            n = entry.n
            if n == 0:
                return []
            dense32: Cosines | CoarseDense
            if coarse is not None:
                with coarse.lock:
                    coarse.file(entry.matrix[:n])
                dense32 = CoarseDense(coarse, entry.matrix[:n], qvec)
            else:
                dense32 = entry.matrix[:n] @ qvec
            timeline = entry.timeline()
            mask = entry.mask(statuses, set(kinds) if kinds else None)
            times = entry.times_array()
            if not EPISODE_FEEDBACK:  # the same ranking from the rows that can score
                found = sparse_candidates(
                    text,
                    dense32,
                    entry.lexical,
                    timeline,
                    mask,
                    entry.episode_counts(mask),
                    times,
                    entry.ids,
                    depth,
                    at,
                    LEXICAL_DEPTH if coarse is not None else 0,
                )
                if found is not None:
                    return found
            if isinstance(dense32, CoarseDense):
                dense32 = dense32.every_row()
            dense = dense32.astype(np.float64)
            lexical = entry.lexical.scores(text, n, timeline.prev)
            spans = time_spans(text, at, entry.lexical.rows_holding, times, mask)
            ids = entry.ids[:n]
        scores = score_rows(text, lexical, dense, times, timeline, mask, at, spans)
        if EPISODE_FEEDBACK and mask.any():
            lexical = _fed_back(entry, text, n, scores.fused, timeline, mask)
            scores = score_rows(text, lexical, dense, times, timeline, mask, at, spans)
        return candidates_from(scores, ids, mask, depth)

    @staticmethod
    def _pooled(
        entry: CachedProject,
        qvec: npt.NDArray[np.float32],
        text: str,
        depth: int,
        statuses: set[str],
        kinds: list[str] | None,
        at: datetime | None,
        dense_ids: list[str],
    ) -> list[Candidate]:
        """``_in_memory`` over the pool of the ANN hits ``dense_ids`` (see ``pool``)."""
        with entry.lock:
            n = entry.n
            if n == 0:
                return []
            timeline = entry.timeline()
            lexical = _lexical_scores(entry, text, n, timeline)
            mask = entry.mask(statuses, set(kinds) if kinds else None)
            times = entry.times_array()
            k = pool_depth(depth)
            rows = pool_rows(text, dense_ids, entry.pos, lexical, times, timeline, mask, at, k)
            dense = (entry.matrix[rows] @ qvec).astype(np.float64)
            ids = [entry.ids[r] for r in rows]
        everyone = np.ones(rows.size, dtype=bool)
        sub = pool_timeline(timeline, rows)
        scores = score_rows(text, lexical[rows], dense, times[rows], sub, everyone, at)
        return candidates_from(scores, ids, everyone, depth)


class CoarseDense(DenseSource):
    """A query's cosines for the sparse scoring of a big project: the best rows from the
    coarse quantizer, the few others it asks for (the chosen rows') computed from the held
    vectors. Hold the entry's lock while it is used."""

    def __init__(self, coarse: CoarseIndex, matrix: npt.NDArray[np.float32], query: Cosines):
        self.coarse, self.matrix, self.query = coarse, matrix, query
        self._all: Cosines | None = None

    def best(self, m: int, mask: Mask, masked: int) -> Rows | None:
        with self.coarse.lock:
            rows = self.coarse.best_masked(self.matrix, self.query, m, mask)
        return rows if rows.size >= m else None

    def of(self, rows: Rows) -> Cosines:
        return self._all[rows] if self._all is not None else self.matrix[rows] @ self.query

    def every_row(self) -> Cosines:
        """Every row's cosine (when only scoring every row can answer)."""
        if self._all is None:
            self._all = self.matrix @ self.query
        return self._all


def _train(entry: CachedProject) -> None:
    try:
        entry.trained_coarse()
    except Exception:  # searches go on scanning; a later one asks again
        log.exception("training the coarse quantizer failed")
        entry.coarse_wanted = False


def _lexical_scores(
    entry: CachedProject, text: str, n: int, timeline: Timeline
) -> npt.NDArray[np.float64]:
    """``entry.lexical.scores`` of every row, computed from the query terms' postings."""
    if timeline.next is None:
        return entry.lexical.scores(text, n, timeline.prev)
    rows, values = entry.lexical.sparse_scores(text, n, timeline.prev, timeline.next)
    out = np.zeros(n, dtype=np.float64)
    out[rows] = values
    return out


def _fed_back(
    entry: CachedProject,
    text: str,
    n: int,
    fused: npt.NDArray[np.float64],
    timeline: Timeline,
    mask: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """The lexical scores of ``text`` expanded with its top episode's strongest terms."""
    best = int(np.argmax(fused))
    ep = int(timeline.episode[best])
    rows = np.flatnonzero(mask & (timeline.episode == ep)) if ep >= 0 else np.array([best])
    if FEEDBACK_ROWS > 0:
        rows = rows[np.argsort(-fused[rows], kind="stable")[:FEEDBACK_ROWS]]
    with entry.lock:
        extra = entry.lexical.feedback_terms(text, rows)
        return entry.lexical.scores(text, n, timeline.prev, extra)
