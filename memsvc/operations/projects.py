"""Projects: create, change, describe, resolve by workspace path, open (by name or last
active) with their context pack and what changed since the caller was last there."""

from __future__ import annotations

import os
import re

from sqlmodel import Session

from memsvc.clock import utcnow
from memsvc.domain import (
    Actor,
    Change,
    ContextRequest,
    OpenedProject,
    Project,
    ProjectCreate,
    ProjectPatch,
    Role,
)
from memsvc.errors import AmbiguousProject, InvalidInput, NotFound, ProjectExists, ProjectNotFound
from memsvc.hygiene.drafts import prepare_project
from memsvc.operations.calls import Call, Calls
from memsvc.operations.recall import check_budget
from memsvc.retrieval.context import ContextBuilder
from memsvc.settings import Limits
from memsvc.store import fleet as fleet_store
from memsvc.store import memories as mem_store
from memsvc.store import projects as proj_store
from memsvc.store.models import ProjectRow

__all__ = ["Projects"]


def loose(text: str) -> str:
    """A name folded for matching: lower case, runs of space, ``_``, ``.``, ``-`` as one ``-``."""
    return re.sub(r"[\s_.-]+", "-", text.strip().lower()).strip("-")


class Projects:
    """The project catalogue and opening a project."""

    def __init__(self, calls: Calls, context: ContextBuilder, limits: Limits) -> None:
        self.calls = calls
        self.db = calls.db
        self.context = context
        self.limits = limits

    def create(self, actor: Actor, body: ProjectCreate) -> Project:
        """A new, empty project."""
        with self.calls.call(actor, "create_project", body.id[:64]) as call:
            call.require(Role.ADMIN)
            clean = prepare_project(body, self.limits)
            now = utcnow()
            with call.commit() as s:
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

    def update(self, actor: Actor, project: str, patch: ProjectPatch) -> Project:
        """Change a project's name, description or root paths."""
        with self.calls.call(actor, "update_project", project) as call:
            call.require(Role.ADMIN)
            with call.commit() as s:
                row = call.project_row(s)
                merged = prepare_project(
                    ProjectCreate(
                        id=row.id,
                        name=row.name if patch.name is None else patch.name,
                        description=(
                            row.description if patch.description is None else patch.description
                        ),
                        root_paths=row.root_paths if patch.root_paths is None else patch.root_paths,
                    ),
                    self.limits,
                )
                row.name, row.description = merged.name or row.name, merged.description or ""
                row.root_paths = merged.root_paths
                s.add(row)
            return proj_store.to_project(row)

    def readable(self, actor: Actor) -> list[Project]:
        """The projects the actor may read, most recently active first."""
        with self.calls.call(actor, "list_projects") as call, self.db.read() as s:
            rows = [r for r in proj_store.list_project_rows(s) if actor.allows(r.id, Role.READER)]
            counts = proj_store.active_counts(s, [r.id for r in rows])
            call.detail["projects"] = [r.id for r in rows][:200]
            return [proj_store.to_project(r, counts.get(r.id)) for r in rows]

    def get(self, actor: Actor, project: str) -> Project:
        """One project with its counts of active memories by kind."""
        with self.calls.call(actor, "get_project", project) as call, self.db.read() as s:
            call.require(Role.READER)
            row = call.project_row(s)
            return proj_store.to_project(row, proj_store.active_counts(s, [project])[project])

    def resolve_by_paths(self, actor: Actor, paths: list[str]) -> str | None:
        """The readable project whose root path holds one of ``paths`` (longest root wins)."""
        best: tuple[int, str] | None = None
        with self.db.read() as s:
            rows = [r for r in proj_store.list_project_rows(s) if actor.allows(r.id, Role.READER)]
        for row in rows:
            for root in row.root_paths:
                for path in paths:
                    p = os.path.normpath(path)
                    under = p == root or p.startswith(root.rstrip("/") + "/")
                    if under and (best is None or len(root) > best[0]):
                        best = (len(root), row.id)
        return best[1] if best else None

    def open(self, actor: Actor, name: str, budget_tokens: int) -> OpenedProject:
        """A project by id or name, with its context pack."""
        with self.calls.call(actor, "open_project") as call:
            check_budget(budget_tokens, self.limits)
            with self.db.read() as s:
                call.project = self._match(actor, s, name)
            return self._open(call, budget_tokens)

    def open_last(
        self, actor: Actor, budget_tokens: int, workspace: list[str] | None = None
    ) -> OpenedProject:
        """The project this agent identity last worked in (its writes, handoffs and context
        loads), with its context pack. An identity with no history gets the project its
        principal's agents last worked in; the inspector's browsing never counts."""
        with self.calls.call(actor, "open_last_project") as call:
            check_budget(budget_tokens, self.limits)
            with self.db.read() as s:
                archived = proj_store.archived_ids(s)
                readable = [p for p in self.calls.readable(actor, s) if p not in archived]
                who, agent = actor.principal, actor.identity
                call.project = fleet_store.last_agent_project(s, who, agent, readable)
                basis = "agent"
                if call.project is None:
                    call.project = fleet_store.last_agent_project(s, who, None, readable)
                    basis = "principal"
            call.detail.update(agent=agent, basis=basis)
            if call.project is None:
                raise NotFound(
                    f"agent {agent or '(unnamed)'!r} has not worked in any project yet; "
                    "open one with open_project, or create one with create_project"
                    + (f" (readable: {', '.join(readable[:20])})" if readable else "")
                )
            opened = self._open(call, budget_tokens)
            opened.workspace_project = self.resolve_by_paths(actor, workspace or [])
            return opened

    def _open(self, call: Call, budget: int) -> OpenedProject:
        assert call.project is not None
        project = call.project
        call.require(Role.READER)
        me = (call.actor.principal, call.actor.identity)
        with self.db.read() as s:
            row = call.project_row(s)
            seen = fleet_store.last_agent_seen(s, project, *me)
            since = mem_store.changes_since(s, project, seen, me) if seen else []
            counts = proj_store.active_counts(s, [project])[project]
        since, spent, left_out = self._fit_changes(since, budget)
        request = ContextRequest(budget_tokens=budget - spent)
        pack = self.context.build(project, row.index_generation, request)
        pack.budget_tokens = budget
        call.returned = [m.id for m in pack.items]
        return OpenedProject(
            project=proj_store.to_project(row, counts),
            context=pack,
            since=since,
            last_seen_at=seen,
            agent=call.actor.identity,
            since_omitted=left_out,
        )

    def _fit_changes(self, changes: list[Change], budget: int) -> tuple[list[Change], int, int]:
        """The newest changes whose lines fit a quarter of the budget (the pack gets the
        rest): (kept, tokens spent, how many left out)."""
        room, spent = budget // 4, 0
        kept: list[Change] = []
        for change in changes:
            line = f"{change.kind.value} {change.change} {change.by}: {change.summary}"
            if change.supersedes_summary:
                line += f" (replaces: {change.supersedes_summary})"
            cost = self.context.counter.count(line) + 2
            if spent + cost > room:
                break
            kept.append(change)
            spent += cost
        return kept, spent, len(changes) - len(kept)

    def _match(self, actor: Actor, session: Session, name: str) -> str:
        readable = self.calls.readable(actor, session)
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
