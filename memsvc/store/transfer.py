"""Rows as plain records and back, for lossless export and import: every column of the
memory and version tables (whatever columns a migration adds), datetimes as ISO 8601."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, insert, tuple_
from sqlmodel import Session, SQLModel, col, select

from memsvc.clock import as_utc
from memsvc.store.models import MemoryRow, MemoryTagRow, MemoryVersionRow, ProjectRow

__all__ = [
    "existing_memory_ids",
    "existing_versions",
    "insert_imported",
    "iter_memories",
    "iter_versions",
    "record_of",
    "row_from",
]

T = TypeVar("T", bound=SQLModel)
_SKIP: dict[type[SQLModel], set[str]] = {ProjectRow: {"index_generation"}}


def record_of(row: SQLModel) -> dict[str, Any]:
    """Every column of ``row`` as JSON-ready values."""
    skip = _SKIP.get(type(row), set())
    out: dict[str, Any] = {}
    for column in row.__table__.columns:  # type: ignore[attr-defined]
        if column.name in skip:
            continue
        value = getattr(row, column.name)
        if isinstance(value, datetime):
            value = (as_utc(value) or value).isoformat()
        out[column.name] = value
    return out


def row_from(model: type[T], record: dict[str, Any]) -> T:
    """A row of ``model`` from a record (unknown keys refused, datetimes parsed)."""
    columns = {c.name: c for c in model.__table__.columns}  # type: ignore[attr-defined]
    unknown = set(record) - set(columns)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in record.items():
        if _is_datetime(columns[name].type) and isinstance(value, str):
            value = as_utc(datetime.fromisoformat(value))
        values[name] = value
    return model(**values)


def _is_datetime(sql_type: Any) -> bool:
    impl = getattr(sql_type, "impl", sql_type)  # a TypeDecorator wraps the real type
    return isinstance(impl, DateTime) or isinstance(sql_type, DateTime)


def iter_memories(session: Session, project: str, batch: int = 500) -> Iterator[MemoryRow]:
    """Every memory of the project, deleted ones included, by id (keyset pages)."""
    after = ""
    while True:
        rows = session.exec(
            select(MemoryRow)
            .where(MemoryRow.project_id == project, col(MemoryRow.id) > after)
            .order_by(col(MemoryRow.id))
            .limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


def iter_versions(session: Session, project: str, batch: int = 1000) -> Iterator[MemoryVersionRow]:
    """Every version of every memory of the project, by (memory, version)."""
    after: tuple[str, int] = ("", 0)
    while True:
        rows = session.exec(
            select(MemoryVersionRow)
            .where(
                MemoryVersionRow.project_id == project,
                tuple_(col(MemoryVersionRow.memory_id), col(MemoryVersionRow.version)) > after,
            )
            .order_by(col(MemoryVersionRow.memory_id), col(MemoryVersionRow.version))
            .limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].memory_id, rows[-1].version)


def existing_memory_ids(session: Session, ids: list[str]) -> dict[str, str]:
    """Which of ``ids`` exist already, and in which project."""
    out: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(MemoryRow.id, MemoryRow.project_id).where(col(MemoryRow.id).in_(chunk))
        out.update(dict(session.exec(stmt).all()))
    return out


def existing_versions(session: Session, memory_ids: list[str]) -> set[tuple[str, int]]:
    """The (memory, version) pairs stored for these memories."""
    out: set[tuple[str, int]] = set()
    for start in range(0, len(memory_ids), 500):
        chunk = memory_ids[start : start + 500]
        stmt = select(MemoryVersionRow.memory_id, MemoryVersionRow.version).where(
            col(MemoryVersionRow.memory_id).in_(chunk)
        )
        out.update((m, int(v)) for m, v in session.exec(stmt).all())
    return out


def insert_imported(
    session: Session, memories: list[MemoryRow], versions: list[MemoryVersionRow]
) -> None:
    """Insert imported rows as they are (with their tag rows), in bulk."""
    if memories:
        session.execute(insert(MemoryRow), [record_values(m) for m in memories])
        tags = [
            {"memory_id": m.id, "tag": t, "project_id": m.project_id}
            for m in memories
            for t in m.tags
        ]
        if tags:
            session.execute(insert(MemoryTagRow), tags)
    if versions:
        session.execute(insert(MemoryVersionRow), [record_values(v) for v in versions])


def record_values(row: SQLModel) -> dict[str, Any]:
    """The column values of ``row`` as Python values (for a bulk insert)."""
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}  # type: ignore[attr-defined]
