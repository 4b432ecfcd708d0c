"""Fleet tables: per-agent activity, review policies, quarantines, server settings."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from memsvc.clock import as_utc
from memsvc.domain import DEFAULT_REVIEW_POLICY, Channel, Quarantine, ReviewPolicy, Status
from memsvc.errors import NotFound
from memsvc.store.models import (
    AgentActivityRow,
    MemoryRow,
    QuarantineRow,
    ReviewPolicyRow,
    ServerSettingRow,
)
from memsvc.store.projects import insert_or_touch

__all__ = [
    "REQUIRE_TOKENS",
    "context_loaded_at",
    "get_quarantine",
    "get_setting",
    "last_agent_project",
    "last_agent_seen",
    "list_quarantines",
    "provenance_identity",
    "quarantine_candidates",
    "review_policy",
    "set_review_policy",
    "set_setting",
    "to_quarantine",
    "touch_agent",
    "writer_stream",
]

REQUIRE_TOKENS = "require_tokens"


def provenance_identity(provenance: dict[str, Any]) -> str:
    """The agent identity that wrote a memory: the ``agent`` it named, else the MCP client's
    name (the same rule as ``Actor.identity``)."""
    if provenance.get("channel") == Channel.WEB.value:
        return ""
    agent = provenance.get("agent")
    if agent:
        return str(agent)[:200]
    return str(provenance.get("client") or "")[:200] if provenance.get("channel") == "mcp" else ""


def writer_stream(provenance: dict[str, Any]) -> int:
    """The writer stream a memory belongs to: a stable signed 64-bit hash of who wrote it
    (principal, agent identity as ``provenance_identity`` gives it, session), never 0 (0
    stands for "not known": the rows of an index table made before streams were kept).
    Episodes of the timeline never cross streams, so two agents or two sessions writing
    in the same hour are not taken for one conversation."""
    key = "\x1f".join(
        (
            str(provenance.get("principal") or ""),
            provenance_identity(provenance),
            str(provenance.get("session") or ""),
        )
    )
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True) or 1


def touch_agent(
    session: Session, project: str, principal: str, agent: str, when: datetime, context: bool
) -> None:
    """Mark ``agent`` of ``principal`` as having worked in ``project`` now, and as having
    loaded its context when ``context`` (plain statements: this runs inside the audited
    transaction of every counted call)."""
    params = {"who": principal, "which": agent, "where": project, "when": when}
    done = session.execute(_TOUCH_CONTEXT if context else _TOUCH, params)
    if not getattr(done, "rowcount", 0):
        keys = {"principal": principal, "agent": agent, "project_id": project}
        values: dict[str, Any] = {"last_active_at": when}
        if context:
            values["context_at"] = when
        insert_or_touch(session, AgentActivityRow, keys, values)


# Core statements on the table, built once (as ``projects.touch_activity``'s): the ORM's
# UPDATE would also work out which loaded objects to synchronise, on every counted call.
_AGENTS = AgentActivityRow.__table__  # type: ignore[attr-defined]
_TOUCH = (
    update(_AGENTS)
    .where(
        _AGENTS.c.principal == bindparam("who"),
        _AGENTS.c.agent == bindparam("which"),
        _AGENTS.c.project_id == bindparam("where"),
    )
    .values(last_active_at=bindparam("when", type_=_AGENTS.c.last_active_at.type))
)
_TOUCH_CONTEXT = _TOUCH.values(context_at=bindparam("when", type_=_AGENTS.c.context_at.type))


def context_loaded_at(
    session: Session, project: str, principal: str, agent: str
) -> datetime | None:
    """When this agent identity last loaded the project's context (None: never)."""
    row = session.get(AgentActivityRow, (principal, agent, project))
    return None if row is None or row.context_at is None else as_utc(row.context_at)


def last_agent_seen(session: Session, project: str, principal: str, agent: str) -> datetime | None:
    """When this agent identity last worked in the project (None: never)."""
    row = session.get(AgentActivityRow, (principal, agent, project))
    return None if row is None else as_utc(row.last_active_at)


def last_agent_project(
    session: Session, principal: str, agent: str | None, readable: list[str]
) -> str | None:
    """The readable project this agent identity last worked in; with ``agent`` None, the
    project any of the principal's agents last worked in (never the inspector's browsing)."""
    stmt = select(AgentActivityRow.project_id).where(
        AgentActivityRow.principal == principal,
        col(AgentActivityRow.project_id).in_(readable),
    )
    if agent is not None:
        stmt = stmt.where(AgentActivityRow.agent == agent)
    return session.exec(stmt.order_by(col(AgentActivityRow.last_active_at).desc()).limit(1)).first()


# -- review policy ----------------------------------------------------------------------


def review_policy(session: Session, project: str) -> ReviewPolicy:
    """The project's policy, or the default when none was set."""
    row = session.get(ReviewPolicyRow, project)
    return DEFAULT_REVIEW_POLICY if row is None else ReviewPolicy.model_validate(row.policy)


def set_review_policy(
    session: Session, project: str, policy: ReviewPolicy, by: str, when: datetime
) -> None:
    """Store the project's review policy, with who changed it and when."""
    row = session.get(ReviewPolicyRow, project)
    if row is None:
        row = ReviewPolicyRow(project_id=project, updated_at=when, updated_by=by)
    row.policy, row.updated_at, row.updated_by = policy.model_dump(mode="json"), when, by
    session.add(row)


# -- quarantine ---------------------------------------------------------------------------

QUARANTINABLE = [
    Status.ACTIVE.value,
    Status.PROPOSED.value,
    Status.SUPERSEDED.value,
    Status.ARCHIVED.value,
]


def quarantine_candidates(
    session: Session, project: str, field: str, value: str, since: datetime | None
) -> list[str]:
    """Ids of the project's memories (not deleted or already quarantined) whose provenance
    matches. Provenance is JSON, so the match is made here rather than in portable SQL;
    only three narrow columns are loaded."""
    stmt = sa_select(col(MemoryRow.id), col(MemoryRow.provenance), col(MemoryRow.created_at)).where(
        col(MemoryRow.project_id) == project, col(MemoryRow.status).in_(QUARANTINABLE)
    )
    if since is not None:
        stmt = stmt.where(col(MemoryRow.created_at) >= since)
    out = []
    for memory_id, prov, _created in session.execute(stmt):
        got = provenance_identity(prov) if field == "agent" else str(prov.get(field) or "")
        if got and got == value:
            out.append(str(memory_id))
    return out


def to_quarantine(row: QuarantineRow) -> Quarantine:
    """The domain ``Quarantine`` of a row."""
    return Quarantine(
        id=row.id,
        project=row.project_id,
        field=row.field,
        value=row.value,
        since=as_utc(row.since),
        reason=row.reason,
        created_at=as_utc(row.created_at) or row.created_at,
        created_by=row.created_by,
        memory_ids=list(row.memories),
        restored_at=as_utc(row.restored_at),
        restored_by=row.restored_by,
        deleted_at=as_utc(row.deleted_at),
        deleted_by=row.deleted_by,
    )


def get_quarantine(session: Session, project: str, quarantine_id: str) -> QuarantineRow:
    """A quarantine of this project; ``NotFound`` for another project's or an unknown id."""
    row = session.get(QuarantineRow, quarantine_id[:26])
    if row is None or row.project_id != project:
        raise NotFound(f"no quarantine {quarantine_id[:26]!r} in project {project!r}")
    return row


def list_quarantines(session: Session, project: str) -> list[QuarantineRow]:
    """Newest first (ids are ULIDs)."""
    return list(
        session.exec(
            select(QuarantineRow)
            .where(QuarantineRow.project_id == project)
            .order_by(col(QuarantineRow.id).desc())
        )
    )


# -- server settings ----------------------------------------------------------------------


def get_setting(session: Session, key: str) -> Any:
    """A server setting's value, or None when it was never set."""
    row = session.get(ServerSettingRow, key)
    return None if row is None else row.value


def setting_value(conn: Connection, key: str) -> Any:
    """``get_setting`` on a plain connection (``Database.peek``): one Core statement."""
    found = conn.execute(_SETTING_VALUE, {"key": key}).first()
    return None if found is None else found[0]


_SETTINGS = ServerSettingRow.__table__  # type: ignore[attr-defined]
_SETTING_VALUE = sa_select(_SETTINGS.c.value).where(_SETTINGS.c.key == bindparam("key"))


def set_setting(session: Session, key: str, value: Any, when: datetime) -> None:
    """Create or change a server setting."""
    row = session.get(ServerSettingRow, key)
    if row is None:
        row = ServerSettingRow(key=key, updated_at=when)
    row.value, row.updated_at = value, when
    session.add(row)
