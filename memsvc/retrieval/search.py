"""The search pipeline: candidates -> hydrate from SQL -> filter -> rank -> de-duplicate.

Every index hit is re-checked against its SQL row (project, status, validity) before it
is returned, so the derived index can never leak a deleted or foreign memory.
"""

from __future__ import annotations

from typing import Any

from memsvc.clock import as_utc, utcnow
from memsvc.domain import SearchHit, SearchQuery, Status
from memsvc.retrieval.cache import ProjectCache
from memsvc.retrieval.candidates import CandidateSource
from memsvc.retrieval.filters import visible
from memsvc.retrieval.ranking import Candidate, adjust_fields, drop_near_duplicates
from memsvc.store import memories as mem_store
from memsvc.store.database import Database
from memsvc.store.models import MemoryRow
from memsvc.telemetry.metrics import Metrics

__all__ = ["Searcher"]

Scored = tuple[float, str, MemoryRow, Candidate]


class Searcher:
    """Runs a search over one project's memories and returns ranked hits."""

    def __init__(
        self,
        db: Database,
        source: CandidateSource,
        cache: ProjectCache,
        near_cosine: float,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.source = source
        self.cache = cache
        self.near_cosine = near_cosine
        self.metrics = metrics or Metrics()

    def search(self, project: str, generation: int, query: SearchQuery) -> list[SearchHit]:
        """Up to ``query.limit`` hits, best first, one per group of near-duplicates."""
        statuses = [s.value for s in query.status or [Status.ACTIVE]]
        if query.as_of is not None:
            statuses = sorted({*statuses, Status.SUPERSEDED.value, Status.ARCHIVED.value})
        kinds = [k.value for k in query.kinds] if query.kinds else None
        # Tag and path filters apply after candidate generation: fetch deeper for them.
        depth = max(50, query.limit * (5 if query.tags or query.paths else 2))
        with self.metrics.stage("candidates"):
            candidates = self.source.candidates(
                project, generation, query.query, depth, statuses, kinds
            )
        with self.metrics.stage("hydrate"), self.db.read() as s:
            rows = mem_store.get_rows(s, project, [c.id for c in candidates])
        with self.metrics.stage("rank"):
            scored = self._rank(candidates, rows, query, statuses)
            return self._distinct(project, generation, scored, query.limit)

    @staticmethod
    def _rank(
        candidates: list[Candidate],
        rows: dict[str, MemoryRow],
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

    def _distinct(
        self, project: str, generation: int, scored: list[Scored], limit: int
    ) -> list[SearchHit]:
        vectors = self.cache.vectors_of(project, generation, [t[1] for t in scored])
        keep = set(drop_near_duplicates([t[1] for t in scored], vectors, self.near_cosine))
        hits: list[SearchHit] = []
        for final, mid, row, c in scored:
            if mid not in keep:
                continue
            hits.append(_hit(row, final, c.parts))
            if len(hits) >= limit:
                break
        return hits


def _hit(row: MemoryRow, score: float, parts: dict[str, Any]) -> SearchHit:
    memory = mem_store.to_memory(row)
    return SearchHit(
        memory=memory,
        score=round(score, 6),
        parts=parts,
        provenance_line=memory.provenance.line(memory.updated_at),
    )
