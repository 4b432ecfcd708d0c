"""Projects: create, describe, resolve by workspace path, open (by name or last active)."""

from __future__ import annotations

import os

from sqlmodel import Session

from memsvc.clock import utcnow
from memsvc.domain import (
    Actor,
    ContextRequest,
    OpenedProject,
    Project,
    ProjectCreate,
    ProjectPatch,
    Role,
)
from memsvc.errors import (
    AmbiguousProject,
    InvalidInput,
    NotFound,
    ProjectExists,
    ProjectNotFound,
)
from memsvc.hygiene.drafts import (
    prepare_project,
)
from memsvc.operations.base import Operation
from memsvc.operations.reads import ReadOps
from memsvc.operations.rows import loose
from memsvc.store import memories as mem_store
from memsvc.store import projects as proj_store
from memsvc.store.models import ProjectRow

__all__ = ["ProjectOps"]


class ProjectOps(ReadOps):
    """Projects and opening them."""

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

    def _open(self, actor: Actor, op: Operation, project: str, budget: int) -> OpenedProject:
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
        key = loose(name)
        if not key:
            raise InvalidInput("give a project id or name")
        exact = [p for p, r in rows.items() if key in (loose(p), loose(r.name))]
        prefix = [
            p for p, r in rows.items() if loose(p).startswith(key) or loose(r.name).startswith(key)
        ]
        for found in (exact, prefix):
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise AmbiguousProject(name, sorted(found))
        raise ProjectNotFound(name[:64], sorted(readable))
