"""Managing a fleet of agents: review policies, approving or rejecting proposed memories,
and quarantining (then restoring) every memory one agent, principal or session wrote."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session
from ulid import ULID

from memsvc.clock import utcnow
from memsvc.domain import (
    Actor,
    Memory,
    ProposalEdit,
    Quarantine,
    QuarantineCreate,
    ReviewPolicy,
    Role,
    Status,
)
from memsvc.errors import InvalidInput, InvalidTransition
from memsvc.hygiene.drafts import (
    content_hash,
    merge_provenance,
    prepare_content,
    prepare_str_list,
    prepare_title,
)
from memsvc.operations.calls import Calls
from memsvc.retrieval.indexing import IndexSync
from memsvc.retrieval.tokens import TokenCounter
from memsvc.settings import Limits
from memsvc.store import fleet as fleet_store
from memsvc.store import memories as mem_store
from memsvc.store import outbox
from memsvc.store.models import MemoryRow, QuarantineRow

__all__ = ["Fleet"]

Queued = list[tuple[MemoryRow, str]]


class Fleet:
    """Review before trust and quarantine by provenance."""

    def __init__(self, calls: Calls, sync: IndexSync, tokens: TokenCounter, limits: Limits) -> None:
        self.calls = calls
        self.db = calls.db
        self.sync = sync
        self.tokens = tokens
        self.limits = limits

    # -- review policy ------------------------------------------------------------------

    def policy(self, actor: Actor, project: str) -> ReviewPolicy:
        """The project's review policy (the default until an admin sets one)."""
        with self.calls.call(actor, "get_review_policy", project) as call, self.db.read() as s:
            call.require(Role.READER)
            call.project_row(s)
            return fleet_store.review_policy(s, project)

    def set_policy(self, actor: Actor, project: str, policy: ReviewPolicy) -> ReviewPolicy:
        """Replace the project's review policy (admin)."""
        with self.calls.call(actor, "set_review_policy", project) as call:
            call.require(Role.ADMIN)
            call.detail["policy"] = policy.model_dump(mode="json")
            with call.commit() as s:
                call.project_row(s)
                fleet_store.set_review_policy(s, project, policy, actor.principal, utcnow())
            return policy

    # -- proposals ----------------------------------------------------------------------

    def approve(
        self, actor: Actor, project: str, memory_id: str, edit: ProposalEdit | None
    ) -> Memory:
        """Make a proposed memory active (edited first if ``edit`` is given); a proposed
        replacement supersedes its original now (curator)."""
        with self.calls.call(actor, "approve_memory", project) as call:
            call.targets = [memory_id[:26]]
            call.detail["decision"] = "edit_and_approve" if edit else "approve"
            call.require(Role.CURATOR)
            by = merge_provenance(actor, None)
            with call.commit() as s:
                call.project_row(s)
                row = self._proposed(mem_store.get_memory_row(s, project, memory_id))
                old_tags = list(row.tags)
                op = self._edit(row, edit) if edit else "meta"
                mem_store.set_status(row, Status.ACTIVE, utcnow())
                s.add(row)
                mem_store.set_tags(s, row, old_tags)
                mem_store.add_version(s, row, "approve", by)
                queued: Queued = [(row, op)]
                wanted = [row.supersedes] if row.supersedes else []
                old = mem_store.get_rows(s, project, wanted).get(row.supersedes or "")
                if old is not None and old.status == Status.ACTIVE:
                    mem_store.set_status(old, Status.SUPERSEDED, utcnow()).superseded_by = row.id
                    s.add(old)
                    mem_store.add_version(s, old, "superseded", by)
                    queued.append((old, "meta"))
                    call.targets.append(old.id)
                call.kinds.update(r.kind for r, _ in queued)
                entries = outbox.queue_many(s, queued, utcnow())
            self.sync.apply_rows(project, entries, [r for r, _ in queued])
            return mem_store.to_memory(row)

    def reject(self, actor: Actor, project: str, memory_id: str, reason: str) -> Memory:
        """Tombstone a proposed memory (its history keeps what was proposed) (curator)."""
        with self.calls.call(actor, "reject_memory", project) as call:
            call.targets = [memory_id[:26]]
            call.detail.update(decision="reject", reason=reason[:500])
            call.require(Role.CURATOR)
            with call.commit() as s:
                call.project_row(s)
                row = self._proposed(mem_store.get_memory_row(s, project, memory_id))
                mem_store.set_status(row, Status.DELETED, utcnow())
                s.add(row)
                mem_store.add_version(s, row, "reject", merge_provenance(actor, None))
                call.kinds.add(row.kind)
                entries = outbox.queue_many(s, [(row, "delete")], utcnow())
            self.sync.apply_rows(project, entries, [row])
            return mem_store.to_memory(row)

    @staticmethod
    def _proposed(row: MemoryRow) -> MemoryRow:
        if row.status != Status.PROPOSED:
            raise InvalidTransition(f"memory {row.id} is {row.status}, not proposed")
        return row

    def _edit(self, row: MemoryRow, edit: ProposalEdit) -> str:
        """Apply a curator's edit to a proposed memory; the index op it needs."""
        if edit.content is not None:
            row.content, row.redactions = prepare_content(edit.content, self.limits)
            row.content_hash = content_hash(row.content)
            row.token_count = self.tokens.count(row.content)
        if edit.title is not None:
            row.title = prepare_title(edit.title, self.limits)
        if edit.tags is not None:
            row.tags = prepare_str_list(edit.tags, "tags", self.limits.tags, self.limits.tag_chars)
        if edit.pinned is not None:
            row.pinned = edit.pinned
        if edit.importance is not None:
            row.importance = edit.importance
        text_changed = edit.content is not None or edit.title is not None or edit.tags is not None
        return "upsert" if text_changed else "meta"

    # -- quarantine -------------------------------------------------------------------

    def quarantine(self, actor: Actor, project: str, body: QuarantineCreate) -> Quarantine:
        """Hide every memory of the project the given agent, principal or session wrote
        (optionally since a time) from search and context, in one transaction (curator)."""
        with self.calls.call(actor, "quarantine_memories", project) as call:
            given = {k: v for k, v in (("agent", body.agent), ("principal", body.principal),
                                       ("session", body.session)) if v}  # fmt: skip
            call.detail.update({k: v[:200] for k, v in given.items()})
            call.require(Role.CURATOR)
            if len(given) != 1:
                raise InvalidInput("give exactly one of agent, principal or session")
            ((field, value),) = given.items()
            now = utcnow()
            with call.commit() as s:
                call.project_row(s)
                ids = fleet_store.quarantine_candidates(s, project, field, value, body.since)
                rows = mem_store.get_rows(s, project, ids)
                by = merge_provenance(actor, None)
                before: dict[str, str] = {}
                for row in rows.values():
                    before[row.id] = row.status
                    mem_store.set_status(row, Status.QUARANTINED, now)
                    s.add(row)
                    mem_store.add_version(s, row, "quarantine", by)
                q = QuarantineRow(
                    id=str(ULID()),
                    project_id=project,
                    field=field,
                    value=value[:200],
                    since=body.since,
                    reason=body.reason,
                    created_at=now,
                    created_by=actor.principal,
                    memories=before,
                )
                s.add(q)
                call.kinds.update(r.kind for r in rows.values())
                entries = outbox.queue_many(s, [(r, "meta") for r in rows.values()], now)
                call.targets = [q.id, *before]
                call.detail["memories"] = len(before)
            self.sync.apply_rows(project, entries, list(rows.values()))
            return fleet_store.to_quarantine(q)

    def restore(self, actor: Actor, project: str, quarantine_id: str) -> Quarantine:
        """Put every memory of a quarantine back in the status it had (curator); memories
        deleted meanwhile stay deleted."""
        return self._close(actor, project, quarantine_id, "restore")

    def purge(self, actor: Actor, project: str, quarantine_id: str) -> Quarantine:
        """Delete (tombstone) every memory of an open quarantine that is still quarantined
        and close the quarantine (curator); versions and audit trail stay."""
        return self._close(actor, project, quarantine_id, "delete")

    def _close(self, actor: Actor, project: str, quarantine_id: str, change: str) -> Quarantine:
        """Close an open quarantine by ``change``: "restore" its memories or "delete" them."""
        action = "restore_quarantine" if change == "restore" else "delete_quarantined"
        with self.calls.call(actor, action, project) as call:
            call.targets = [quarantine_id[:26]]
            call.require(Role.CURATOR)
            now = utcnow()
            with call.commit() as s:
                call.project_row(s)
                q = _open(fleet_store.get_quarantine(s, project, quarantine_id))
                rows = _release(s, actor, q, change, now)
                if change == "restore":
                    q.restored_at, q.restored_by = now, actor.principal
                else:
                    q.deleted_at, q.deleted_by = now, actor.principal
                s.add(q)
                call.kinds.update(r.kind for r in rows)
                op = "meta" if change == "restore" else "delete"
                entries = outbox.queue_many(s, [(r, op) for r in rows], now)
                call.targets.extend(r.id for r in rows)
                call.detail["memories"] = len(rows)
            self.sync.apply_rows(project, entries, rows)
            return fleet_store.to_quarantine(q)

    def quarantines(self, actor: Actor, project: str) -> list[Quarantine]:
        """Every quarantine of the project, newest first, restored ones included (curator)."""
        with self.calls.call(actor, "list_quarantines", project) as call, self.db.read() as s:
            call.require(Role.CURATOR)
            call.project_row(s)
            found = [fleet_store.to_quarantine(r) for r in fleet_store.list_quarantines(s, project)]
            call.returned = [q.id for q in found]
            return found


def _open(q: QuarantineRow) -> QuarantineRow:
    """``q`` if neither restored nor deleted yet, else ``InvalidTransition``."""
    if q.restored_at is not None:
        raise InvalidTransition(f"quarantine {q.id} was restored already")
    if q.deleted_at is not None:
        raise InvalidTransition(f"the memories of quarantine {q.id} were deleted already")
    return q


def _release(
    s: Session, actor: Actor, q: QuarantineRow, change: str, now: datetime
) -> list[MemoryRow]:
    """The quarantine's memories still quarantined, each given back the status it had
    (``change`` "restore") or deleted ("delete"), with a version by ``actor``."""
    rows = mem_store.get_rows(s, q.project_id, list(q.memories))
    by = merge_provenance(actor, None)
    held = [r for r in rows.values() if r.status == Status.QUARANTINED]
    for row in held:
        status = Status(q.memories[row.id]) if change == "restore" else Status.DELETED
        mem_store.set_status(row, status, now)
        s.add(row)
        mem_store.add_version(s, row, change, by)
    return held
