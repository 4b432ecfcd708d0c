"""Curation for humans: identity, stats, the review queue and project export."""

from __future__ import annotations

from sqlmodel import Session, col, select

from memsvc.clock import utcnow
from memsvc.domain import (
    Actor,
    AuditEvent,
    AuditQuery,
    Memory,
    ProjectExport,
    ProjectStats,
    ReviewAction,
    ReviewItem,
    ReviewPage,
    Role,
    Status,
    TagCount,
    WhoAmI,
)
from memsvc.errors import (
    InvalidInput,
    InvalidTransition,
)
from memsvc.hygiene.drafts import (
    merge_provenance,
)
from memsvc.operations.base import ServiceBase
from memsvc.operations.rows import flagged_against
from memsvc.store import memories as mem_store
from memsvc.store import projects as proj_store
from memsvc.store.models import IndexOutboxRow, MemoryRow

__all__ = ["CurationOps"]


class CurationOps(ServiceBase):
    """What the inspector needs beyond reads and writes."""

    def whoami(self, actor: Actor) -> WhoAmI:
        """The caller's principal and grants (the inspector hides what they cannot do)."""
        with self._op(actor, "whoami"):
            return WhoAmI(
                principal=actor.principal,
                channel=actor.channel,
                grants=dict(actor.grants),
                client=actor.client,
            )

    def project_stats(self, actor: Actor, project: str) -> ProjectStats:
        with self._op(actor, "project_stats", project), self.db.read() as s:
            self._require(actor, project, Role.READER)
            self._project_row(s, actor, project)
            counts, tags, review = mem_store.stats(s, project)
            return ProjectStats(
                project=project,
                counts=counts,
                tags=[TagCount(tag=t, count=n) for t, n in tags],
                review=review,
            )

    def list_review_queue(
        self, actor: Actor, project: str, *, limit: int = 20, cursor: str | None = None
    ) -> ReviewPage:
        """Memories flagged at write time as possible duplicates or conflicts, newest first."""
        with self._op(actor, "list_review_queue", project) as op, self.db.read() as s:
            self._require(actor, project, Role.READER)
            if not 1 <= limit <= 100:
                raise InvalidInput("limit must be between 1 and 100")
            generation = self._project_row(s, actor, project).index_generation
            rows, next_cursor = mem_store.review_page(s, project, limit, cursor)
            others = mem_store.get_rows(s, project, [flagged_against(r) for r in rows])
        ids = [r.id for r in rows] + list(others)
        vectors = self.retriever.cache.vectors_of(project, generation, ids)
        items = []
        for row in rows:
            other_id = flagged_against(row)
            other = others.get(other_id)
            a, b = vectors.get(row.id), vectors.get(other_id)
            items.append(
                ReviewItem(
                    memory=mem_store.to_memory(row),
                    other=None
                    if other is None or other.status == Status.DELETED
                    else mem_store.to_memory(other),
                    reason="duplicate" if row.duplicate_of else "conflict",
                    similarity=None if a is None or b is None else round(float(a @ b), 4),
                )
            )
        op.returned = [r.id for r in rows]
        return ReviewPage(items=items, next_cursor=next_cursor)

    def resolve_review(
        self, actor: Actor, project: str, memory_id: str, action: ReviewAction
    ) -> Memory:
        """Settle a flagged memory; returns the memory that carries the knowledge on."""
        with self._op(actor, "resolve_review", project) as op:
            op.targets = [memory_id[:26]]
            op.detail["resolution"] = action.value
            self._require(actor, project, Role.CURATOR)
            with self._commit(op) as s:
                self._project_row(s, actor, project)
                row = mem_store.get_memory_row(s, project, memory_id)
                other_id = flagged_against(row) if row.status == Status.ACTIVE else None
                if not other_id:
                    raise InvalidTransition(f"memory {row.id} is not waiting for review")
                op.targets.append(other_id)
                row.duplicate_of = row.conflicts_with = None
                other = mem_store.get_rows(s, project, [other_id]).get(other_id)
                kept, entries = self._resolve(actor, s, row, other, action)
                s.flush()
            self.sync.apply([e.id for e in entries if e.id is not None])
            return kept

    def _resolve(
        self,
        actor: Actor,
        s: Session,
        row: MemoryRow,
        other: MemoryRow | None,
        action: ReviewAction,
    ) -> tuple[Memory, list[IndexOutboxRow]]:
        by = merge_provenance(actor, None)
        entries: list[IndexOutboxRow] = []
        needs_other = action in (ReviewAction.MERGE, ReviewAction.SUPERSEDE)
        if needs_other and (other is None or other.status != Status.ACTIVE):
            state = "deleted" if other is None else other.status
            raise InvalidTransition(f"the other memory is {state}; keep or delete this one instead")
        if action is ReviewAction.MERGE and other is not None:
            old_tags = list(other.tags)
            other.tags = list(dict.fromkeys([*other.tags, *row.tags]))
            other.paths = list(dict.fromkeys([*other.paths, *row.paths]))
            other.pinned = other.pinned or row.pinned
            other.importance = max(other.importance, row.importance)
            self._bump(other)
            s.add(other)
            mem_store.set_tags(s, other, old_tags)
            mem_store.add_version(s, other, "merge", by)
            entries.append(self._outbox(s, other, "upsert"))
        if action is ReviewAction.SUPERSEDE and other is not None:
            other.status, other.superseded_by = Status.SUPERSEDED.value, row.id
            other.status_changed_at = utcnow()
            row.supersedes = other.id
            self._bump(other)
            s.add(other)
            mem_store.add_version(s, other, "superseded", by)
            entries.append(self._outbox(s, other, "meta"))
        if action in (ReviewAction.MERGE, ReviewAction.DELETE):
            row.status = Status.DELETED.value
            row.status_changed_at = utcnow()
            self._bump(row)
            mem_store.add_version(s, row, "delete", by)
            entries.append(self._outbox(s, row, "delete"))
        elif action is ReviewAction.SUPERSEDE:
            self._bump(row)
            mem_store.add_version(s, row, "update", by)
        s.add(row)
        kept = other if action is ReviewAction.MERGE and other is not None else row
        return mem_store.to_memory(kept), entries

    def export_project(self, actor: Actor, project: str) -> ProjectExport:
        """Every memory but the deleted ones, and the project's whole audit chain."""
        with self._op(actor, "export_project", project) as op, self.db.read() as s:
            self._require(actor, project, Role.CURATOR)
            row = self._project_row(s, actor, project)
            counts = proj_store.active_counts(s, [project])[project]
            rows = s.exec(
                select(MemoryRow)
                .where(MemoryRow.project_id == project, MemoryRow.status != Status.DELETED.value)
                .order_by(col(MemoryRow.id))
            ).all()
            events: list[AuditEvent] = []
            cursor: str | None = None
            while True:
                page = self.audit.list(s, project, AuditQuery(limit=1000, cursor=cursor))
                events.extend(page.events)
                if not (cursor := page.next_cursor):
                    break
            op.detail.update(memories=len(rows), events=len(events))
            return ProjectExport(
                exported_at=utcnow(),
                project=proj_store.to_project(row, counts),
                memories=[mem_store.to_memory(r) for r in rows],
                audit=events[::-1],
            )
