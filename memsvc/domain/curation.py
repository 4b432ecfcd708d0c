"""Curation and access: identity, stats, the review queue, export and import reports,
tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from memsvc.domain.audit import AuditEvent
from memsvc.domain.memories import Memory, Project
from memsvc.domain.vocabulary import Channel, Role


class WhoAmI(BaseModel):
    """The calling principal as the server sees it (the inspector hides what it cannot do)."""

    principal: str
    channel: Channel
    grants: dict[str, Role]
    client: str | None = None


class TagCount(BaseModel):
    tag: str
    count: int


class ProjectStats(BaseModel):
    """Memory counts for filters: ``counts[status][kind]``, tags in use, review backlog."""

    project: str
    counts: dict[str, dict[str, int]]
    tags: list[TagCount]
    review: int


class ReviewAction(StrEnum):
    KEEP = "keep"
    """Both stay; the flag is cleared."""
    MERGE = "merge"
    """Tags, paths, pin and importance fold into the other memory; the flagged one is deleted."""
    SUPERSEDE = "supersede"
    """The flagged memory replaces the other, which becomes ``superseded``."""
    DELETE = "delete"
    """The flagged memory is deleted; the other stays."""


class ReviewItem(BaseModel):
    """A memory flagged at write time, next to the memory it was flagged against."""

    memory: Memory
    other: Memory | None
    """None when the other memory has since been deleted."""
    reason: Literal["duplicate", "conflict", "proposed"]
    similarity: float | None


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    next_cursor: str | None


class ProjectExport(BaseModel):
    """A project's memories (every status but deleted) and its whole audit chain."""

    format: str = "memsvc-export/1"
    exported_at: datetime
    project: Project
    memories: list[Memory]
    audit: list[AuditEvent]


class TokenInfo(BaseModel):
    """An access token as listed: never the token itself, which is shown once."""

    token_id: str
    principal: str
    grants: dict[str, Role]
    """This token's roles: project id or ``*`` → role (tokens from before per-token grants
    carry their principal's)."""
    created_at: datetime
    revoked_at: datetime | None


class IssuedToken(TokenInfo):
    token: str
    """The bearer token. Stored only as a hash: it cannot be shown again."""


class ProjectImport(BaseModel):
    """What importing one project of an export did."""

    project: str
    created_project: bool
    memories_added: int
    memories_skipped: int
    """Already stored (same id): importing a file twice adds nothing."""
    versions_added: int


class ImportReport(BaseModel):
    """What an import did, project by project."""

    projects: list[ProjectImport]
