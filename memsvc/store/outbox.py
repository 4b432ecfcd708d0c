"""The index outbox: index work queued by a write in its own transaction, applied to
LanceDB after commit and marked applied; and the SQL reads reconciliation needs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from memsvc.domain import Status
from memsvc.store.models import IndexOutboxRow, MemoryRow, ProjectRow

__all__ = [
    "Entry",
    "live_rows",
    "mark_applied",
    "note_failure",
    "pending",
    "pending_count",
    "project_ids",
    "queue",
    "queue_many",
    "rows_by_id",
]

Entry = tuple[int, str, str]
"""One queued index change: (outbox id, memory id, op)."""


def queue(session: Session, row: MemoryRow, op: str, now: datetime) -> IndexOutboxRow:
    """Queue index work for ``row`` inside the caller's transaction (flush for its id)."""
    entry = IndexOutboxRow(project_id=row.project_id, memory_id=row.id, op=op, created_at=now)
    session.add(entry)
    return entry


def queue_many(
    session: Session, changes: list[tuple[MemoryRow, str]], now: datetime
) -> list[Entry]:
    """Queue index work for each (row, op) in the caller's transaction; the entries."""
    queued = [(queue(session, row, op, now), row.id, op) for row, op in changes]
    session.flush()
    return [(e.id, mid, op) for e, mid, op in queued if e.id is not None]


def pending(
    session: Session, ids: list[int] | None = None, limit: int = 5000
) -> list[tuple[int, str, str, str]]:
    """Unapplied entries (of these ids, or all), oldest first: (id, project, memory, op)."""
    stmt = select(
        IndexOutboxRow.id, IndexOutboxRow.project_id, IndexOutboxRow.memory_id, IndexOutboxRow.op
    ).where(col(IndexOutboxRow.applied_at).is_(None))
    if ids is not None:
        stmt = stmt.where(col(IndexOutboxRow.id).in_(ids))
    rows = session.exec(stmt.order_by(col(IndexOutboxRow.id)).limit(limit)).all()
    return [(int(i or 0), p, m, o) for i, p, m, o in rows]


def rows_by_id(session: Session, ids: list[str]) -> dict[str, MemoryRow]:
    """Memory rows by primary key, any project or status."""
    if not ids:
        return {}
    return {m.id: m for m in session.exec(select(MemoryRow).where(col(MemoryRow.id).in_(ids)))}


def mark_applied(session: Session, project: str, ids: list[int], now: datetime) -> tuple[int, int]:
    """Mark entries applied and bump the project's index generation; (before, after).

    When another applier got there first (nothing left to mark), the generation stays.
    """
    if ids:
        done = session.execute(
            update(IndexOutboxRow)
            .where(col(IndexOutboxRow.id).in_(ids), col(IndexOutboxRow.applied_at).is_(None))
            .values(applied_at=now)
        )
        if not getattr(done, "rowcount", 0):
            row = session.get(ProjectRow, project)
            gen = row.index_generation if row is not None else 0
            return gen, gen
    proj = session.get(ProjectRow, project)
    if proj is None:
        return 0, 0
    before = proj.index_generation
    proj.index_generation = before + 1
    session.add(proj)
    return before, before + 1


def note_failure(session: Session, ids: list[int], error: str) -> None:
    """Count a failed attempt on each entry (kept pending for the background retry)."""
    for row in session.exec(select(IndexOutboxRow).where(col(IndexOutboxRow.id).in_(ids))):
        row.attempts += 1
        row.last_error = error[:500]
        session.add(row)


def pending_count(session: Session) -> int:
    """How many entries wait to be applied."""
    stmt = select(func.count()).select_from(IndexOutboxRow)
    return int(session.exec(stmt.where(col(IndexOutboxRow.applied_at).is_(None))).one())


def live_rows(session: Session, project: str) -> dict[str, MemoryRow]:
    """Every memory of the project the index should hold (all but the deleted)."""
    stmt = select(MemoryRow).where(
        MemoryRow.project_id == project, MemoryRow.status != Status.DELETED.value
    )
    return {m.id: m for m in session.exec(stmt)}


def project_ids(session: Session) -> list[str]:
    """Every project id."""
    return list(session.exec(select(ProjectRow.id)))
