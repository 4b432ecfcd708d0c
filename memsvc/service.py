"""MemoryService: the only object transports touch. Every method takes the caller (an
``Actor``) and the project explicitly, checks the caller's role on it, and leaves exactly
one audit event, whether it succeeds, is denied or fails."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, select
from ulid import ULID

from memsvc import principals
from memsvc.audit import AuditLog, ChainBreak
from memsvc.audit_export import AuditBundle, collect_bundle
from memsvc.checkpoints import KeyPaths
from memsvc.clock import as_utc, utcnow
from memsvc.domain import (
    Actor,
    AddResult,
    AuditEvent,
    AuditPage,
    AuditQuery,
    Channel,
    ContextPack,
    ContextRequest,
    IssuedToken,
    Kind,
    Memory,
    MemoryDraft,
    MemoryPage,
    MemoryPatch,
    MemoryVersion,
    OpenedProject,
    Outcome,
    Project,
    ProjectCreate,
    ProjectExport,
    ProjectPatch,
    ProjectStats,
    ReviewAction,
    ReviewItem,
    ReviewPage,
    Role,
    SearchHit,
    SearchQuery,
    Status,
    TagCount,
    TokenInfo,
    WhoAmI,
)
from memsvc.drafts import (
    PreparedDraft,
    content_hash,
    merge_provenance,
    prepare_content,
    prepare_draft,
    prepare_project,
    prepare_str_list,
    prepare_title,
)
from memsvc.errors import (
    AmbiguousProject,
    InvalidInput,
    InvalidTransition,
    MemsvcError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProjectExists,
    ProjectNotFound,
    Unauthenticated,
    VersionConflict,
)
from memsvc.indexing import IndexSync, searchable_text
from memsvc.retrieval.context import PackPlan, pack_context
from memsvc.retrieval.ranking import adjust_fields, drop_near_duplicates
from memsvc.retrieval.search import Retriever
from memsvc.retrieval.tokens import TokenCounter
from memsvc.settings import Settings
from memsvc.store import memories as mem_store
from memsvc.store import projects as proj_store
from memsvc.store.database import Database
from memsvc.store.models import IndexOutboxRow, MemoryRow, ProjectRow
from memsvc.verification import verify_database

__all__ = ["MemoryService"]

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]
RELEVANT_KINDS = [Kind.DECISION, Kind.PREFERENCE, Kind.FACT]


@dataclass
class _Op:
    """The audit record of one service call, filled in as the call proceeds."""

    actor: Actor
    action: str
    project: str | None
    targets: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False


class MemoryService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        retriever: Retriever,
        sync: IndexSync,
        audit: AuditLog,
        tokens: TokenCounter,
    ) -> None:
        self.settings = settings
        self.limits = settings.limits
        self.db = db
        self.retriever = retriever
        self.sync = sync
        self.audit = audit
        self.tokens = tokens

    # -- audit and access ---------------------------------------------------------------

    @contextmanager
    def _op(self, actor: Actor, action: str, project: str | None = None) -> Iterator[_Op]:
        op = _Op(actor, action, project)
        try:
            yield op
        except MemsvcError as exc:
            denied = isinstance(exc, PermissionDenied | Unauthenticated)
            op.detail["error"] = exc.code
            self._record_alone(op, Outcome.DENIED if denied else Outcome.ERROR)
            raise
        except Exception:
            op.detail["error"] = "InternalError"
            self._record_alone(op, Outcome.ERROR)
            raise
        else:
            if not op.recorded:
                self._record_alone(op, Outcome.OK)

    def _record(self, session: Session, op: _Op, outcome: Outcome) -> None:
        self.audit.record(
            session,
            actor=op.actor,
            action=op.action,
            project=op.project,
            outcome=outcome,
            target_ids=op.targets,
            returned_ids=op.returned,
            detail=op.detail,
        )
        if outcome is Outcome.OK and op.project is not None:
            proj_store.touch_activity(session, op.project, op.actor.principal, utcnow())

    def _record_alone(self, op: _Op, outcome: Outcome) -> None:
        try:
            with self.db.write() as s:
                if op.project is not None and s.get(ProjectRow, op.project) is None:
                    op.detail["project"] = op.project[:100]
                    op.project = None
                self._record(s, op, outcome)
            op.recorded = True
        except Exception:
            log.exception("could not record audit event for %s", op.action)

    @contextmanager
    def _commit(self, op: _Op) -> Iterator[Session]:
        """A write transaction that ends by recording the operation's audit event."""
        with self.db.write() as s:
            yield s
            self._record(s, op, Outcome.OK)
        op.recorded = True

    def _require(self, actor: Actor, project: str, role: Role) -> None:
        if not actor.allows(project, role):
            have = actor.role_in(project)
            raise PermissionDenied(
                f"{actor.principal!r} has no {role.value} access to project {project[:64]!r}"
                + (f" (role: {have.value})" if have else "")
            )

    def _require_global(self, actor: Actor, role: Role) -> None:
        if not actor.allows("*", role):
            raise PermissionDenied(f"{actor.principal!r} needs the global {role.value} role")

    def _readable(self, actor: Actor, session: Session) -> list[str]:
        ids = [r.id for r in proj_store.list_project_rows(session)]
        return [p for p in ids if actor.allows(p, Role.READER)]

    def _project_row(self, session: Session, actor: Actor, project: str) -> ProjectRow:
        known = self._readable(actor, session) if actor.allows("*", Role.READER) else None
        return proj_store.get_project_row(session, project, known)

    def _may_change(self, actor: Actor, project: str, row: MemoryRow) -> None:
        self._require(actor, project, Role.WRITER)
        if row.provenance.get("principal") != actor.principal:
            self._require(actor, project, Role.CURATOR)

    # -- projects -----------------------------------------------------------------------

    def create_project(self, actor: Actor, body: ProjectCreate) -> Project:
        with self._op(actor, "create_project", body.id[:64]) as op:
            self._require(actor, body.id[:64], Role.ADMIN)
            clean = prepare_project(body, self.limits)
            now = utcnow()
            with self._commit(op) as s:
                if s.get(ProjectRow, clean.id) is not None:
                    raise ProjectExists(f"project {clean.id!r} exists; use it or pick another id")
                row = ProjectRow(
                    id=clean.id,
                    name=clean.name or clean.id,
                    description=clean.description or "",
                    root_paths=clean.root_paths,
                    created_at=now,
                    last_active_at=now,
                )
                s.add(row)
                s.flush()
            return proj_store.to_project(row)

    def update_project(self, actor: Actor, project: str, patch: ProjectPatch) -> Project:
        with self._op(actor, "update_project", project) as op:
            self._require(actor, project, Role.ADMIN)
            with self._commit(op) as s:
                row = self._project_row(s, actor, project)
                merged = prepare_project(
                    ProjectCreate(
                        id=row.id,
                        name=patch.name if patch.name is not None else row.name,
                        description=(
                            patch.description if patch.description is not None else row.description
                        ),
                        root_paths=(
                            patch.root_paths if patch.root_paths is not None else row.root_paths
                        ),
                    ),
                    self.limits,
                )
                row.name, row.description = merged.name or row.name, merged.description or ""
                row.root_paths = merged.root_paths
                s.add(row)
            return proj_store.to_project(row)

    def list_projects(self, actor: Actor) -> list[Project]:
        with self._op(actor, "list_projects") as op, self.db.read() as s:
            rows = [r for r in proj_store.list_project_rows(s) if actor.allows(r.id, Role.READER)]
            counts = proj_store.active_counts(s, [r.id for r in rows])
            op.detail["projects"] = [r.id for r in rows][:200]
            return [proj_store.to_project(r, counts.get(r.id)) for r in rows]

    def get_project(self, actor: Actor, project: str) -> Project:
        with self._op(actor, "get_project", project), self.db.read() as s:
            self._require(actor, project, Role.READER)
            row = self._project_row(s, actor, project)
            return proj_store.to_project(row, proj_store.active_counts(s, [project])[project])

    def resolve_project_by_paths(self, actor: Actor, paths: list[str]) -> str | None:
        """The readable project whose root path holds one of ``paths`` (longest root wins)."""
        best: tuple[int, str] | None = None
        with self.db.read() as s:
            for row in proj_store.list_project_rows(s):
                if not actor.allows(row.id, Role.READER):
                    continue
                for root in row.root_paths:
                    for path in paths:
                        p = os.path.normpath(path)
                        if (p == root or p.startswith(root.rstrip("/") + "/")) and (
                            best is None or len(root) > best[0]
                        ):
                            best = (len(root), row.id)
        return best[1] if best else None

    # -- writing memories ---------------------------------------------------------------

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
        out: list[str | None] = []
        for vec in vectors:
            best = self.retriever.cache.search(project, generation, vec, 1, {"active"}, None)
            out.append(best[0][0] if best and best[0][1] >= threshold else None)
        return out

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
        out: list[str | None] = []
        for p, vec, dup in zip(prepared, vectors, near, strict=True):
            found = None
            if dup is None and p.kind in (Kind.RULE, Kind.DECISION):
                best = self.retriever.cache.search(
                    project, generation, vec, 1, {"active"}, {p.kind.value}
                )
                if best and best[0][1] >= self.settings.conflict_cosine:
                    found = best[0][0]
            out.append(found)
        return out

    def _insert(
        self,
        op: _Op,
        actor: Actor,
        project: str,
        prepared: list[PreparedDraft],
        near: list[str | None],
        vectors: Vector,
        conflicts: list[str | None] | None = None,
    ) -> tuple[list[AddResult], list[int], dict[str, Vector]]:
        results: list[AddResult] = []
        outbox: list[IndexOutboxRow] = []
        by_id: dict[str, Vector] = {}
        seen: dict[tuple[str, str], MemoryRow] = {}
        with self._commit(op) as s:
            self._project_row(s, actor, project)
            flags = conflicts or [None] * len(prepared)
            for p, dup_of, vec, conflict in zip(prepared, near, vectors, flags, strict=True):
                key = (p.kind.value, p.content_hash)
                existing = seen.get(key) or mem_store.find_exact(s, project, *key)
                if existing is not None:
                    results.append(AddResult(memory=mem_store.to_memory(existing), created=False))
                    op.targets.append(existing.id)
                    continue
                row = self._new_row(actor, project, p, dup_of)
                row.conflicts_with = conflict
                s.add(row)
                mem_store.set_tags(s, row, [])
                mem_store.add_version(s, row, "create", row.provenance)
                outbox.append(self._outbox(s, row, "upsert"))
                seen[key] = row
                by_id[row.id] = vec
                op.targets.append(row.id)
                results.append(AddResult(memory=mem_store.to_memory(row), created=True))
            s.flush()
        return results, [o.id for o in outbox if o.id is not None], by_id

    def _new_row(
        self,
        actor: Actor,
        project: str,
        p: PreparedDraft,
        duplicate_of: str | None,
        supersedes: str | None = None,
    ) -> MemoryRow:
        now = utcnow()
        return MemoryRow(
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

    @staticmethod
    def _outbox(session: Session, row: MemoryRow, op: str) -> IndexOutboxRow:
        entry = IndexOutboxRow(
            project_id=row.project_id, memory_id=row.id, op=op, created_at=utcnow()
        )
        session.add(entry)
        return entry

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
                row = self._bump(row, change)
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

    @staticmethod
    def _bump(row: MemoryRow, change: str) -> MemoryRow:
        row.version += 1
        row.updated_at = utcnow()
        return row

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
                new = self._new_row(actor, project, p, None, supersedes=old.id)
                s.add(new)
                mem_store.set_tags(s, new, [])
                mem_store.add_version(s, new, "create", new.provenance)
                old.status, old.superseded_by = Status.SUPERSEDED.value, new.id
                old.status_changed_at = utcnow()
                self._bump(old, "superseded")
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
                self._bump(row, "delete")
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

    # -- reading memories ---------------------------------------------------------------

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
        if query.paths and not _paths_match(row.paths, query.paths):
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
            rules = s.exec(
                base.where(MemoryRow.kind == Kind.RULE.value).order_by(
                    col(MemoryRow.pinned).desc(),
                    col(MemoryRow.importance).desc(),
                    col(MemoryRow.id),
                )
            ).all()
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
        current = [
            mem_store.to_memory(r)
            for r in rules
            if _valid_at(r, now) and (not request.paths or _paths_match(r.paths, request.paths))
        ]
        leading = current + ([mem_store.to_memory(handoff)] if handoff else [])
        return pack_context(project, PackPlan(leading, rest), request.budget_tokens, self.tokens)

    def open_project(self, actor: Actor, name: str, budget_tokens: int = 2000) -> OpenedProject:
        with self._op(actor, "open_project") as op:
            self._check_budget(budget_tokens)
            with self.db.read() as s:
                project = self._match_project(actor, s, name)
            op.project = project
            return self._open(actor, op, project, budget_tokens)

    def open_last_project(self, actor: Actor, budget_tokens: int = 2000) -> OpenedProject:
        with self._op(actor, "open_last_project") as op:
            self._check_budget(budget_tokens)
            with self.db.read() as s:
                project = proj_store.last_active_project(
                    s, actor.principal, self._readable(actor, s)
                )
            if project is None:
                raise NotFound("no project has any activity yet; create one with create_project")
            op.project = project
            return self._open(actor, op, project, budget_tokens)

    def _open(self, actor: Actor, op: _Op, project: str, budget: int) -> OpenedProject:
        self._require(actor, project, Role.READER)
        with self.db.read() as s:
            row = self._project_row(s, actor, project)
            seen = proj_store.last_seen(s, project, actor.principal)
            since = mem_store.changes_since(s, project, seen, None) if seen else []
            counts = proj_store.active_counts(s, [project])[project]
        pack = self._context(project, row.index_generation, ContextRequest(budget_tokens=budget))
        op.returned = [m.id for m in pack.items]
        return OpenedProject(
            project=proj_store.to_project(row, counts),
            context=pack,
            since=since,
            last_seen_at=seen,
        )

    def _match_project(self, actor: Actor, session: Session, name: str) -> str:
        readable = self._readable(actor, session)
        if name in readable:
            return name
        rows = {r.id: r for r in proj_store.list_project_rows(session) if r.id in readable}
        key = _loose(name)
        if not key:
            raise InvalidInput("give a project id or name")
        exact = [p for p, r in rows.items() if key in (_loose(p), _loose(r.name))]
        prefix = [
            p
            for p, r in rows.items()
            if _loose(p).startswith(key) or _loose(r.name).startswith(key)
        ]
        for found in (exact, prefix):
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise AmbiguousProject(name, sorted(found))
        raise ProjectNotFound(name[:64], sorted(readable))

    # -- curation: identity, stats, review queue, export ------------------------------

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
            others = mem_store.get_rows(s, project, [_flagged_against(r) for r in rows])
        ids = [r.id for r in rows] + list(others)
        vectors = self.retriever.cache.vectors_of(project, generation, ids)
        items = []
        for row in rows:
            other_id = _flagged_against(row)
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
                other_id = _flagged_against(row) if row.status == Status.ACTIVE else None
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
            self._bump(other, "merge")
            s.add(other)
            mem_store.set_tags(s, other, old_tags)
            mem_store.add_version(s, other, "merge", by)
            entries.append(self._outbox(s, other, "upsert"))
        if action is ReviewAction.SUPERSEDE and other is not None:
            other.status, other.superseded_by = Status.SUPERSEDED.value, row.id
            other.status_changed_at = utcnow()
            row.supersedes = other.id
            self._bump(other, "superseded")
            s.add(other)
            mem_store.add_version(s, other, "superseded", by)
            entries.append(self._outbox(s, other, "meta"))
        if action in (ReviewAction.MERGE, ReviewAction.DELETE):
            row.status = Status.DELETED.value
            row.status_changed_at = utcnow()
            self._bump(row, "delete")
            mem_store.add_version(s, row, "delete", by)
            entries.append(self._outbox(s, row, "delete"))
        elif action is ReviewAction.SUPERSEDE:
            self._bump(row, "update")
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

    # -- audit --------------------------------------------------------------------------

    def list_audit_events(self, actor: Actor, project: str, query: AuditQuery) -> AuditPage:
        with self._op(actor, "list_audit_events", project) as op, self.db.read() as s:
            self._require(actor, project, Role.CURATOR)
            if not 1 <= query.limit <= 1000:
                raise InvalidInput("limit must be between 1 and 1000")
            self._project_row(s, actor, project)
            page = self.audit.list(s, project, query)
            op.detail["events"] = len(page.events)
            return page

    def verify_audit(self, project: str | None = None) -> tuple[int, ChainBreak | None]:
        """Check the audit chains (one project's, or all) against the signed checkpoints and
        the head record outside the database: the event count and the first break."""
        report = verify_database(self.db, KeyPaths.from_settings(self.settings), project)
        return report.events, report.first

    def checkpoint_audit(self) -> int:
        """Sign every chain's unsigned events now (operator maintenance); how many chains."""
        if self.audit.checkpoints is None:
            return 0
        return len(self.audit.checkpoints.checkpoint_all(self.db))

    def export_audit(self, actor: Actor, project: str) -> AuditBundle:
        """A project's events, checkpoints and public key, signed up to now (curator)."""
        with self._op(actor, "export_audit", project) as op:
            self._require(actor, project, Role.CURATOR)
            with self.db.read() as s:
                self._project_row(s, actor, project)
            if self.audit.checkpoints is not None:
                with self.db.write() as s:
                    self.audit.checkpoints.checkpoint(s, project)
            with self.db.read() as s:
                bundle = collect_bundle(s, project, KeyPaths.from_settings(self.settings))
            op.detail["events"] = len(bundle.events)
            return bundle

    # -- principals and tokens ----------------------------------------------------------

    def tokens_configured(self) -> bool:
        """True once any unrevoked token exists: then every transport requires one."""
        with self.db.read() as s:
            return principals.tokens_configured(s)

    def authenticate(
        self,
        token: str | None,
        channel: Channel,
        *,
        allow_local: bool = False,
        client: str | None = None,
        client_version: str | None = None,
        agent: str | None = None,
        session: str | None = None,
        request_id: str | None = None,
    ) -> Actor:
        """The caller behind a bearer token. Without one, ``allow_local`` (a loopback or
        stdio transport) gives the implicit local principal while no token exists.

        Raises ``Unauthenticated`` and records a denied ``authenticate`` event otherwise;
        a success records nothing (the operation it authorises is audited).
        """
        extra: dict[str, Any] = {
            "client": client,
            "client_version": client_version,
            "agent": agent,
            "session": session,
            "request_id": request_id,
        }
        if not token and allow_local and not self.tokens_configured():
            return Actor.local(channel, **extra)
        check = None
        if token:
            with self.db.read() as s:
                check = principals.check_token(s, token)
            if check.principal is not None:
                return Actor(
                    principal=check.principal, channel=channel, grants=check.grants, **extra
                )
        op = _Op(Actor(principal="anonymous", channel=channel, **extra), "authenticate", None)
        op.detail.update(
            error="Unauthenticated",
            reason=check.failure if check else "missing",
            token_id=check.token_id if check else None,
        )
        self._record_alone(op, Outcome.DENIED)
        if check is None:
            raise Unauthenticated(
                "this server needs `Authorization: Bearer <token>`; "
                "an admin creates one with `memsvc token create`"
            )
        raise Unauthenticated(f"the token is {check.failure}; ask an admin for a valid one")

    @staticmethod
    def bearer_token(authorization: str | None) -> str | None:
        """The token of an ``Authorization`` header value; any other scheme is kept as an
        unknown token so it is refused rather than silently ignored."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else "(not a bearer token)"

    def create_token(self, actor: Actor, name: str, project: str, role: str) -> IssuedToken:
        """Give principal ``name`` a role in ``project`` (or ``*``) and a new token (admin)."""
        with self._op(actor, "create_token") as op:
            op.detail.update(principal=name[:100], grant=project[:64], role=str(role)[:16])
            self._require(actor, project[:64], Role.ADMIN)
            granted = principals.validate_grant(name, project, role)
            with self._commit(op) as s:
                if project != "*" and s.get(ProjectRow, project) is not None:
                    op.project = project
                issued = principals.issue_token(s, name, project, granted, utcnow())
                op.detail["token_id"] = issued.token_id
            return issued

    def list_tokens(self, actor: Actor) -> list[TokenInfo]:
        """Every token and its principal's grants, never the secrets (global admin)."""
        with self._op(actor, "list_tokens") as op, self.db.read() as s:
            self._require_global(actor, Role.ADMIN)
            tokens = principals.list_tokens(s)
            op.detail["tokens"] = len(tokens)
            return tokens

    def revoke_token(self, actor: Actor, token_id: str) -> TokenInfo:
        """Revoke a token at once; its principal and other tokens stay (global admin)."""
        with self._op(actor, "revoke_token") as op:
            op.detail["token_id"] = principals.public_id(token_id)
            self._require_global(actor, Role.ADMIN)
            with self._commit(op) as s:
                info = principals.revoke_token(s, token_id, utcnow())
                op.detail["principal"] = info.principal
            return info

    # -- index maintenance --------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Liveness facts: the embedder and the index backlog (not audited; no data)."""
        return {
            "status": "ok",
            "embedder": self.retriever.embedder.identity,
            "pending_index_writes": self.sync.pending_count(),
        }

    def sync_projects(self) -> list[str]:
        """Every project id (for maintenance commands run by the operator)."""
        with self.db.read() as s:
            return [r.id for r in proj_store.list_project_rows(s)]


def _flagged_against(row: MemoryRow) -> str:
    return row.duplicate_of or row.conflicts_with or ""


def _paths_match(globs: list[str], paths: list[str]) -> bool:
    if not globs:
        return True
    return any(
        fnmatch.fnmatch(p, g) or p.startswith(g.rstrip("/") + "/") for g in globs for p in paths
    )


def _valid_at(row: MemoryRow, at: datetime) -> bool:
    start, end = as_utc(row.valid_from), as_utc(row.valid_until)
    return not ((start and start > at) or (end and end <= at))


def _loose(text: str) -> str:
    return re.sub(r"[\s_.-]+", "-", text.strip().lower()).strip("-")
