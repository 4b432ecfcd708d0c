"""Structured results of the tools (their output schemas), sized for agents: a memory is
its id, kind, text, state and who wrote it, without the hashes, embedding model, token
counts and per-stage ranking scores the REST API carries. Optional fields are left out of
a result when they hold their default (the schema names the default), so a result is about
as long as its text. ``project_source`` says how the project was chosen."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from mcp_types import CallToolResult, TextContent
from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from memsvc.domain import (
    AuditEvent,
    Change,
    Channel,
    Kind,
    Omitted,
    Project,
    Status,
)

__all__ = [
    "AuditResult",
    "ContextResult",
    "DeleteResult",
    "HistoryResult",
    "Hit",
    "Mem",
    "MemoryList",
    "MemoryResult",
    "Opened",
    "Pack",
    "Placed",
    "ProjectList",
    "Review",
    "SearchResult",
    "Version",
    "Who",
    "envelope",
]


def envelope(text: str, structured: BaseModel) -> CallToolResult:
    """Every tool's result: readable text for the model plus the same facts as JSON."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json"),
    )


class _Compact(BaseModel):
    """Built from the domain type of the same shape by attribute (``from_attributes``), so a
    tool hands over the service's objects and only the fields below reach the wire."""

    model_config = ConfigDict(from_attributes=True)


class _Lean(_Compact):
    """A model that leaves out optional fields holding their default when serialized:
    the schema documents each default, so a client reads an absent field as that value."""

    @model_serializer(mode="wrap")
    def _drop_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name, field in type(self).model_fields.items():
            if not field.is_required() and getattr(self, name) == field.get_default(
                call_default_factory=True
            ):
                data.pop(name, None)
        return data


class Who(_Lean):
    """Who wrote a memory: principal and door, plus client, agent, session and origin
    when known."""

    principal: str
    channel: Channel
    agent: str | None = None
    session: str | None = None
    client: str | None = None
    client_version: str | None = None
    origin: str | None = None


class Mem(_Lean):
    """A memory as an agent needs it."""

    id: str
    project: str
    kind: Kind
    content: str
    status: Status
    version: int
    updated_at: datetime
    provenance: Who
    title: str | None = None
    tags: list[str] = []
    paths: list[str] = []
    pinned: bool = False
    importance: float = 0.5
    supersedes: str | None = None
    superseded_by: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    duplicate_of: str | None = None
    conflicts_with: str | None = None
    redactions: int = 0


class Hit(_Compact):
    """One search hit: the memory and its score (higher is better)."""

    memory: Mem
    score: float

    @field_validator("score")
    @classmethod
    def _shown(cls, score: float) -> float:
        """The score to the precision the text shows."""
        return round(score, 3)


class Version(_Compact):
    """One version of a memory and who made it."""

    version: int
    change: str
    changed_at: datetime
    changed_by: Who
    memory: Mem


class Pack(_Compact):
    """A context pack: its text, the memories in it and what the budget left out."""

    project: str
    text: str
    items: list[Mem]
    omitted: list[Omitted]
    tokens: int
    budget_tokens: int
    omitted_more: int = 0


class Opened(_Compact):
    """An opened project: the project, what changed since the caller's last visit, its pack."""

    project: Project
    context: Pack
    since: list[Change]
    last_seen_at: datetime | None
    agent: str = ""
    since_omitted: int = 0
    workspace_project: str | None = None


class Review(_Compact):
    """A memory flagged at write time, beside the one it was flagged against."""

    memory: Mem
    other: Mem | None
    reason: Literal["duplicate", "conflict", "proposed"]
    similarity: float | None


class Placed(BaseModel):
    """The fields every result of a project-scoped tool starts with."""

    project: str
    project_source: str
    """How the project was chosen: argument, workspace roots or server default."""


class ProjectList(BaseModel):
    """list_projects: the projects the caller can read."""

    projects: list[Project]


class MemoryResult(Placed):
    """One memory: read, stored, updated or the successor of a superseded one."""

    memory: Mem
    created: bool | None = None
    """For writes: False when an identical active memory existed and was returned instead."""


class MemoryList(Placed):
    """A page of memories and the cursor of the next page."""

    memories: list[Mem]
    next_cursor: str | None


class HistoryResult(Placed):
    """Every version of one memory, oldest first."""

    memory_id: str
    versions: list[Version]


class DeleteResult(Placed):
    """Which memory was deleted."""

    memory_id: str
    deleted: bool


class SearchResult(Placed):
    """Search hits, best first."""

    hits: list[Hit]


class ContextResult(Placed):
    """A context pack within a token budget."""

    context: Pack


class AuditResult(Placed):
    """A page of audit events, newest first, and the next cursor."""

    events: list[AuditEvent]
    next_cursor: str | None
