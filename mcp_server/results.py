"""Structured results of the tools (their output schemas). Static shapes built from the
domain types; ``project_source`` says how the project was chosen."""

from __future__ import annotations

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
    "ProjectList",
    "SearchResult",
]


class _Placed(BaseModel):
    project: str
    project_source: str
    """How the project was chosen: argument, workspace roots or server default."""


class ProjectList(BaseModel):
    projects: list[Project]


class MemoryResult(_Placed):
    memory: Memory
    created: bool | None = None
    """For writes: False when an identical active memory existed and was returned instead."""


class MemoryList(_Placed):
    memories: list[Memory]
    next_cursor: str | None


class HistoryResult(_Placed):
    memory_id: str
    versions: list[MemoryVersion]


class DeleteResult(_Placed):
    memory_id: str
    deleted: bool


class SearchResult(_Placed):
    hits: list[SearchHit]


class ContextResult(_Placed):
    context: ContextPack


class AuditResult(_Placed):
    events: list[AuditEvent]
    next_cursor: str | None
