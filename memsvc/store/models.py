"""SQL tables (SQLModel). The source of truth; LanceDB is derived from these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "AuditEventRow",
    "AuditRefRow",
    "IndexOutboxRow",
    "MemoryRow",
    "MemoryTagRow",
    "MemoryVersionRow",
    "ProjectActivityRow",
    "ProjectRow",
]


class ProjectRow(SQLModel, table=True):
    __tablename__ = "project"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    root_paths: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    last_active_at: datetime = Field(index=True)
    index_generation: int = 0
    """Bumped each time index changes are applied; in-memory caches compare against it."""


class ProjectActivityRow(SQLModel, table=True):
    """When each principal was last active in each project (open_last_project, "since")."""

    __tablename__ = "project_activity"

    principal: str = Field(primary_key=True, max_length=200)
    project_id: str = Field(primary_key=True, foreign_key="project.id", max_length=64)
    last_active_at: datetime


class MemoryRow(SQLModel, table=True):
    __tablename__ = "memory"
    __table_args__ = (
        Index("ix_memory_project_status_id", "project_id", "status", "id"),
        Index("ix_memory_project_kind_hash", "project_id", "kind", "content_hash"),
    )

    id: str = Field(primary_key=True, max_length=26)
    project_id: str = Field(foreign_key="project.id", max_length=64)
    kind: str = Field(max_length=32)
    content: str = Field(sa_column=Column(Text, nullable=False))
    title: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    paths: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16)
    pinned: bool = False
    importance: float = 0.5
    version: int = 1
    supersedes: str | None = Field(default=None, max_length=26)
    superseded_by: str | None = Field(default=None, max_length=26)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    provenance: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    token_count: int = 0
    embedding_model: str = Field(max_length=100)
    duplicate_of: str | None = Field(default=None, max_length=26)
    conflicts_with: str | None = Field(default=None, max_length=26)
    redactions: int = 0


class MemoryTagRow(SQLModel, table=True):
    """One row per (memory, tag) so tag filters are plain indexed SQL on every backend."""

    __tablename__ = "memory_tag"
    __table_args__ = (Index("ix_memory_tag_project_tag", "project_id", "tag"),)

    memory_id: str = Field(primary_key=True, foreign_key="memory.id", max_length=26)
    tag: str = Field(primary_key=True, max_length=64)
    project_id: str = Field(max_length=64)


class MemoryVersionRow(SQLModel, table=True):
    """Every version of every memory, as a full snapshot."""

    __tablename__ = "memory_version"

    memory_id: str = Field(primary_key=True, foreign_key="memory.id", max_length=26)
    version: int = Field(primary_key=True)
    project_id: str = Field(max_length=64, index=True)
    change: str = Field(max_length=32)
    changed_at: datetime = Field(index=True)
    changed_by: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IndexOutboxRow(SQLModel, table=True):
    """Index work written in the same transaction as the memory; applied to LanceDB after."""

    __tablename__ = "index_outbox"
    __table_args__ = (Index("ix_outbox_pending", "applied_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(max_length=64)
    memory_id: str = Field(max_length=26)
    op: str = Field(max_length=16)
    """``upsert`` (text changed: embed again), ``meta`` (status/kind only) or ``delete``."""
    created_at: datetime
    applied_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


class AuditEventRow(SQLModel, table=True):
    """Append-only; each project's events form a SHA-256 hash chain (``chain`` = project)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_chain_seq", "chain", "seq"),
        Index("ix_audit_project_seq", "project_id", "seq"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=64)
    """The project id, or ``""`` for events outside any project (list_projects …)."""
    project_id: str | None = Field(default=None, max_length=64)
    ts: datetime
    principal: str = Field(max_length=200)
    channel: str = Field(max_length=16)
    client: str | None = Field(default=None, max_length=200)
    action: str = Field(max_length=64, index=True)
    target_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    returned_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    outcome: str = Field(max_length=16)
    request_id: str | None = Field(default=None, max_length=100)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditRefRow(SQLModel, table=True):
    """Which memories an audit event touched or returned (per-memory "who read this")."""

    __tablename__ = "audit_ref"
    __table_args__ = (Index("ix_audit_ref_memory", "memory_id", "seq"),)

    seq: int = Field(primary_key=True, foreign_key="audit_event.seq")
    memory_id: str = Field(primary_key=True, max_length=26)
