"""SQL tables (SQLModel). The source of truth; LanceDB is derived from these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "AccessTokenRow",
    "AgentActivityRow",
    "AuditCheckpointRow",
    "AuditEventRow",
    "AuditRefRow",
    "IndexOutboxRow",
    "MemoryRow",
    "MemoryTagRow",
    "MemoryVersionRow",
    "PrincipalGrantRow",
    "PrincipalRow",
    "ProjectRow",
    "QuarantineRow",
    "ReviewPolicyRow",
    "ServerSettingRow",
]


class ProjectRow(SQLModel, table=True):
    """A project: id, name, description, root paths, activity, archive time and index generation."""

    __tablename__ = "project"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    root_paths: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    last_active_at: datetime = Field(index=True)
    index_generation: int = 0
    """Bumped each time index changes are applied; in-memory caches compare against it."""
    archived_at: datetime | None = None
    """Set while the project is archived: read-only, hidden from ``open_last_project``."""
    rules_changed_at: datetime | None = None
    """When a call last changed one of the project's rules (added, updated, superseded,
    approved, quarantined, restored, deleted): the "rules changed" hint compares it with an
    agent identity's ``agent_activity.context_at``."""


class AgentActivityRow(SQLModel, table=True):
    """When each agent identity of each principal last worked in each project: writes,
    handoffs and context loads (``agent`` is ``""`` for a caller that names none). The
    inspector's browsing never lands here, so it cannot steer an agent's open_last_project."""

    __tablename__ = "agent_activity"

    principal: str = Field(primary_key=True, max_length=200)
    agent: str = Field(primary_key=True, max_length=200)
    project_id: str = Field(primary_key=True, foreign_key="project.id", max_length=64)
    last_active_at: datetime
    context_at: datetime | None = None
    """When this agent identity last loaded the project's context (get_context,
    open_project, open_last_project); None: never."""


class ReviewPolicyRow(SQLModel, table=True):
    """A project's review policy (``memsvc.domain.ReviewPolicy`` as JSON); no row = default."""

    __tablename__ = "review_policy"

    project_id: str = Field(primary_key=True, foreign_key="project.id", max_length=64)
    policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime
    updated_by: str = Field(max_length=200)


class QuarantineRow(SQLModel, table=True):
    """Memories hidden because of who wrote them; ``memories`` maps each id to the status
    it had, so a restore puts back exactly what was there."""

    __tablename__ = "quarantine"

    id: str = Field(primary_key=True, max_length=26)
    project_id: str = Field(foreign_key="project.id", max_length=64, index=True)
    field: str = Field(max_length=16)
    """``agent``, ``principal`` or ``session``: the provenance field matched."""
    value: str = Field(max_length=200)
    since: datetime | None = None
    reason: str = Field(default="", max_length=500)
    created_at: datetime
    created_by: str = Field(max_length=200)
    memories: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    restored_at: datetime | None = None
    restored_by: str | None = Field(default=None, max_length=200)
    deleted_at: datetime | None = None
    """Set when a curator deleted the quarantined memories instead of restoring them."""
    deleted_by: str | None = Field(default=None, max_length=200)


class ServerSettingRow(SQLModel, table=True):
    """Server-wide settings that must survive restarts, such as whether tokens are required."""

    __tablename__ = "server_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime


class MemoryRow(SQLModel, table=True):
    """A memory's current state; its versions are in ``memory_version``."""

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
        # the fleet dashboard's counts over a recent window read only that window
        Index("ix_audit_project_ts", "project_id", "ts"),
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


class AuditCheckpointRow(SQLModel, table=True):
    """A signed statement (Ed25519) of a chain's head and of every event hash it covers.

    Append-only like the events; the key that signs it lives outside the database.
    """

    __tablename__ = "audit_checkpoint"
    __table_args__ = (UniqueConstraint("chain", "idx", name="uq_audit_checkpoint_chain_idx"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=64)
    idx: int
    """1, 2, 3 … within the chain: a missing checkpoint leaves a visible gap."""
    prev_seq: int
    """Head seq of the chain's previous checkpoint (0 for the first)."""
    seq: int
    hash: str = Field(max_length=64)
    count: int
    """Events in the chain up to and including ``seq``."""
    ts: datetime
    key_id: str = Field(max_length=64)
    entries: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """``[seq, hash]`` of every chain event after ``prev_seq`` up to ``seq``."""
    signature: str = Field(max_length=200)


class PrincipalRow(SQLModel, table=True):
    """Someone who calls with a token (local mode's implicit ``local`` principal has no row)."""

    __tablename__ = "principal"

    name: str = Field(primary_key=True, max_length=100)
    created_at: datetime


class PrincipalGrantRow(SQLModel, table=True):
    """A principal's role in one project, or in every project (``project`` = ``*``)."""

    __tablename__ = "principal_grant"

    principal: str = Field(primary_key=True, foreign_key="principal.name", max_length=100)
    project: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    granted_at: datetime


class AccessTokenRow(SQLModel, table=True):
    """A bearer token, stored as the SHA-256 of the token (the token itself is shown once)."""

    __tablename__ = "access_token"

    id: str = Field(primary_key=True, max_length=32)
    """The public part of the token (``msv_<id>_<secret>``), used to look it up."""
    principal: str = Field(foreign_key="principal.name", max_length=100, index=True)
    token_hash: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None
    grants: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """This token's own roles (project id or ``*`` → role). None for tokens issued before
    grants were per token: those carry their principal's grants."""
