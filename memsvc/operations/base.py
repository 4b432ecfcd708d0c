"""The audited-operation machinery every service method runs inside: the actor's role
checks, one audit event per call (in the write's own transaction when it writes)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from memsvc.audit.ledger import AuditLog
from memsvc.clock import utcnow
from memsvc.domain import (
    Actor,
    Kind,
    Outcome,
    Role,
)
from memsvc.errors import (
    MemsvcError,
    PermissionDenied,
    Unauthenticated,
)
from memsvc.retrieval.indexing import IndexSync
from memsvc.retrieval.search import Retriever
from memsvc.retrieval.tokens import TokenCounter
from memsvc.settings import Settings
from memsvc.store import projects as proj_store
from memsvc.store.database import Database
from memsvc.store.models import IndexOutboxRow, MemoryRow, ProjectRow

__all__ = ["RELEVANT_KINDS", "Operation", "ServiceBase", "Vector"]

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]
RELEVANT_KINDS = [Kind.DECISION, Kind.PREFERENCE, Kind.FACT]


@dataclass
class Operation:
    """The audit record of one service call, filled in as the call proceeds."""

    actor: Actor
    action: str
    project: str | None
    targets: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False


class ServiceBase:
    """State and helpers shared by the operation groups of ``MemoryService``."""

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
    def _op(self, actor: Actor, action: str, project: str | None = None) -> Iterator[Operation]:
        op = Operation(actor, action, project)
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

    def _record(self, session: Session, op: Operation, outcome: Outcome) -> None:
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

    def _record_alone(self, op: Operation, outcome: Outcome) -> None:
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
    def _commit(self, op: Operation) -> Iterator[Session]:
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

    @staticmethod
    def _outbox(session: Session, row: MemoryRow, op: str) -> IndexOutboxRow:
        """Queue index work for ``row`` inside the caller's transaction."""
        entry = IndexOutboxRow(
            project_id=row.project_id, memory_id=row.id, op=op, created_at=utcnow()
        )
        session.add(entry)
        return entry

    @staticmethod
    def _bump(row: MemoryRow) -> MemoryRow:
        """A new version of ``row``: the caller records what changed."""
        row.version += 1
        row.updated_at = utcnow()
        return row
