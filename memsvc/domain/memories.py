"""Projects and memories as callers write and read them: drafts, patches, versions, pages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from memsvc.domain.vocabulary import CleanText, Kind, Provenance, ProvenanceIn, Status, _Wire


class ProjectCreate(_Wire):
    """A new project: its id, and optionally a name, description and root paths."""

    id: CleanText
    name: CleanText | None = None
    description: CleanText | None = None
    root_paths: list[CleanText] = Field(default_factory=list)


class ProjectPatch(_Wire):
    name: CleanText | None = None
    description: CleanText | None = None
    root_paths: list[CleanText] | None = None


class Project(BaseModel):
    """A project: the unit of isolation."""

    id: str
    name: str
    description: str
    root_paths: list[str]
    created_at: datetime
    last_active_at: datetime
    counts: dict[str, int] = Field(default_factory=dict)
    """Active memories by kind."""
    archived_at: datetime | None = None
    """Set while archived: the project is read-only and ``open_last_project`` skips it."""


class MemoryDraft(_Wire):
    """A memory as a caller writes it, before validation and redaction."""

    kind: Kind
    content: CleanText
    title: CleanText | None = None
    tags: list[CleanText] = Field(default_factory=list)
    paths: list[CleanText] = Field(default_factory=list)
    pinned: bool = False
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    provenance: ProvenanceIn | None = None


class MemoryPatch(_Wire):
    """Any draft field; content changes are refused for rules and decisions (supersede)."""

    content: CleanText | None = None
    title: CleanText | None = None
    tags: list[CleanText] | None = None
    paths: list[CleanText] | None = None
    pinned: bool | None = None
    importance: float | None = Field(default=None, ge=0.0, le=1.0)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: Literal["active", "archived"] | None = None
    kind: Kind | None = None
    provenance: ProvenanceIn | None = None
    expected_version: int | None = None
    """Optimistic concurrency: refuse with 409 unless the memory is at this version."""


class Memory(BaseModel):
    """A stored memory at its current version."""

    id: str
    project: str
    kind: Kind
    content: str
    title: str | None
    tags: list[str]
    paths: list[str]
    status: Status
    pinned: bool
    importance: float
    version: int
    supersedes: str | None
    superseded_by: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime
    updated_at: datetime
    provenance: Provenance
    content_hash: str
    token_count: int
    embedding_model: str
    duplicate_of: str | None = None
    """Set when the memory was a near-duplicate of this one at write time (review queue)."""
    conflicts_with: str | None = None
    """Set when a new rule or decision was close to (not a duplicate of) this active one of
    the same kind at write time: a possible contradiction for a curator to review."""
    redactions: int = 0
    """How many secrets were redacted from the content, title, tags and paths before it was
    stored."""


class AddResult(BaseModel):
    """A write's result: the memory and whether it is new."""

    memory: Memory
    created: bool
    """False when an identical active memory existed; ``memory`` is that one."""


class Change(BaseModel):
    """One entry of "since you were last here"."""

    memory_id: str
    kind: Kind
    title: str | None
    change: str
    version: int
    at: datetime
    by: str
    summary: str = ""
    """The memory's text in one line (truncated), enough to act on without fetching it."""
    status: str | None = None
    """The memory's status now (``proposed`` changes are not yet rules)."""
    supersedes: str | None = None
    supersedes_summary: str | None = None
    """What the memory replaced, in one line."""


class MemoryVersion(BaseModel):
    version: int
    change: str
    changed_at: datetime
    changed_by: Provenance
    memory: Memory


class MemoryPage(BaseModel):
    memories: list[Memory]
    next_cursor: str | None
