"""Writing memories: add (single and batch), update, supersede, delete, handoffs."""

from __future__ import annotations

from typing import Any

from ulid import ULID

from memsvc.clock import as_utc, utcnow
from memsvc.domain import (
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
    VersionConflict,
)
from memsvc.hygiene.drafts import (
    PreparedDraft,
    content_hash,
    merge_provenance,
    prepare_content,
    prepare_draft,
    prepare_str_list,
    prepare_title,
)
from memsvc.operations.base import Operation, ServiceBase, Vector
from memsvc.retrieval.indexing import searchable_text
from memsvc.store import memories as mem_store
from memsvc.store.models import IndexOutboxRow, MemoryRow

__all__ = ["WriteOps"]


class WriteOps(ServiceBase):
    """The write path."""

    def add_memory(self, actor: Actor, project: str, draft: MemoryDraft) -> AddResult:
        return self._add(actor, project, [draft], "add_memory")[0]

    def add_memories(
        self, actor: Actor, project: str, drafts: list[MemoryDraft]
    ) -> list[AddResult]:
        """All or nothing: one invalid draft rejects the batch and stores nothing."""
        return self._add(actor, project, drafts, "add_memories")

    def _add(
        self, actor: Actor, project: str, drafts: list[MemoryDraft], action: str
    ) -> list[AddResult]:
        with self._op(actor, action, project) as op:
            self._require(actor, project, Role.WRITER)
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
            with self.db.read() as s:
                generation = self._project_row(s, actor, project).index_generation
            vectors = self.retriever.embedder.embed(
                [searchable_text(p.title, p.content, p.tags) for p in prepared]
            )
            near = self._near_duplicates(project, generation, vectors)
            conflicts = self._conflicts(project, generation, prepared, vectors, near)
            results, outbox, by_id = self._insert(
                op, actor, project, prepared, near, vectors, conflicts
            )
            op.detail["created"] = sum(r.created for r in results)
            self.sync.apply(outbox, by_id)
            return results

    def _near_duplicates(self, project: str, generation: int, vectors: Vector) -> list[str | None]:
        threshold = self.settings.near_duplicate_cosine
        best = self.retriever.cache.nearest(
            project, generation, vectors, {"active"}, [None] * len(vectors)
        )
        return [b[0] if b is not None and b[1] >= threshold else None for b in best]

    def _conflicts(
        self,
        project: str,
        generation: int,
        prepared: list[PreparedDraft],
        vectors: Vector,
        near: list[str | None],
    ) -> list[str | None]:
        """Rules and decisions close to an active one of the same kind may contradict it.

        Only the nearest same-kind neighbour counts, and only between ``conflict_cosine``
        and the near-duplicate threshold: similar enough to be about the same thing,
        different enough to say something else. A curator decides in the review queue.
        """
        asks = [
            i
            for i, (p, dup) in enumerate(zip(prepared, near, strict=True))
            if dup is None and p.kind in (Kind.RULE, Kind.DECISION)
        ]
        out: list[str | None] = [None] * len(prepared)
        if not asks:
            return out
        best = self.retriever.cache.nearest(
            project, generation, vectors[asks], {"active"}, [{prepared[i].kind.value} for i in asks]
        )
        for i, b in zip(asks, best, strict=True):
            if b is not None and b[1] >= self.settings.conflict_cosine:
                out[i] = b[0]
        return out

    def _insert(
        self,
        op: Operation,
        actor: Actor,
        project: str,
        prepared: list[PreparedDraft],
        near: list[str | None],
        vectors: Vector,
        conflicts: list[str | None] | None = None,
    ) -> tuple[list[AddResult], list[int], dict[str, Vector]]:
        by_id: dict[str, Vector] = {}
        flags = conflicts or [None] * len(prepared)
        with self._commit(op) as s:
            self._project_row(s, actor, project)
            # one look-up for the whole batch (inside the write lock, so no race)
            seen = mem_store.find_exact_many(
                s, project, [(p.kind.value, p.content_hash) for p in prepared]
            )
            plan: list[tuple[MemoryRow | None, int]] = []  # (existing row, or index in fresh)
            fresh: list[dict[str, Any]] = []
            first: dict[tuple[str, str], int] = {}  # the same text twice in one batch
            for p, dup_of, vec, conflict in zip(prepared, near, vectors, flags, strict=True):
                key = (p.kind.value, p.content_hash)
                if key in seen or key in first:
                    plan.append((seen.get(key), first.get(key, -1)))
                    continue
                values = self._new_values(actor, project, p, dup_of)
                values["conflicts_with"] = conflict
                first[key] = len(fresh)
                fresh.append(values)
                by_id[values["id"]] = vec
                plan.append((None, first[key]))
            memories, outbox = mem_store.insert_new(s, fresh, "upsert")
            results: list[AddResult] = []
            created: set[int] = set()
            for existing, at in plan:
                if existing is not None:
                    results.append(AddResult(memory=mem_store.to_memory(existing), created=False))
                else:
                    results.append(AddResult(memory=memories[at], created=at not in created))
                    created.add(at)
                op.targets.append(results[-1].memory.id)
        return results, outbox, by_id

    def _new_values(
        self,
        actor: Actor,
        project: str,
        p: PreparedDraft,
        duplicate_of: str | None,
        supersedes: str | None = None,
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
            conflicts_with=None,
            valid_from=p.valid_from,
            valid_until=p.valid_until,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            provenance=merge_provenance(actor, p.provenance_in),
            content_hash=p.content_hash,
            token_count=self.tokens.count(p.content),
            embedding_model=self.retriever.embedder.identity,
            duplicate_of=duplicate_of,
            redactions=p.redactions,
        )

    def update_memory(
        self, actor: Actor, project: str, memory_id: str, patch: MemoryPatch
    ) -> Memory:
        with self._op(actor, "update_memory", project) as op:
            op.targets = [memory_id[:26]]
            self._require(actor, project, Role.WRITER)
            outbox: list[IndexOutboxRow] = []
            with self._commit(op) as s:
                self._project_row(s, actor, project)
                row = mem_store.get_memory_row(s, project, memory_id)
                self._may_change(actor, project, row)
                change, index_op = self._apply_patch(row, patch)
                if change is None:
                    return mem_store.to_memory(row)
                old_tags = list(row.tags)
                row = self._bump(row)
                row.provenance = {**row.provenance}
                s.add(row)
                mem_store.set_tags(s, row, old_tags if patch.tags is not None else list(row.tags))
                mem_store.add_version(s, row, change, merge_provenance(actor, patch.provenance))
                if index_op:
                    outbox.append(self._outbox(s, row, index_op))
                s.flush()
            self.sync.apply([o.id for o in outbox if o.id is not None])
            return mem_store.to_memory(row)

    def _apply_patch(self, row: MemoryRow, patch: MemoryPatch) -> tuple[str | None, str | None]:
        """Change ``row`` in place; returns (change name, index op) or (None, None) if no-op."""
        if patch.expected_version is not None and patch.expected_version != row.version:
            raise VersionConflict(
                f"memory {row.id} is at version {row.version}, not {patch.expected_version}; "
                "reload it and apply your change again"
            )
        if patch.kind is not None and patch.kind.value != row.kind:
            raise InvalidInput("kind cannot change; supersede the memory with one of the new kind")
        if row.status == Status.SUPERSEDED:
            raise InvalidTransition(
                f"memory {row.id} was superseded by {row.superseded_by}; change that one instead"
            )
        changed: list[str] = []
        index_op: str | None = None
        if patch.content is not None:
            content, redactions = prepare_content(patch.content, self.limits)
            if content != row.content:
                if row.kind in (Kind.RULE.value, Kind.DECISION.value):
                    raise InvalidTransition(
                        f"a {row.kind}'s text is not edited in place; call supersede_memory so "
                        "its history stays queryable"
                    )
                row.content, row.redactions = content, redactions
                row.content_hash = content_hash(content)
                row.token_count = self.tokens.count(content)
                changed.append("content")
        simple: dict[str, Any] = {
            "title": prepare_title(patch.title, self.limits) if patch.title is not None else None,
            "pinned": patch.pinned,
            "importance": patch.importance,
            "valid_from": as_utc(patch.valid_from),
            "valid_until": as_utc(patch.valid_until),
        }
        if patch.tags is not None:
            simple["tags"] = prepare_str_list(
                patch.tags, "tags", self.limits.tags, self.limits.tag_chars
            )
        if patch.paths is not None:
            simple["paths"] = prepare_str_list(
                patch.paths, "paths", self.limits.paths, self.limits.path_chars
            )
        for name, value in simple.items():
            if value is not None and getattr(row, name) != value:
                setattr(row, name, value)
                changed.append(name)
        if row.valid_from and row.valid_until and row.valid_until <= row.valid_from:
            raise InvalidInput("valid_until must be later than valid_from")
        if {"content", "title", "tags", "valid_from"} & set(changed):  # time is indexed too
            index_op = "upsert"
        if patch.status is not None and patch.status != row.status:
            row.status = patch.status
            row.status_changed_at = utcnow()
            changed.append("status")
            index_op = index_op or "meta"
            return ("archive" if patch.status == "archived" else "restore"), index_op
        return ("update" if changed else None), index_op

    def supersede_memory(
        self, actor: Actor, project: str, memory_id: str, draft: MemoryDraft
    ) -> Memory:
        with self._op(actor, "supersede_memory", project) as op:
            op.targets = [memory_id[:26]]
            self._require(actor, project, Role.WRITER)
            p = prepare_draft(draft, self.limits)
            vec = self.retriever.embedder.embed([searchable_text(p.title, p.content, p.tags)])
            with self._commit(op) as s:
                self._project_row(s, actor, project)
                old = mem_store.get_memory_row(s, project, memory_id)
                self._may_change(actor, project, old)
                if old.status != Status.ACTIVE:
                    raise InvalidTransition(
                        f"memory {old.id} is {old.status}"
                        + (f" (by {old.superseded_by})" if old.superseded_by else "")
                        + "; only an active memory can be superseded"
                    )
                new = MemoryRow(**self._new_values(actor, project, p, None, supersedes=old.id))
                s.add(new)
                mem_store.set_tags(s, new, [])
                mem_store.add_version(s, new, "create", new.provenance)
                old.status, old.superseded_by = Status.SUPERSEDED.value, new.id
                old.status_changed_at = utcnow()
                self._bump(old)
                s.add(old)
                mem_store.add_version(s, old, "superseded", new.provenance)
                outbox = [self._outbox(s, new, "upsert"), self._outbox(s, old, "meta")]
                op.targets.append(new.id)
                s.flush()
            self.sync.apply([o.id for o in outbox if o.id is not None], {new.id: vec[0]})
            return mem_store.to_memory(new)

    def delete_memory(self, actor: Actor, project: str, memory_id: str) -> None:
        with self._op(actor, "delete_memory", project) as op:
            op.targets = [memory_id[:26]]
            self._require(actor, project, Role.WRITER)
            with self._commit(op) as s:
                self._project_row(s, actor, project)
                row = mem_store.get_memory_row(s, project, memory_id)
                self._may_change(actor, project, row)
                row.status = Status.DELETED.value
                row.status_changed_at = utcnow()
                self._bump(row)
                s.add(row)
                mem_store.add_version(s, row, "delete", merge_provenance(actor, None))
                entry = self._outbox(s, row, "delete")
                s.flush()
            self.sync.apply([entry.id] if entry.id is not None else None)

    def write_handoff(
        self,
        actor: Actor,
        project: str,
        summary: str,
        done: list[str] | None = None,
        next_steps: list[str] | None = None,
        open_questions: list[str] | None = None,
    ) -> AddResult:
        """Store a session's closing summary; the newest one leads every context pack."""
        sections = [f"Summary: {summary.strip()}"]
        for title, items in (
            ("Done", done),
            ("Next", next_steps),
            ("Open questions", open_questions),
        ):
            if items:
                sections.append(title + ":\n" + "\n".join(f"- {i.strip()}" for i in items))
        draft = MemoryDraft(
            kind=Kind.HANDOFF,
            content="\n".join(sections),
            title=f"Handoff {utcnow():%Y-%m-%d %H:%M}Z",
        )
        return self._add(actor, project, [draft], "write_handoff")[0]
