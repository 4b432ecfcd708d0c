"""Reading memories: get, list, history, search and token-budgeted context."""

from __future__ import annotations

from memsvc.audit.ledger import AuditLog
from memsvc.domain import (
    Actor,
    ContextPack,
    ContextRequest,
    Kind,
    Memory,
    MemoryPage,
    MemoryVersion,
    Role,
    SearchHit,
    SearchQuery,
    Status,
)
from memsvc.errors import InvalidInput
from memsvc.operations.calls import Call, Calls
from memsvc.retrieval.context import ContextBuilder
from memsvc.retrieval.search import Searcher
from memsvc.settings import Limits
from memsvc.store import memories as mem_store

__all__ = ["Recall", "check_budget"]


def check_budget(budget: int, limits: Limits) -> None:
    """Refuse a token budget outside the configured range."""
    if not 1 <= budget <= limits.budget_tokens:
        raise InvalidInput(f"budget_tokens must be between 1 and {limits.budget_tokens}")


class Recall:
    """Reads, searches and context packs; each call audited with what it returned."""

    def __init__(
        self,
        calls: Calls,
        searcher: Searcher,
        context: ContextBuilder,
        audit: AuditLog,
        limits: Limits,
    ) -> None:
        self.calls = calls
        self.db = calls.db
        self.searcher = searcher
        self.packer = context
        self.audit = audit
        self.limits = limits

    def get(self, actor: Actor, project: str, memory_id: str) -> Memory:
        """One memory by id."""
        with self.calls.call(actor, "get_memory", project) as call, self.db.read() as s:
            call.targets = [memory_id[:26]]
            call.require(Role.READER)
            call.project_row(s)
            memory = mem_store.to_memory(mem_store.get_memory_row(s, project, memory_id))
            call.returned = [memory.id]
            return memory

    def page(
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
        """A page of memories, newest first."""
        with self.calls.call(actor, "list_memories", project) as call, self.db.read() as s:
            call.require(Role.READER)
            if not 1 <= limit <= self.limits.list_limit:
                raise InvalidInput(f"limit must be between 1 and {self.limits.list_limit}")
            call.project_row(s)
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
            call.returned = [m.id for m in page.memories]
            return page

    def history(self, actor: Actor, project: str, memory_id: str) -> list[MemoryVersion]:
        """Every version of a memory, oldest first (deleted ones too)."""
        with self.calls.call(actor, "memory_history", project) as call, self.db.read() as s:
            call.targets = [memory_id[:26]]
            call.require(Role.READER)
            call.project_row(s)
            return mem_store.history(s, project, memory_id)

    def search(self, actor: Actor, project: str, query: SearchQuery) -> list[SearchHit]:
        """Ranked hits for a query, each with its calibrated relevance; those below
        ``query.min_relevance`` are left out (an empty list: nothing relevant is stored)."""
        with self.calls.call(actor, "search_memories", project) as call:
            call.require(Role.READER)
            self._check_query(query)
            call.detail.update(
                query=self.audit.query_detail(query.query),
                limit=query.limit,
                min_relevance=query.min_relevance,  # an empty answer is then explained
            )
            with self.db.read() as s:  # one read: the project row, then the hits' rows
                generation = call.project_row(s).index_generation
                hits = self.searcher.search(project, generation, query, s)
            call.returned = [h.memory.id for h in hits]
            return hits

    def pack(self, actor: Actor, project: str, request: ContextRequest) -> ContextPack:
        """The project's context pack for a task within a token budget."""
        with self.calls.call(actor, "get_context", project) as call:
            call.require(Role.READER)
            check_budget(request.budget_tokens, self.limits)
            generation = self._generation(call)
            call.detail.update(budget_tokens=request.budget_tokens)
            if request.task:
                call.detail["task"] = self.audit.query_detail(request.task)
            pack = self.packer.build(project, generation, request)
            call.returned = [m.id for m in pack.items]
            return pack

    def _generation(self, call: Call) -> int:
        with self.db.read() as s:
            return call.project_row(s).index_generation

    def _check_query(self, query: SearchQuery) -> None:
        if not query.query.strip():
            raise InvalidInput("query is empty; say what to look for")
        if len(query.query) > self.limits.query_chars:
            raise InvalidInput(f"query is longer than {self.limits.query_chars} characters")
        if not 1 <= query.limit <= self.limits.search_limit:
            raise InvalidInput(f"limit must be between 1 and {self.limits.search_limit}")
