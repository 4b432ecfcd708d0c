"""Curation for humans: identity, stats, the review queue and project export."""

from __future__ import annotations

from typing import Literal

from sqlmodel import Session

from memsvc.audit.ledger import AuditLog
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
from memsvc.errors import InvalidInput, InvalidTransition
from memsvc.hygiene.drafts import merge_provenance
from memsvc.operations.calls import Calls
from memsvc.retrieval.cache import ProjectCache
from memsvc.retrieval.indexing import IndexSync
from memsvc.store import memories as mem_store
from memsvc.store import outbox
from memsvc.store import projects as proj_store
from memsvc.store.models import MemoryRow

__all__ = ["Curation"]

Queued = list[tuple[MemoryRow, str]]


class Curation:
    """What the inspector needs beyond reads and writes."""

    def __init__(self, calls: Calls, cache: ProjectCache, sync: IndexSync, audit: AuditLog) -> None:
        self.calls = calls
        self.db = calls.db
        self.cache = cache
        self.sync = sync
        self.audit = audit

    def whoami(self, actor: Actor) -> WhoAmI:
        """The caller's principal and grants (the inspector hides what they cannot do)."""
        with self.calls.call(actor, "whoami"):
            return WhoAmI(
                principal=actor.principal,
                channel=actor.channel,
                grants=dict(actor.grants),
                client=actor.client,
            )

    def stats(self, actor: Actor, project: str) -> ProjectStats:
        """Counts by kind and status, the most used tags, the review backlog."""
        with self.calls.call(actor, "project_stats", project) as call, self.db.read() as s:
            call.require(Role.READER)
            call.project_row(s)
            counts, tags, review = mem_store.stats(s, project)
            return ProjectStats(
                project=project,
                counts=counts,
                tags=[TagCount(tag=t, count=n) for t, n in tags],
                review=review,
            )

    def review_queue(
        self, actor: Actor, project: str, *, limit: int = 20, cursor: str | None = None
    ) -> ReviewPage:
        """Memories flagged at write time as possible duplicates or conflicts, newest first."""
        with self.calls.call(actor, "list_review_queue", project) as call, self.db.read() as s:
            call.require(Role.READER)
            if not 1 <= limit <= 100:
                raise InvalidInput("limit must be between 1 and 100")
            generation = call.project_row(s).index_generation
            rows, next_cursor = mem_store.review_page(s, project, limit, cursor)
            others = mem_store.get_rows(s, project, [mem_store.flagged_against(r) for r in rows])
        vectors = self.cache.vectors_of(project, generation, [r.id for r in rows] + list(others))
        items = []
        for row in rows:
            other = others.get(mem_store.flagged_against(row))
            a, b = vectors.get(row.id), vectors.get(mem_store.flagged_against(row))
            items.append(
                ReviewItem(
                    memory=mem_store.to_memory(row),
                    other=None
                    if other is None or other.status == Status.DELETED
                    else mem_store.to_memory(other),
                    reason=_reason(row),
                    similarity=None if a is None or b is None else round(float(a @ b), 4),
                )
            )
        call.returned = [r.id for r in rows]
        return ReviewPage(items=items, next_cursor=next_cursor)

    def resolve_review(
        self, actor: Actor, project: str, memory_id: str, action: ReviewAction
    ) -> Memory:
        """Settle a flagged memory; returns the memory that carries the knowledge on."""
        with self.calls.call(actor, "resolve_review", project) as call:
            call.targets = [memory_id[:26]]
            call.detail["resolution"] = action.value
            call.require(Role.CURATOR)
            with call.commit() as s:
                call.writable_row(s)
                row = mem_store.get_memory_row(s, project, memory_id)
                other_id = mem_store.flagged_against(row) if row.status == Status.ACTIVE else None
                if row.status == Status.PROPOSED:
                    raise InvalidTransition(
                        f"memory {row.id} is proposed: approve_memory or reject_memory it"
                    )
                if not other_id:
                    raise InvalidTransition(f"memory {row.id} is not waiting for review")
                call.targets.append(other_id)
                row.duplicate_of = row.conflicts_with = None
                other = mem_store.get_rows(s, project, [other_id]).get(other_id)
                kept, queued = _resolve(merge_provenance(actor, None), s, row, other, action)
                call.kinds.update(r.kind for r, _ in queued)
                entries = outbox.queue_many(s, queued, utcnow())
            self.sync.apply_rows(project, entries, [r for r, _ in queued])
            return kept

    def export_project(self, actor: Actor, project: str) -> ProjectExport:
        """Every memory but the deleted ones, and the project's whole audit chain."""
        with self.calls.call(actor, "export_project", project) as call, self.db.read() as s:
            call.require(Role.CURATOR)
            row = call.project_row(s)
            counts = proj_store.active_counts(s, [project])[project]
            rows = mem_store.exportable_rows(s, project)
            events: list[AuditEvent] = []
            cursor: str | None = None
            while True:
                page = self.audit.list(s, project, AuditQuery(limit=1000, cursor=cursor))
                events.extend(page.events)
                if not (cursor := page.next_cursor):
                    break
            call.detail.update(memories=len(rows), events=len(events))
            return ProjectExport(
                exported_at=utcnow(),
                project=proj_store.to_project(row, counts),
                memories=[mem_store.to_memory(r) for r in rows],
                audit=events[::-1],
            )


def _reason(row: MemoryRow) -> Literal["duplicate", "conflict", "proposed"]:
    if row.status == Status.PROPOSED:
        return "proposed"
    return "duplicate" if row.duplicate_of else "conflict"


def _resolve(
    by: dict[str, object],
    s: Session,
    row: MemoryRow,
    other: MemoryRow | None,
    action: ReviewAction,
) -> tuple[Memory, Queued]:
    """Apply a review decision in ``s``; the memory kept and the rows to re-index."""
    needs_other = action in (ReviewAction.MERGE, ReviewAction.SUPERSEDE)
    if needs_other and (other is None or other.status != Status.ACTIVE):
        state = "deleted" if other is None else other.status
        raise InvalidTransition(f"the other memory is {state}; keep or delete this one instead")
    now = utcnow()
    queued: Queued = []
    if action is ReviewAction.MERGE and other is not None:
        old_tags = list(other.tags)
        other.tags = list(dict.fromkeys([*other.tags, *row.tags]))
        other.paths = list(dict.fromkeys([*other.paths, *row.paths]))
        other.pinned = other.pinned or row.pinned
        other.importance = max(other.importance, row.importance)
        s.add(mem_store.bump(other, now))
        mem_store.set_tags(s, other, old_tags)
        mem_store.add_version(s, other, "merge", by)
        queued.append((other, "upsert"))
    if action is ReviewAction.SUPERSEDE and other is not None:
        mem_store.set_status(other, Status.SUPERSEDED, now).superseded_by = row.id
        row.supersedes = other.id
        s.add(other)
        mem_store.add_version(s, other, "superseded", by)
        queued.append((other, "meta"))
    if action in (ReviewAction.MERGE, ReviewAction.DELETE):
        mem_store.set_status(row, Status.DELETED, now)
        mem_store.add_version(s, row, "delete", by)
        queued.append((row, "delete"))
    elif action is ReviewAction.SUPERSEDE:
        mem_store.add_version(s, mem_store.bump(row, now), "update", by)
    s.add(row)
    kept = other if action is ReviewAction.MERGE and other is not None else row
    return mem_store.to_memory(kept), queued
