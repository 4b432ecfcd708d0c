"""The SQL behind a context pack: the rules that may fit, the newest handoff, and the
highest-ranked other memories when no task is given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, literal
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from memsvc.domain import Kind, Status
from memsvc.store.models import MemoryRow

__all__ = [
    "RuleStub",
    "newest_handoff",
    "proposed",
    "rule_stubs",
    "rule_stubs_query",
    "top_memories",
]

RuleStub = tuple[str, int, datetime | None, datetime | None, Any]
"""(id, token count, valid_from, valid_until, paths or None) of an active rule."""


def rule_stubs(session: Session, project: str, *, with_paths: bool) -> list[RuleStub]:
    """Every active rule's id, size and validity, pinned and important first (no content:
    a project with thousands of rules loads only those that fit)."""
    rows = session.execute(rule_stubs_query(project, with_paths=with_paths)).all()
    return [tuple(r) for r in rows]


def rule_stubs_query(project: str, *, with_paths: bool) -> Select[*tuple[Any, ...]]:
    """The query behind ``rule_stubs``: it reads the project's rules through the
    (project_id, kind, ...) index, never every active memory of the project."""
    return (
        sa_select(
            col(MemoryRow.id),
            col(MemoryRow.token_count),
            col(MemoryRow.valid_from),
            col(MemoryRow.valid_until),
            # the JSON column is decoded only when the request filters by paths
            col(MemoryRow.paths) if with_paths else literal(None),
        )
        .where(
            col(MemoryRow.project_id) == project,
            col(MemoryRow.status) == Status.ACTIVE.value,
            col(MemoryRow.kind) == Kind.RULE.value,
        )
        .order_by(col(MemoryRow.pinned).desc(), col(MemoryRow.importance).desc(), col(MemoryRow.id))
    )


def newest_handoff(session: Session, project: str) -> MemoryRow | None:
    """The project's newest active handoff."""
    return session.exec(
        select(MemoryRow)
        .where(
            MemoryRow.project_id == project,
            MemoryRow.status == Status.ACTIVE.value,
            MemoryRow.kind == Kind.HANDOFF.value,
        )
        .order_by(col(MemoryRow.id).desc())
        .limit(1)
    ).first()


def top_memories(session: Session, project: str, kinds: list[Kind], limit: int) -> list[MemoryRow]:
    """Active memories of these kinds: pinned, then important, then newest."""
    return list(
        session.exec(
            select(MemoryRow)
            .where(
                MemoryRow.project_id == project,
                MemoryRow.status == Status.ACTIVE.value,
                col(MemoryRow.kind).in_([k.value for k in kinds]),
            )
            .order_by(
                col(MemoryRow.pinned).desc(),
                col(MemoryRow.importance).desc(),
                col(MemoryRow.id).desc(),
            )
            .limit(limit)
        )
    )


def proposed(session: Session, project: str, limit: int) -> list[MemoryRow]:
    """Proposed memories waiting for review, newest first."""
    return list(
        session.exec(
            select(MemoryRow)
            .where(MemoryRow.project_id == project, MemoryRow.status == Status.PROPOSED.value)
            .order_by(col(MemoryRow.id).desc())
            .limit(limit)
        )
    )
