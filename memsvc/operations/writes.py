"""The write path: add (one or a batch), update, supersede, delete, and handoffs.

Each write is one audited transaction (memory rows, versions, index outbox and the audit
event together), then the index is brought up to date from the rows just written, with
no second read of what the transaction wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session
from ulid import ULID

from memsvc.clock import utcnow
from memsvc.domain import (
    PROJECT_ID_RE,
    Actor,
    AddResult,
    Kind,
    Memory,
    MemoryDraft,
    MemoryPatch,
    Role,
    Status,
)
from memsvc.errors import (
    InvalidInput,
    InvalidTransition,
    PayloadTooLarge,
    ProjectNotFound,
    VersionConflict,
)
from memsvc.hygiene.drafts import PreparedDraft, merge_provenance, prepare_draft
from memsvc.operations.calls import Call, Calls
from memsvc.operations.patches import apply_patch
from memsvc.retrieval.embedder import Embedder
from memsvc.retrieval.indexing import IndexSync, searchable_text
from memsvc.retrieval.neighbours import Neighbours
from memsvc.retrieval.tokens import TokenCounter
from memsvc.settings import Limits
from memsvc.store import fleet as fleet_store
from memsvc.store import memories as mem_store
from memsvc.store import outbox
from memsvc.store.models import MemoryRow

__all__ = ["Writes", "handoff_draft"]

Queued = list[tuple[MemoryRow, str]]
"""Rows a transaction changed and the index op each needs."""


@dataclass(frozen=True, slots=True)
class Inserted:
    """What the index needs of a memory a batch inserted, from its column values (an ORM
    row per memory cost about 1 ms each: half a second for a batch of 500)."""

    id: str
    kind: str
    status: str
    content: str
    title: str | None
    tags: list[str]
    content_hash: str
    valid_from: datetime | None
    created_at: datetime
    provenance: dict[str, Any]
    """Who wrote it (its writer stream in the index)."""

    @classmethod
    def of(cls, values: dict[str, Any]) -> Inserted:
        """From the values ``_new_values`` made (and the policy may have changed)."""
        return cls(**{f: values[f] for f in cls.__slots__})


class Writes:
    """Adds and changes memories; every change is audited in its own transaction."""

    def __init__(
        self,
        calls: Calls,
        embedder: Embedder,
        neighbours: Neighbours,
        sync: IndexSync,
        tokens: TokenCounter,
        limits: Limits,
    ) -> None:
        self.calls = calls
        self.embedder = embedder
        self.neighbours = neighbours
        self.sync = sync
        self.tokens = tokens
        self.limits = limits

    # -- add --------------------------------------------------------------------------

    def add(
        self, actor: Actor, project: str, drafts: list[MemoryDraft], action: str
    ) -> list[AddResult]:
        """Store drafts all or nothing; an exact duplicate returns the existing memory."""
        with self.calls.call(actor, action, project) as call:
            call.require(Role.WRITER)
            if not PROJECT_ID_RE.match(project):  # no such project can exist: before the index
                raise ProjectNotFound(project[:64])
            prepared = self._prepare(drafts)
            vectors = self.embedder.embed(
                [searchable_text(p.title, p.content, p.tags) for p in prepared]
            )
            near = self.neighbours.duplicates(project, vectors)
            conflicts = self.neighbours.conflicts(
                project, [p.kind for p in prepared], vectors, near
            )
            fresh = [
                self._new_values(actor, project, p, dup, conflicts_with=c)
                for p, dup, c in zip(prepared, near, conflicts, strict=True)
            ]
            results, entries, written = self._insert(call, prepared, fresh)
            call.detail["created"] = sum(r.created for r in results)
            by_id = {v["id"]: vec for v, vec in zip(fresh, vectors, strict=True)}
            self.sync.apply_rows(project, entries, written, by_id, new=True)
            return results

    def _prepare(self, drafts: list[MemoryDraft]) -> list[PreparedDraft]:
        if not drafts:
            raise InvalidInput("no memories given")
        if len(drafts) > self.limits.batch_size:
            raise PayloadTooLarge(f"at most {self.limits.batch_size} memories per batch")
        prepared = []
        for i, d in enumerate(drafts):
            try:
                prepared.append(prepare_draft(d, self.limits))
            except InvalidInput as exc:
                exc.detail = f"memory {i}: {exc.detail}" if len(drafts) > 1 else exc.detail
                raise
        return prepared

    def _insert(
        self, call: Call, prepared: list[PreparedDraft], fresh: list[dict[str, Any]]
    ) -> tuple[list[AddResult], list[outbox.Entry], list[Inserted]]:
        """One transaction: skip exact duplicates (stored or within the batch), insert
        the rest in bulk; returns results in draft order, outbox entries and new rows."""
        assert call.project is not None
        with call.commit() as s:
            call.writable_row(s)
            # one look-up for the whole batch (inside the write lock, so no race)
            seen = mem_store.find_exact_many(
                s, call.project, [(p.kind.value, p.content_hash) for p in prepared]
            )
            plan: list[tuple[MemoryRow | None, int]] = []  # (existing row, or index in new)
            new: list[dict[str, Any]] = []
            first: dict[tuple[str, str], int] = {}  # the same text twice in one batch
            for p, values in zip(prepared, fresh, strict=True):
                key = (p.kind.value, p.content_hash)
                if key not in seen and key not in first:
                    first[key] = len(new)
                    new.append(values)
                plan.append((seen.get(key), first.get(key, -1)))
            self._apply_policy(s, call, new)
            memories, outbox_ids = mem_store.insert_new(s, new, "upsert")
            call.kinds.update(v["kind"] for v in new)  # before the event: rules_changed_at
            results: list[AddResult] = []
            created: set[int] = set()
            for existing, at in plan:
                if existing is not None:
                    results.append(AddResult(memory=mem_store.to_memory(existing), created=False))
                else:
                    results.append(AddResult(memory=memories[at], created=at not in created))
                    created.add(at)
                call.targets.append(results[-1].memory.id)
        entries = [(oid, v["id"], "upsert") for oid, v in zip(outbox_ids, new, strict=True)]
        return results, entries, [Inserted.of(v) for v in new]

    @staticmethod
    def _apply_policy(s: Session, call: Call, new: list[dict[str, Any]]) -> None:
        """Mark the new rows the project's review policy holds for a curator ``proposed``."""
        assert call.project is not None
        policy = fleet_store.review_policy(s, call.project)
        role, channel = call.actor.role_in(call.project), call.actor.channel
        proposed = 0
        for values in new:
            if policy.proposes(Kind(values["kind"]), channel, role):
                values["status"] = Status.PROPOSED.value
                proposed += 1
        if proposed:
            call.detail["proposed"] = proposed

    def _new_values(
        self,
        actor: Actor,
        project: str,
        p: PreparedDraft,
        duplicate_of: str | None,
        *,
        supersedes: str | None = None,
        conflicts_with: str | None = None,
    ) -> dict[str, Any]:
        """The column values of a new memory row."""
        now = utcnow()
        return dict(
            id=str(ULID()),
            project_id=project,
            kind=p.kind.value,
            content=p.content,
            title=p.title,
            tags=p.tags,
            paths=p.paths,
            status=Status.ACTIVE.value,
            pinned=p.pinned,
            importance=p.importance,
            version=1,
            supersedes=supersedes,
            superseded_by=None,
            conflicts_with=conflicts_with,
            valid_from=p.valid_from,
            valid_until=p.valid_until,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            provenance=merge_provenance(actor, p.provenance_in),
            content_hash=p.content_hash,
            token_count=self.tokens.count(p.content),
            embedding_model=self.embedder.identity,
            duplicate_of=duplicate_of,
            redactions=p.redactions,
        )

    # -- change -----------------------------------------------------------------------

    def update(self, actor: Actor, project: str, memory_id: str, patch: MemoryPatch) -> Memory:
        """Patch a memory in place as a new version (rules and decisions: supersede)."""
        with self.calls.call(actor, "update_memory", project) as call:
            call.targets = [memory_id[:26]]
            call.require(Role.WRITER)
            queued: Queued = []
            with call.commit() as s:
                call.writable_row(s)
                row = mem_store.get_memory_row(s, project, memory_id)
                call.may_change(row)
                old_tags = list(row.tags)
                change, index_op = apply_patch(row, patch, self.limits, self.tokens)
                if change is None:
                    return mem_store.to_memory(row)
                mem_store.bump(row, utcnow())
                row.provenance = {**row.provenance}
                s.add(row)
                mem_store.set_tags(s, row, old_tags if patch.tags is not None else list(row.tags))
                mem_store.add_version(s, row, change, merge_provenance(actor, patch.provenance))
                call.kinds.add(row.kind)
                if index_op:
                    queued.append((row, index_op))
                entries = outbox.queue_many(s, queued, utcnow())
            self.sync.apply_rows(project, entries, [r for r, _ in queued])
            return mem_store.to_memory(row)

    def supersede(self, actor: Actor, project: str, memory_id: str, draft: MemoryDraft) -> Memory:
        """Replace an active memory by a new one; the old one stays as history."""
        with self.calls.call(actor, "supersede_memory", project) as call:
            call.targets = [memory_id[:26]]
            call.require(Role.WRITER)
            # The old row is read twice on purpose: once here, so the new text is embedded
            # outside the write transaction (which holds the ledger lock), and again under
            # that lock, where a change in between refuses the carry-over as stale.
            with self.calls.db.read() as s:
                seen = mem_store.get_memory_row(s, project, memory_id)
                draft, seen_version = carry_over(draft, seen), seen.version
            p = prepare_draft(draft, self.limits)
            vec = self.embedder.embed([searchable_text(p.title, p.content, p.tags)])
            with call.commit() as s:
                call.writable_row(s)
                old = mem_store.get_memory_row(s, project, memory_id)
                call.may_change(old)
                if old.version != seen_version:
                    raise VersionConflict(
                        f"memory {old.id} changed while it was being superseded "
                        f"(version {seen_version} -> {old.version}); read it again and retry"
                    )
                if old.status != Status.ACTIVE:
                    raise InvalidTransition(
                        f"memory {old.id} is {old.status}"
                        + (f" (by {old.superseded_by})" if old.superseded_by else "")
                        + "; only an active memory can be superseded"
                    )
                values = self._new_values(actor, project, p, None, supersedes=old.id)
                self._apply_policy(s, call, [values])
                new = MemoryRow(**values)
                s.add(new)
                mem_store.set_tags(s, new, [])
                mem_store.add_version(s, new, "create", new.provenance)
                queued: Queued = [(new, "upsert")]
                # a proposed replacement leaves the old memory in force until it is approved
                if new.status == Status.ACTIVE:
                    mem_store.set_status(old, Status.SUPERSEDED, utcnow()).superseded_by = new.id
                    s.add(old)
                    mem_store.add_version(s, old, "superseded", new.provenance)
                    queued.append((old, "meta"))
                call.targets.append(new.id)
                call.kinds.update((new.kind, old.kind))
                entries = outbox.queue_many(s, queued, utcnow())
            self.sync.apply_rows(project, entries, [r for r, _ in queued], {new.id: vec[0]})
            return mem_store.to_memory(new)

    def delete(self, actor: Actor, project: str, memory_id: str) -> None:
        """Tombstone a memory: it leaves search and context; its history remains."""
        with self.calls.call(actor, "delete_memory", project) as call:
            call.targets = [memory_id[:26]]
            call.require(Role.WRITER)
            with call.commit() as s:
                call.writable_row(s)
                row = mem_store.get_memory_row(s, project, memory_id)
                call.may_change(row)
                by = merge_provenance(actor, None)
                mem_store.set_status(row, Status.DELETED, utcnow())
                s.add(row)
                mem_store.add_version(s, row, "delete", by)
                call.kinds.add(row.kind)
                changed = [(row, "delete")]
                # a supersession chain keeps an active head: the one this replaced returns
                head = mem_store.reinstate_predecessor(s, row, by, utcnow())
                if head is not None:
                    call.targets.append(head.id)
                    changed.append((head, "meta"))
                entries = outbox.queue_many(s, changed, utcnow())
            self.sync.apply_rows(project, entries, [r for r, _ in changed])


CARRIED = ("title", "tags", "paths", "pinned", "importance")


def carry_over(draft: MemoryDraft, old: MemoryRow) -> MemoryDraft:
    """A replacement keeps the old memory's title, tags, paths, pin and importance unless
    the caller set them."""
    kept = {f: getattr(old, f) for f in CARRIED if f not in draft.model_fields_set}
    return draft.model_copy(update=kept) if kept else draft


def handoff_draft(
    summary: str,
    done: list[str] | None = None,
    next_steps: list[str] | None = None,
    open_questions: list[str] | None = None,
) -> MemoryDraft:
    """A session's closing summary as a handoff memory draft (an empty one is refused)."""
    if not summary.strip():
        raise InvalidInput("a handoff needs a summary of what was done and what is next")
    sections = [f"Summary: {summary.strip()}"]
    for title, items in (("Done", done), ("Next", next_steps), ("Open questions", open_questions)):
        if items:
            sections.append(title + ":\n" + "\n".join(f"- {i.strip()}" for i in items))
    return MemoryDraft(
        kind=Kind.HANDOFF,
        content="\n".join(sections),
        title=f"Handoff {utcnow():%Y-%m-%d %H:%M}Z",
    )
