"""The audited-call API: every service call runs inside ``Calls.call``, which checks the
caller's roles and leaves exactly one audit event, whatever the outcome.

A call that changes anything opens its transaction with ``Call.commit()``: the event is
recorded inside that transaction, just before it commits, so no change is acknowledged
without its event and no event describes a change that did not happen. ``Database.write``
refuses to commit a transaction whose event was not recorded (``UnauditedWrite``), so a
new write path that forgets cannot ship. A read's event is written after the read; if it
cannot be written the call fails (``Unavailable``) rather than returning unaudited data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from memsvc.audit.ledger import AuditLog
from memsvc.clock import as_utc, utcnow
from memsvc.domain import Actor, Channel, Kind, Outcome, Role
from memsvc.errors import (
    InvalidTransition,
    MemsvcError,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from memsvc.operations.events import RuleEvents
from memsvc.store import fleet as fleet_store
from memsvc.store import projects as proj_store
from memsvc.store.database import AUDITED, Database, disk_full, project_lock, storage_full
from memsvc.store.models import MemoryRow, ProjectRow
from memsvc.telemetry.metrics import Metrics

__all__ = ["WORK_READS", "Call", "Calls", "RuleNews"]

WORK_READS = frozenset({"get_context", "open_project", "open_last_project"})
"""Reads that count as an agent working in a project (with every write): what
``open_last_project`` and "since you were last here" go by. Other reads (searches, lists,
the inspector's browsing) do not move an agent's place."""

log = logging.getLogger(__name__)

NEVER = datetime.min.replace(tzinfo=UTC)
Key = tuple[str, str, str]


class RuleNews:
    """Whether each agent identity's project had a rule change since the identity last
    loaded its context, as of its latest call — kept per process so a tool result can say
    so without another query. The project's ``rules_changed_at`` comes with the project row
    every call reads anyway; the identity's ``context_at`` is cached and read from the
    database only the first time and when a change looks newer (another process may have
    served the context load). An identity that never loaded context gets no hint."""

    def __init__(self) -> None:
        self._context: dict[Key, datetime] = {}
        self._news: dict[Key, bool] = {}

    def note(self, session: Session, actor: Actor, row: ProjectRow) -> None:
        """Work out the hint for ``actor`` in ``row``'s project (inside its call)."""
        if actor.channel is Channel.WEB:
            return
        principal, agent, project = key = (actor.principal, actor.identity, row.id)
        changed = as_utc(row.rules_changed_at)
        if changed is None:
            self._news.pop(key, None)
            return
        seen = self._context.get(key)
        if seen is None or NEVER < seen < changed:
            seen = fleet_store.context_loaded_at(session, project, principal, agent) or NEVER
            self._context[key] = seen
        self._news[key] = NEVER < seen < changed

    def loaded(self, actor: Actor, project: str, when: datetime) -> None:
        """``actor`` loaded ``project``'s context at ``when``: nothing is news any more."""
        key = (actor.principal, actor.identity, project)
        self._context[key] = when
        self._news.pop(key, None)

    def changed(self, actor: Actor, project: str) -> bool:
        """Whether the rules changed since ``actor`` last loaded ``project``'s context (never
        for the inspector, a human)."""
        if actor.channel is Channel.WEB:
            return False
        return self._news.get((actor.principal, actor.identity, project), False)


@dataclass
class Call:
    """One service call: who, what, on which project, and the audit facts it gathers."""

    actor: Actor
    action: str
    project: str | None
    _calls: Calls
    targets: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False
    touches: bool = True
    """Mark the project (and the agent in it) active on success; off for a call that
    removes the project."""
    wrote: bool = False
    kinds: set[str] = field(default_factory=set)
    """Kinds of the memories this call changed: rules and handoffs reach live listeners."""

    def require(self, role: Role, project: str | None = None) -> None:
        """Raise ``PermissionDenied`` unless the actor holds ``role`` on the project."""
        where = project if project is not None else self.project
        if where is None or not self.actor.allows(where, role):
            have = self.actor.role_in(where) if where else None
            raise PermissionDenied(
                f"{self.actor.principal!r} has no {role.value} access to project "
                f"{(where or '')[:64]!r}" + (f" (role: {have.value})" if have else "")
            )

    def require_global(self, role: Role) -> None:
        """Raise ``PermissionDenied`` unless the actor holds ``role`` on every project."""
        if not self.actor.allows("*", role):
            raise PermissionDenied(f"{self.actor.principal!r} needs the global {role.value} role")

    def may_change(self, row: MemoryRow) -> None:
        """Writers change their own memories; changing another principal's needs curator."""
        assert self.project is not None
        self.require(Role.WRITER)
        if row.provenance.get("principal") != self.actor.principal:
            self.require(Role.CURATOR)

    def project_row(self, session: Session, project: str | None = None) -> ProjectRow:
        """The project's row; an unknown project is ``ProjectNotFound`` (never "all")."""
        return self._calls.project_row(session, self.actor, project or self.project or "")

    def writable_row(self, session: Session, project: str | None = None) -> ProjectRow:
        """``project_row`` for a change: an archived project is read-only."""
        row = self.project_row(session, project)
        if row.archived_at is not None:
            raise InvalidTransition(
                f"project {row.id!r} is archived and read-only; unarchive it to change it"
            )
        return row

    @contextmanager
    def commit(self) -> Iterator[Session]:
        """The call's write transaction; its audit event is recorded inside it."""
        with self._calls.db.write() as s:
            project_lock(s, self.project)  # first: this call's checks and writes are one step
            yield s
            self.wrote = True
            self._calls.record(s, self, Outcome.OK)
        self.recorded = True


class Calls:
    """Runs service calls: role checks, audit events, the project look-up with its hint."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        metrics: Metrics | None = None,
        events: RuleEvents | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.metrics = metrics
        self.events = events or RuleEvents()
        self.news = RuleNews()

    @contextmanager
    def call(self, actor: Actor, action: str, project: str | None = None) -> Iterator[Call]:
        """Run one call; its event is recorded on the way out unless ``commit`` did."""
        call = Call(actor, action, project, self)
        try:
            yield call
        except MemsvcError as exc:
            denied = isinstance(exc, PermissionDenied | Unauthenticated)
            call.detail["error"] = exc.code
            self._record_alone(call, Outcome.DENIED if denied else Outcome.ERROR, strict=False)
            raise
        except Exception as exc:
            full = disk_full(exc)
            call.detail["error"] = "StorageFull" if full else "InternalError"
            self._record_alone(call, Outcome.ERROR, strict=False)
            if full:  # e.g. the index or the audit head file could not be written
                raise storage_full(exc) from exc
            raise
        if not call.recorded:
            self._record_alone(call, Outcome.OK, strict=True)
        if call.wrote and call.kinds and call.project is not None:
            self.events.publish(call.project, call.kinds)

    def record(
        self, session: Session, call: Call, outcome: Outcome, *, alone: bool = False
    ) -> None:
        """Append the call's event in ``session`` (and mark the project active on success).

        The activity rows are written first and the event last: appending takes the
        ledger lock (held to commit), and a holder must not wait on any row lock.

        ``alone``: the event has a transaction of its own, after the call, so the project
        may have been deleted since the call read it; the event then names no project
        (the id goes into ``detail``). A successful call learns that from the activity
        update itself (it matched no row), so no statement re-reads the project row the
        call already read."""
        if outcome is Outcome.OK and call.project is not None and call.touches:
            now = utcnow()
            rules = call.wrote and Kind.RULE in call.kinds
            if proj_store.touch_activity(session, call.project, now, rules) or not alone:
                self._touch(session, call, now, rules)
            else:
                self._unknown_project(call)
        elif alone and call.project is not None and not proj_store.exists(session, call.project):
            self._unknown_project(call)
        self.audit.record(
            session,
            actor=call.actor,
            action=call.action,
            project=call.project,
            outcome=outcome,
            target_ids=call.targets,
            returned_ids=call.returned,
            detail=call.detail,
        )
        session.info[AUDITED] = True
        if self.metrics is not None:
            self.metrics.audit_events.labels(outcome.value).inc()

    def _touch(self, session: Session, call: Call, now: datetime, rules: bool) -> None:
        """The rest of marking a call's project active: the rules hint, the agent's place."""
        if rules:
            assert call.project is not None
            self.events.will_tell(call.project, now)
        actor = call.actor
        if actor.channel is not Channel.WEB and (call.wrote or call.action in WORK_READS):
            assert call.project is not None
            context = call.action in WORK_READS
            fleet_store.touch_agent(
                session, call.project, actor.principal, actor.identity, now, context
            )
            if context:
                self.news.loaded(actor, call.project, now)

    @staticmethod
    def _unknown_project(call: Call) -> None:
        assert call.project is not None
        call.detail["project"] = call.project[:100]
        call.project = None

    def record_denial(self, call: Call) -> None:
        """Record a refused call that ran outside ``call`` (authentication)."""
        self._record_alone(call, Outcome.DENIED, strict=False)

    def _record_alone(self, call: Call, outcome: Outcome, *, strict: bool) -> None:
        """The event in a transaction of its own. A successful call whose event cannot be
        written fails (``strict``); a failed call's own error is raised either way."""
        try:
            with self.db.write() as s:
                self.record(s, call, outcome, alone=True)
            call.recorded = True
        except Exception as exc:
            log.exception("could not record the audit event of %s", call.action)
            if strict:
                raise Unavailable(
                    "the audit log could not record this call, so it was refused; try again"
                ) from exc

    def project_row(self, session: Session, actor: Actor, project: str) -> ProjectRow:
        """The project's row by primary key; only a miss lists what the actor may read."""
        row = session.get(ProjectRow, project)
        if row is not None:
            self.news.note(session, actor, row)
            return row
        known = self.readable(actor, session) if actor.allows("*", Role.READER) else None
        return proj_store.get_project_row(session, project, known)

    @staticmethod
    def readable(actor: Actor, session: Session) -> list[str]:
        """Every project id the actor may read, most recently active first."""
        ids = [r.id for r in proj_store.list_project_rows(session)]
        return [p for p in ids if actor.allows(p, Role.READER)]
