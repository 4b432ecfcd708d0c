"""Structured results of the tools (their output schemas). Static shapes built from the
domain types; ``project_source`` says how the project was chosen."""

from __future__ import annotations

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from memsvc.domain import (
    AuditEvent,
    ContextPack,
    Memory,
    MemoryVersion,
    Project,
    SearchHit,
)

__all__ = [
    "AuditResult",
    "ContextResult",
    "DeleteResult",
    "HistoryResult",
    "MemoryList",
    "MemoryResult",
    "Placed",
    "ProjectList",
    "SearchResult",
    "envelope",
]


def envelope(text: str, structured: BaseModel) -> CallToolResult:
    """Every tool's result: readable text for the model plus the same facts as JSON."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json"),
    )


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

    memory: Memory
    created: bool | None = None
    """For writes: False when an identical active memory existed and was returned instead."""


class MemoryList(Placed):
    """A page of memories and the cursor of the next page."""

    memories: list[Memory]
    next_cursor: str | None


class HistoryResult(Placed):
    """Every version of one memory, oldest first."""

    memory_id: str
    versions: list[MemoryVersion]


class DeleteResult(Placed):
    """Which memory was deleted."""

    memory_id: str
    deleted: bool


class SearchResult(Placed):
    """Search hits, best first."""

    hits: list[SearchHit]


class ContextResult(Placed):
    """A context pack within a token budget."""

    context: ContextPack


class AuditResult(Placed):
    """A page of audit events, newest first, and the next cursor."""

    events: list[AuditEvent]
    next_cursor: str | None
