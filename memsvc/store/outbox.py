"""The index outbox: index work queued by a write in its own transaction, applied to
LanceDB after commit and marked applied; and the SQL reads reconciliation needs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from memsvc.domain import Status
from memsvc.store.models import IndexOutboxRow, MemoryRow, ProjectRow

__all__ = [
    "Entry",
    "applied_since",
    "changes_since",
    "generation",
    "live_among",
    "live_count",
    "live_keys",
    "live_rows",
    "mark_applied",
    "note_failure",
    "pending",
    "pending_count",
    "pending_projects",
    "project_ids",
    "queue",
    "queue_many",
    "rows_by_id",
    "untouched",
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
    session: Session,
    ids: list[int] | None = None,
    limit: int = 5000,
    created_before: datetime | None = None,
    project: str | None = None,
) -> list[tuple[int, str, str, str]]:
    """Unapplied entries (of these ids, or all; queued before ``created_before`` if given),
    oldest first: (id, project, memory, op)."""
    stmt = select(
        IndexOutboxRow.id, IndexOutboxRow.project_id, IndexOutboxRow.memory_id, IndexOutboxRow.op
    ).where(col(IndexOutboxRow.applied_at).is_(None))
    if ids is not None:
        stmt = stmt.where(col(IndexOutboxRow.id).in_(ids))
    if created_before is not None:
        stmt = stmt.where(col(IndexOutboxRow.created_at) < created_before)
    if project is not None:
        stmt = stmt.where(IndexOutboxRow.project_id == project)
    rows = session.exec(stmt.order_by(col(IndexOutboxRow.id)).limit(limit)).all()
    return [(int(i or 0), p, m, o) for i, p, m, o in rows]


def pending_memories(session: Session, project: str) -> set[str]:
    """The memories of the project with index work still pending (left to their applier)."""
    return {e[2] for e in pending(session, project=project)}


def untouched(session: Session, ids: list[int]) -> set[int]:
    """Those of these entries still pending and never attempted: no applier has written
    their rows to the index, not even partly before failing."""
    if not ids:
        return set()
    stmt = select(IndexOutboxRow.id).where(
        col(IndexOutboxRow.id).in_(ids),
        col(IndexOutboxRow.applied_at).is_(None),
        IndexOutboxRow.attempts == 0,
    )
    return {int(i) for i in session.exec(stmt) if i is not None}


def rows_by_id(session: Session, ids: list[str]) -> dict[str, MemoryRow]:
    """Memory rows by primary key, any project or status."""
    if not ids:
        return {}
    return {m.id: m for m in session.exec(select(MemoryRow).where(col(MemoryRow.id).in_(ids)))}


def mark_applied(session: Session, project: str, ids: list[int], now: datetime) -> tuple[int, int]:
    """Mark entries applied and bump the project's index generation; (before, after).

    The entries record the generation they were applied at (``changes_since`` reads them).
    The bump is one ``UPDATE … SET index_generation = index_generation + 1``, so two
    servers marking at once never draw the same generation. When another applier got
    there first (nothing left to mark), the generation stays.
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
    after = session.execute(
        update(ProjectRow)
        .where(col(ProjectRow.id) == project)
        .values(index_generation=col(ProjectRow.index_generation) + 1)
        .returning(col(ProjectRow.index_generation))
    ).scalar()
    if after is None:
        return 0, 0
    if ids:
        session.execute(
            update(IndexOutboxRow)
            .where(
                col(IndexOutboxRow.id).in_(ids),
                col(IndexOutboxRow.applied_at) == now,
                col(IndexOutboxRow.applied_generation).is_(None),
            )
            .values(applied_generation=after)
        )
    session.expire_all()  # the ORM's copy of the project row is stale after the UPDATE
    return int(after) - 1, int(after)


def changes_since(
    session: Session, project: str, have: int, want: int, limit: int
) -> list[str] | None:
    """The memories whose index rows changed in generations ``(have, want]``, or None when
    those changes cannot be read from here: a generation without entries (a reconcile or
    reindex bumps without any: the whole table may differ), or more than ``limit`` rows."""
    if want <= have:
        return []
    stmt = (
        select(IndexOutboxRow.applied_generation, IndexOutboxRow.memory_id)
        .where(
            IndexOutboxRow.project_id == project,
            col(IndexOutboxRow.applied_generation) > have,
            col(IndexOutboxRow.applied_generation) <= want,
        )
        .limit(limit + 1)
    )
    rows = session.exec(stmt).all()
    if len(rows) > limit or {g for g, _ in rows} != set(range(have + 1, want + 1)):
        return None
    return list(dict.fromkeys(m for _, m in rows))


def applied_since(session: Session, project: str, generation: int) -> list[str]:
    """The memories whose index changes were applied after ``generation`` (any number)."""
    stmt = select(IndexOutboxRow.memory_id).where(
        IndexOutboxRow.project_id == project,
        col(IndexOutboxRow.applied_generation) > generation,
    )
    return list(dict.fromkeys(session.exec(stmt)))


def note_failure(session: Session, ids: list[int], error: str) -> None:
    """Count a failed attempt on each entry (kept pending for the background retry)."""
    for row in session.exec(select(IndexOutboxRow).where(col(IndexOutboxRow.id).in_(ids))):
        row.attempts += 1
        row.last_error = error[:500]
        session.add(row)


def pending_projects(session: Session) -> list[str]:
    """The projects with entries waiting to be applied."""
    stmt = select(IndexOutboxRow.project_id).where(col(IndexOutboxRow.applied_at).is_(None))
    return sorted(set(session.exec(stmt.distinct())))


def generation(session: Session, project: str) -> int:
    """The project's index generation (-1 for an unknown project)."""
    row = session.get(ProjectRow, project)
    return -1 if row is None else row.index_generation


def live_count(session: Session, project: str) -> int:
    """How many of the project's memories the index should hold (all but the deleted)."""
    stmt = select(func.count()).select_from(MemoryRow)
    stmt = stmt.where(MemoryRow.project_id == project, MemoryRow.status != Status.DELETED.value)
    return int(session.exec(stmt).one())


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


LiveKey = tuple[str, str, str, str]
"""What reconciliation compares of a memory: (id, content hash, kind, status)."""


def live_keys(session: Session, project: str, batch: int) -> Iterator[list[LiveKey]]:
    """The project's memories the index should hold, as ``LiveKey`` tuples, ``batch`` at a
    time: no ORM objects, no text, and never the whole project at once. Read per status in
    id order from ``ix_memory_project_status_id`` (a keyset walk, no sort)."""
    statuses = session.exec(
        select(MemoryRow.status).where(MemoryRow.project_id == project).distinct()
    ).all()
    for status in sorted(set(statuses) - {Status.DELETED.value}):
        last = ""
        while True:
            stmt = (
                select(MemoryRow.id, MemoryRow.content_hash, MemoryRow.kind, MemoryRow.status)
                .where(
                    MemoryRow.project_id == project,
                    MemoryRow.status == status,
                    col(MemoryRow.id) > last,
                )
                .order_by(col(MemoryRow.id))
                .limit(batch)
            )
            rows = [(str(i), str(h), str(k), str(st)) for i, h, k, st in session.exec(stmt)]
            if rows:
                yield rows
            if len(rows) < batch:
                break
            last = rows[-1][0]


def live_among(session: Session, project: str, ids: list[str]) -> set[str]:
    """Which of these ids are memories of the project the index should hold."""
    if not ids:
        return set()
    stmt = select(MemoryRow.id).where(
        col(MemoryRow.id).in_(ids),
        MemoryRow.project_id == project,
        MemoryRow.status != Status.DELETED.value,
    )
    return {str(i) for i in session.exec(stmt)}


def project_ids(session: Session) -> list[str]:
    """Every project id."""
    return list(session.exec(select(ProjectRow.id)))
