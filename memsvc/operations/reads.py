"""Reading memories: get, list, history, hybrid search and token-budgeted context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import literal
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from memsvc.clock import as_utc, utcnow
from memsvc.domain import (
    Actor,
    ContextPack,
    ContextRequest,
    Kind,
    Memory,
    MemoryPage,
    MemoryVersion,
    Omitted,
    Role,
    SearchHit,
    SearchQuery,
    Status,
)
from memsvc.errors import (
    InvalidInput,
)
from memsvc.operations.base import RELEVANT_KINDS, ServiceBase
from memsvc.operations.rows import paths_match, valid_between
from memsvc.retrieval.context import BLOCK_OVERHEAD_MIN, OVER_BUDGET, PackPlan, pack_context
from memsvc.retrieval.ranking import adjust_fields, drop_near_duplicates
from memsvc.store import memories as mem_store
from memsvc.store.models import MemoryRow

__all__ = ["ReadOps"]


class ReadOps(ServiceBase):
    """Reads and recall."""

    def get_memory(self, actor: Actor, project: str, memory_id: str) -> Memory:
        with self._op(actor, "get_memory", project) as op, self.db.read() as s:
            op.targets = [memory_id[:26]]
            self._require(actor, project, Role.READER)
            self._project_row(s, actor, project)
            memory = mem_store.to_memory(mem_store.get_memory_row(s, project, memory_id))
            op.returned = [memory.id]
            return memory

    def list_memories(
        self,
        actor: Actor,
        project: str,
        *,
        kinds: list[Kind] | None = None,
        statuses: list[Status] | None = None,
        tag: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        pinned: bool | None = None,
    ) -> MemoryPage:
        with self._op(actor, "list_memories", project) as op, self.db.read() as s:
            self._require(actor, project, Role.READER)
            if not 1 <= limit <= self.limits.list_limit:
                raise InvalidInput(f"limit must be between 1 and {self.limits.list_limit}")
            self._project_row(s, actor, project)
            page = mem_store.list_page(
                s,
                project,
                kinds=[k.value for k in kinds] if kinds else None,
                statuses=[x.value for x in statuses or [Status.ACTIVE]],
                tag=tag,
                limit=limit,
                cursor=cursor,
                pinned=pinned,
            )
            op.returned = [m.id for m in page.memories]
            return page

    def memory_history(self, actor: Actor, project: str, memory_id: str) -> list[MemoryVersion]:
        with self._op(actor, "memory_history", project) as op, self.db.read() as s:
            op.targets = [memory_id[:26]]
            self._require(actor, project, Role.READER)
            self._project_row(s, actor, project)
            return mem_store.history(s, project, memory_id)

    def search_memories(self, actor: Actor, project: str, query: SearchQuery) -> list[SearchHit]:
        with self._op(actor, "search_memories", project) as op:
            self._require(actor, project, Role.READER)
            self._check_query(query)
            op.detail.update(query=self.audit.query_detail(query.query), limit=query.limit)
            with self.db.read() as s:
                generation = self._project_row(s, actor, project).index_generation
            hits = self._search(project, generation, query)
            op.returned = [h.memory.id for h in hits]
            return hits

    def _check_query(self, query: SearchQuery) -> None:
        if not query.query.strip():
            raise InvalidInput("query is empty; say what to look for")
        if len(query.query) > self.limits.query_chars:
            raise InvalidInput(f"query is longer than {self.limits.query_chars} characters")
        if not 1 <= query.limit <= self.limits.search_limit:
            raise InvalidInput(f"limit must be between 1 and {self.limits.search_limit}")

    def _search(self, project: str, generation: int, query: SearchQuery) -> list[SearchHit]:
        statuses = [s.value for s in query.status or [Status.ACTIVE]]
        if query.as_of is not None:
            statuses = sorted({*statuses, Status.SUPERSEDED.value, Status.ARCHIVED.value})
        kinds = [k.value for k in query.kinds] if query.kinds else None
        # Tag and path filters apply after candidate generation: fetch deeper for them.
        depth = max(50, query.limit * (5 if query.tags or query.paths else 2))
        candidates = self.retriever.candidates(
            project, generation, query.query, depth, statuses, kinds
        )
        with self.db.read() as s:
            rows = mem_store.get_rows(s, project, [c.id for c in candidates])
        now = utcnow()
        at = as_utc(query.as_of) or now
        scored: list[tuple[float, str, MemoryRow, Any]] = []
        for c in candidates:
            row = rows.get(c.id)  # every index hit is re-checked against SQL
            if row is None or not self._visible(row, query, statuses, at):
                continue
            born = as_utc(row.valid_from or row.created_at) or now
            final = adjust_fields(c, row.kind, row.pinned, row.importance, born, now)
            scored.append((final, c.id, row, c))
        scored.sort(key=lambda t: (-t[0], t[1]))
        vectors = self.retriever.cache.vectors_of(project, generation, [t[1] for t in scored])
        keep = set(
            drop_near_duplicates(
                [t[1] for t in scored], vectors, self.settings.near_duplicate_cosine
            )
        )
        hits = []
        for final, mid, row, c in scored:
            if mid not in keep:
                continue
            memory = mem_store.to_memory(row)
            hits.append(
                SearchHit(
                    memory=memory,
                    score=round(final, 6),
                    parts=c.parts,
                    provenance_line=memory.provenance.line(memory.updated_at),
                )
            )
            if len(hits) >= query.limit:
                break
        return hits

    @staticmethod
    def _visible(row: MemoryRow, query: SearchQuery, statuses: list[str], at: datetime) -> bool:
        if row.status not in statuses:
            return False
        if query.kinds and row.kind not in {k.value for k in query.kinds}:
            return False
        if query.tags and not set(query.tags) & set(row.tags):
            return False
        if query.paths and not paths_match(row.paths, query.paths):
            return False
        start, end = as_utc(row.valid_from), as_utc(row.valid_until)
        if (start and start > at) or (end and end <= at):
            return False
        if query.as_of is not None:
            created = as_utc(row.created_at)
            if created and created > at:
                return False
            if row.status != Status.ACTIVE and (as_utc(row.status_changed_at) or at) <= at:
                return row.status in (query.status or [])
        return True

    def get_context(self, actor: Actor, project: str, request: ContextRequest) -> ContextPack:
        with self._op(actor, "get_context", project) as op:
            self._require(actor, project, Role.READER)
            self._check_budget(request.budget_tokens)
            with self.db.read() as s:
                generation = self._project_row(s, actor, project).index_generation
            op.detail.update(budget_tokens=request.budget_tokens)
            if request.task:
                op.detail["task"] = self.audit.query_detail(request.task)
            pack = self._context(project, generation, request)
            op.returned = [m.id for m in pack.items]
            return pack

    def _check_budget(self, budget: int) -> None:
        if not 1 <= budget <= self.limits.budget_tokens:
            raise InvalidInput(f"budget_tokens must be between 1 and {self.limits.budget_tokens}")

    def _context(self, project: str, generation: int, request: ContextRequest) -> ContextPack:
        now = utcnow()
        with self.db.read() as s:
            base = select(MemoryRow).where(
                MemoryRow.project_id == project, MemoryRow.status == Status.ACTIVE.value
            )
            rule_rows = s.execute(
                sa_select(
                    col(MemoryRow.id),
                    col(MemoryRow.token_count),
                    col(MemoryRow.valid_from),
                    col(MemoryRow.valid_until),
                    # the JSON column is decoded only when the request filters by paths
                    col(MemoryRow.paths) if request.paths else literal(None),
                )
                .where(
                    col(MemoryRow.project_id) == project,
                    col(MemoryRow.status) == Status.ACTIVE.value,
                    col(MemoryRow.kind) == Kind.RULE.value,
                )
                .order_by(
                    col(MemoryRow.pinned).desc(),
                    col(MemoryRow.importance).desc(),
                    col(MemoryRow.id),
                )
            ).all()
            # Only rules that may fit are loaded: a project with thousands of rules must
            # not load them all to fill a 2,000-token pack.
            room = request.budget_tokens
            wanted: list[str] = []
            skipped: list[Omitted] = []
            for rid, tokens, start, end, paths in rule_rows:
                if not valid_between(start, end, now) or (
                    request.paths and not paths_match(paths, request.paths)
                ):
                    continue
                need = tokens + BLOCK_OVERHEAD_MIN
                if need <= room:
                    wanted.append(rid)
                    room -= need
                else:
                    skipped.append(  # trusted values: skip validation, there may be thousands
                        Omitted.model_construct(
                            id=rid, kind=Kind.RULE, reason=OVER_BUDGET, tokens=need
                        )
                    )
            loaded = mem_store.get_rows(s, project, wanted)
            rules = [mem_store.to_memory(loaded[i]) for i in wanted if i in loaded]
            handoff = s.exec(
                base.where(MemoryRow.kind == Kind.HANDOFF.value)
                .order_by(col(MemoryRow.id).desc())
                .limit(1)
            ).first()
            rest: list[Memory] = []
            if not request.task:
                rest = [
                    mem_store.to_memory(r)
                    for r in s.exec(
                        base.where(col(MemoryRow.kind).in_([k.value for k in RELEVANT_KINDS]))
                        .order_by(
                            col(MemoryRow.pinned).desc(),
                            col(MemoryRow.importance).desc(),
                            col(MemoryRow.id).desc(),
                        )
                        .limit(200)
                    )
                ]
        if request.task:
            task = request.task[: self.limits.query_chars]
            hits = self._search(
                project, generation, SearchQuery(query=task, kinds=RELEVANT_KINDS, limit=50)
            )
            rest = [h.memory for h in hits]
            rest.sort(key=lambda m: not m.pinned)  # stable: pinned first, then rank
        leading = rules + ([mem_store.to_memory(handoff)] if handoff else [])
        plan = PackPlan(leading, rest, skipped)
        return pack_context(project, plan, request.budget_tokens, self.tokens)
