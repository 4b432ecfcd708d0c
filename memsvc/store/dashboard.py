"""Read-only aggregates for the fleet dashboard: audit events per day and caller, memories
per agent identity and status, unrestored quarantines. Every query is bounded to the
project ids it is given (the caller's readable projects)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from memsvc.domain import Outcome
from memsvc.store.fleet import provenance_identity
from memsvc.store.models import AgentActivityRow, AuditEventRow, MemoryRow, QuarantineRow

__all__ = ["agent_memory_counts", "agents", "event_counts", "open_quarantines"]

EventCount = tuple[str, str, str, str, str | None, str, int, datetime]
"""(project, day ``YYYY-MM-DD``, principal, channel, client, action, events, last ts)."""


def event_counts(session: Session, projects: list[str], since: datetime) -> list[EventCount]:
    """Successful audit events of ``projects`` at or after ``since``, counted per project,
    UTC day, caller (principal, channel, client) and action. ``date()`` exists in SQLite
    and PostgreSQL alike; timestamps are stored in UTC, so the day is the UTC day."""
    if not projects:
        return []
    day = func.date(col(AuditEventRow.ts)).label("day")
    stmt = (
        sa_select(
            col(AuditEventRow.project_id),
            day,
            col(AuditEventRow.principal),
            col(AuditEventRow.channel),
            col(AuditEventRow.client),
            col(AuditEventRow.action),
            func.count(),
            func.max(col(AuditEventRow.ts)),
        )
        .where(
            col(AuditEventRow.project_id).in_(projects),
            col(AuditEventRow.outcome) == Outcome.OK.value,
            col(AuditEventRow.ts) >= since,
        )
        .group_by(
            col(AuditEventRow.project_id),
            day,
            col(AuditEventRow.principal),
            col(AuditEventRow.channel),
            col(AuditEventRow.client),
            col(AuditEventRow.action),
        )
    )
    return [
        (str(p), str(d)[:10], str(pr), str(ch), cl, str(a), int(n), last)
        for p, d, pr, ch, cl, a, n, last in session.execute(stmt)
    ]


def agents(session: Session, projects: list[str]) -> list[AgentActivityRow]:
    """Every agent identity seen working in ``projects``, most recently active first."""
    if not projects:
        return []
    return list(
        session.exec(
            select(AgentActivityRow)
            .where(col(AgentActivityRow.project_id).in_(projects))
            .order_by(col(AgentActivityRow.last_active_at).desc())
        )
    )


def agent_memory_counts(
    session: Session, projects: list[str]
) -> dict[tuple[str, str, str], dict[str, int]]:
    """Memories per (project, principal, agent identity), by status. The grouping is done
    in SQL on the few provenance fields the identity rule reads (portable JSON access), so
    a large project sends back one row per distinct writer, not one per memory."""
    if not projects:
        return {}
    prov = col(MemoryRow.provenance)
    fields = [prov[k].as_string().label(k) for k in ("principal", "agent", "client", "channel")]
    stmt = (
        sa_select(col(MemoryRow.project_id), col(MemoryRow.status), *fields, func.count())
        .where(col(MemoryRow.project_id).in_(projects))
        .group_by(col(MemoryRow.project_id), col(MemoryRow.status), *fields)
    )
    out: dict[tuple[str, str, str], dict[str, int]] = {}
    for project, status, principal, agent, client, channel, n in session.execute(stmt):
        given: dict[str, Any] = {"agent": agent, "client": client, "channel": channel}
        key = (str(project), str(principal or ""), provenance_identity(given))
        by_status = out.setdefault(key, {})
        by_status[str(status)] = by_status.get(str(status), 0) + int(n)
    return out


def open_quarantines(session: Session, projects: list[str]) -> list[QuarantineRow]:
    """Quarantines of ``projects`` neither restored nor deleted yet, newest first."""
    if not projects:
        return []
    return list(
        session.exec(
            select(QuarantineRow)
            .where(
                col(QuarantineRow.project_id).in_(projects),
                col(QuarantineRow.restored_at).is_(None),
                col(QuarantineRow.deleted_at).is_(None),
            )
            .order_by(col(QuarantineRow.id).desc())
        )
    )
