"""The search pipeline: candidates -> hydrate from SQL -> filter -> rank -> de-duplicate.

Every index hit is re-checked against its SQL row (project, status, validity) before it
is returned, so the derived index can never leak a deleted or foreign memory.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from memsvc.clock import as_utc, utcnow
from memsvc.domain import SearchHit, SearchQuery, Status
from memsvc.retrieval.cache import ProjectCache
from memsvc.retrieval.candidates import CandidateSource
from memsvc.retrieval.filters import visible
from memsvc.retrieval.ranking import Candidate, adjust_fields, drop_near_duplicates
from memsvc.retrieval.relevance import Evidence, calibration_for, with_maxsim
from memsvc.retrieval.rerank import TokenEmbedder, maxsim, reranked_finals
from memsvc.store import memories as mem_store
from memsvc.store.database import Database
from memsvc.store.models import MemoryRow
from memsvc.telemetry.metrics import Metrics

__all__ = ["Searcher"]

_NO_EVIDENCE = Evidence(0.0, 0.0, 0.0, 0.0, 0.0)

Scored = tuple[float, str, Any, Candidate]
"""(final score, id, the row's ``RANK_COLUMNS``, candidate)."""


class Searcher:
    """Runs a search over one project's memories and returns ranked hits."""

    def __init__(
        self,
        db: Database,
        source: CandidateSource,
        cache: ProjectCache,
        near_cosine: float,
        metrics: Metrics | None = None,
        rerank_depth: int = 0,
    ) -> None:
        self.db = db
        self.rerank_depth = rerank_depth
        """Re-rank this many first hits by late interaction (``rerank``); 0: off."""
        self.source = source
        self.cache = cache
        self.near_cosine = near_cosine
        self.metrics = metrics or Metrics()
        self.calibration = calibration_for(source.embedder.identity)
        self.rerank_calibration = with_maxsim(self.calibration)

    def search(
        self,
        project: str,
        generation: int,
        query: SearchQuery,
        session: Session | None = None,
    ) -> list[SearchHit]:
        """Up to ``query.limit`` hits, best first, one per group of near-duplicates, each
        with a calibrated ``relevance``; hits below ``query.min_relevance`` are left out
        (so a query about nothing the project holds gets an empty list). ``session``: a
        read transaction of the caller's to read the rows in (else one of its own)."""
        return self.ranked(project, generation, query, query.min_relevance, session)

    def ranked(
        self,
        project: str,
        generation: int,
        query: SearchQuery,
        floor: float,
        session: Session | None = None,
    ) -> list[SearchHit]:
        """Like ``search`` with ``floor`` as the relevance threshold (0: keep all)."""
        statuses = [s.value for s in query.status or [Status.ACTIVE]]
        if query.as_of is not None:
            statuses = sorted({*statuses, Status.SUPERSEDED.value, Status.ARCHIVED.value})
        kinds = [k.value for k in query.kinds] if query.kinds else None
        # Tag and path filters apply after candidate generation: fetch deeper for them.
        depth = max(50, query.limit * (5 if query.tags or query.paths else 2))
        at = as_utc(query.as_of) or utcnow()
        # an unreadable index answers IndexRebuilding (503) for this project alone
        with self.metrics.stage("candidates"), self.cache.health.guard(project):
            candidates = self.source.candidates(
                project, generation, query.query, depth, statuses, kinds, at
            )
        with nullcontext(session) if session is not None else self.db.read() as s:
            with self.metrics.stage("hydrate"):
                rows = mem_store.get_rank_fields(s, project, [c.id for c in candidates])
            with self.metrics.stage("rank"):
                scored = self._rank(candidates, rows, query, statuses)
                if self.rerank_depth > 0:
                    scored = self._reranked(s, project, query.query, scored)
                chosen = self._distinct(project, generation, scored, query, floor)
            with self.metrics.stage("hits"):  # whole rows for the hits alone
                full = mem_store.get_rows(s, project, [t[1] for t, _, _ in chosen])
                return [
                    _hit(full[mid], final, parts, relevance)
                    for (final, mid, _, _), parts, relevance in chosen
                    if mid in full and visible(full[mid], query, statuses, at)
                ]

    @staticmethod
    def _rank(
        candidates: list[Candidate],
        rows: dict[str, Any],
        query: SearchQuery,
        statuses: list[str],
    ) -> list[Scored]:
        now = utcnow()
        at = as_utc(query.as_of) or now
        scored: list[Scored] = []
        for c in candidates:
            row = rows.get(c.id)  # every index hit is re-checked against SQL
            if row is None or not visible(row, query, statuses, at):
                continue
            born = as_utc(row.valid_from or row.created_at) or now
            final = adjust_fields(c, row.kind, row.pinned, row.importance, born, now)
            scored.append((final, c.id, row, c))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return scored

    def _reranked(self, s: Session, project: str, text: str, scored: list[Scored]) -> list[Scored]:
        """The first ``rerank_depth`` hits re-scored by late interaction (their dense part
        swapped for MaxSim), the rest after them in their order; unchanged when the
        embedder gives no token states. Their texts are read here (ranking reads only the
        ranking columns)."""
        embedder = self.source.embedder
        head, tail = scored[: self.rerank_depth], scored[self.rerank_depth :]
        if len(head) < 2 or not isinstance(embedder, TokenEmbedder):
            return scored
        full = mem_store.get_rows(s, project, [t[1] for t in head])
        head = [t for t in head if t[1] in full]
        if len(head) < 2:
            return scored
        states = embedder.token_states([text, *(full[mid].content for _, mid, _, _ in head)])
        sims = [maxsim(states[0], doc) for doc in states[1:]]
        finals = reranked_finals(
            [t[0] for t in head],
            [t[3].fused for t in head],
            [float(t[3].signals.get("dense_scaled") or 0.0) for t in head],
            sims,
        )
        out: list[Scored] = []
        for (_, mid, row, c), final, sim in zip(head, finals, sims, strict=True):
            c.parts["maxsim"] = round(sim, 6)
            c.parts["final"] = round(final, 6)
            out.append((final, mid, row, c))
        out.sort(key=lambda t: (-t[0], t[1]))
        return out + tail

    def _distinct(
        self,
        project: str,
        generation: int,
        scored: list[Scored],
        query: SearchQuery,
        floor: float,
    ) -> list[tuple[Scored, dict[str, Any], float]]:
        """The hits to return: (scored, parts, relevance), best first."""
        ids = [t[1] for t in scored]
        vectors = self.cache.vectors_of(project, generation, ids)
        keep = set(drop_near_duplicates(ids, vectors, self.near_cosine))
        kept = [t for t in scored if t[1] in keep]
        hits: list[tuple[Scored, dict[str, Any], float]] = []
        evidence: dict[str, Evidence] = {}
        for at, t in enumerate(kept):
            mid, c = t[1], t[3]
            if mid not in evidence:  # the evidence of the next ``limit`` hits, as needed
                chunk = [k[1] for k in kept[at : at + query.limit]]
                evidence = self._evidence(project, generation, query.query, chunk, vectors)
                evidence.update((k, _NO_EVIDENCE) for k in chunk if k not in evidence)
            ev = evidence[mid]
            sim = c.parts.get("maxsim")
            if sim is not None and self.rerank_calibration is not None:
                relevance = self.rerank_calibration.of(ev, float(sim))
            else:
                relevance = self.calibration.of(ev)
            if relevance < floor:
                continue
            parts = {
                **c.parts,
                "cosine": round(ev.cosine, 6),
                "coverage": round(ev.coverage, 6),
                "coverage_undated": round(ev.coverage_undated, 6),
                "unknown": round(ev.unknown, 6),
                "unnamed": round(ev.unnamed, 6),
            }
            hits.append((t, parts, relevance))
            if len(hits) >= query.limit:
                break
        return hits

    def _evidence(
        self,
        project: str,
        generation: int,
        text: str,
        ids: list[str],
        vectors: dict[str, npt.NDArray[np.float32]],
    ) -> dict[str, Evidence]:
        """The ``Evidence`` of each id: the absolute signals relevance is computed from."""
        qvec = self.source.embed_query(text)
        entry = self.cache.entry(project, generation)
        with entry.lock:
            prev = entry.timeline().prev
            known = [i for i in ids if i in entry.pos]
            rows = [entry.pos[i] for i in known]
            covers, undated, unknown, unnamed = entry.lexical.evidence(
                text, rows, [int(prev[r]) for r in rows]
            )
        out: dict[str, Evidence] = {}
        for mid, cover, cover_undated in zip(known, covers, undated, strict=True):
            vec = vectors.get(mid)
            cosine = float(vec @ qvec) if vec is not None else 0.0
            out[mid] = Evidence(cosine, cover, cover_undated, unknown, unnamed)
        return out


def _hit(row: MemoryRow, score: float, parts: dict[str, Any], relevance: float) -> SearchHit:
    memory = mem_store.to_memory(row)
    return SearchHit(
        memory=memory,
        score=round(score, 6),
        relevance=round(relevance, 4),
        parts=parts,
        provenance_line=memory.provenance.line(memory.updated_at),
    )
