"""Project rows: create, read, list, activity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from memsvc.clock import as_utc
from memsvc.domain import Project
from memsvc.errors import ProjectNotFound
from memsvc.hygiene.text import renderable
from memsvc.store.models import (
    AgentActivityRow,
    IndexOutboxRow,
    MemoryRow,
    MemoryTagRow,
    MemoryVersionRow,
    ProjectRow,
    QuarantineRow,
    ReviewPolicyRow,
)

__all__ = [
    "active_counts",
    "archived_ids",
    "exists",
    "get_project_row",
    "insert_or_touch",
    "list_project_rows",
    "newest_rules_mark",
    "purge_project",
    "rules_marks_after",
    "to_project",
    "touch_activity",
]


def get_project_row(session: Session, project: str, known: list[str] | None = None) -> ProjectRow:
    """The project's row; ``ProjectNotFound`` (listing ``known``) if there is none."""
    row = session.get(ProjectRow, project)
    if row is None:
        raise ProjectNotFound(project, known)
    return row


def list_project_rows(session: Session) -> list[ProjectRow]:
    """Every project, most recently active first."""
    return list(
        session.exec(
            select(ProjectRow).order_by(col(ProjectRow.last_active_at).desc(), ProjectRow.id)
        )
    )


def active_counts(session: Session, projects: list[str]) -> dict[str, dict[str, int]]:
    """Active memories per kind for each of these projects."""
    if not projects:
        return {}
    rows = session.exec(
        select(MemoryRow.project_id, MemoryRow.kind, func.count())
        .where(col(MemoryRow.project_id).in_(projects), MemoryRow.status == "active")
        .group_by(MemoryRow.project_id, MemoryRow.kind)
    ).all()
    out: dict[str, dict[str, int]] = {p: {} for p in projects}
    for project, kind, n in rows:
        out[project][kind] = int(n)
    return out


def to_project(row: ProjectRow, counts: dict[str, int] | None = None) -> Project:
    """The domain ``Project`` of a row, with its active counts when given."""
    return Project(
        id=row.id,
        name=str(renderable(row.name)),
        description=str(renderable(row.description)),
        root_paths=[str(renderable(p)) for p in row.root_paths],
        created_at=as_utc(row.created_at) or row.created_at,
        last_active_at=as_utc(row.last_active_at) or row.last_active_at,
        counts=counts or {},
        archived_at=as_utc(row.archived_at),
    )


def archived_ids(session: Session) -> set[str]:
    """The projects archived now."""
    stmt = select(ProjectRow.id).where(col(ProjectRow.archived_at).is_not(None))
    return set(session.exec(stmt))


def touch_activity(session: Session, project: str, when: datetime, rules: bool = False) -> bool:
    """Mark the project active now, for the most-recently-active-first project list, and
    with ``rules`` its rules changed now (``rules_changed_at``, the "rules changed" hint);
    False if there is no such project (any more). Runs on every operation, so a plain
    statement rather than loading and flushing a row, and its row count answers whether
    the project exists, which a read's audit event would otherwise ask separately."""
    stmt = _TOUCH_RULES if rules else _TOUCH
    done = session.execute(stmt, {"project": project, "when": when})
    return bool(getattr(done, "rowcount", 0))


# Core statements on the table, built once: the ORM's UPDATE would also work out which
# loaded objects to synchronise, several times the cost of the statement on every call.
_PROJECTS = ProjectRow.__table__  # type: ignore[attr-defined]
_TOUCH = (
    update(_PROJECTS)
    .where(_PROJECTS.c.id == bindparam("project"))
    .values(last_active_at=bindparam("when", type_=_PROJECTS.c.last_active_at.type))
)
_TOUCH_RULES = _TOUCH.values(
    rules_changed_at=bindparam("when", type_=_PROJECTS.c.rules_changed_at.type)
)


def exists(session: Session, project: str) -> bool:
    """Whether the project exists (its id only: no row is loaded)."""
    stmt = select(ProjectRow.id).where(col(ProjectRow.id) == project)
    return session.exec(stmt).first() is not None


def newest_rules_mark(session: Session) -> datetime | None:
    """The newest ``rules_changed_at`` over every project (None: no rule changed yet)."""
    mark = session.exec(select(func.max(col(ProjectRow.rules_changed_at)))).one()
    return as_utc(mark) if mark is not None else None


def rules_marks_after(session: Session, after: datetime | None) -> list[tuple[str, datetime]]:
    """(project, ``rules_changed_at``) of the projects whose rules changed after ``after``
    (every project with a mark when None), oldest first."""
    stmt = select(ProjectRow.id, ProjectRow.rules_changed_at).where(
        col(ProjectRow.rules_changed_at).is_not(None)
    )
    if after is not None:
        stmt = stmt.where(col(ProjectRow.rules_changed_at) > after)
    rows = session.exec(stmt.order_by(col(ProjectRow.rules_changed_at)))
    return [(str(p), as_utc(m) or m) for p, m in rows if m is not None]


def insert_or_touch(
    session: Session, table: type[SQLModel], keys: dict[str, Any], values: dict[str, Any]
) -> None:
    """Insert an activity row (``keys`` its primary key); if another server inserted it
    first (both saw none), set ``values`` on it instead. A savepoint keeps the transaction
    alive either way."""
    try:
        with session.begin_nested():
            session.execute(insert(table).values(**keys, **values))
    except IntegrityError:
        columns = table.__table__.columns  # type: ignore[attr-defined]
        session.execute(
            update(table).where(*[columns[k] == v for k, v in keys.items()]).values(**values)
        )


def purge_project(session: Session, project: str) -> int:
    """Delete the project and everything stored for it but its audit events (which hold
    ids and hashes, not memory text); how many memories went."""
    count = session.exec(
        select(func.count()).select_from(MemoryRow).where(MemoryRow.project_id == project)
    ).one()
    tables = (
        MemoryTagRow,
        MemoryVersionRow,
        IndexOutboxRow,
        MemoryRow,
        AgentActivityRow,
        ReviewPolicyRow,
        QuarantineRow,
    )
    for table in tables:
        session.execute(delete(table).where(col(table.project_id) == project))
    session.execute(delete(ProjectRow).where(col(ProjectRow.id) == project))
    return int(count)
