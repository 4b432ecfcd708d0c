"""memsvc: a project-scoped memory service for AI agents.

The public surface is this package's ``__all__``: build a service with
``build_service(Settings(...))`` and call ``MemoryService`` methods with an ``Actor``.
"""

from memsvc.bootstrap import build_service
from memsvc.domain import (
    Actor,
    AddResult,
    AuditEvent,
    Channel,
    ContextPack,
    ContextRequest,
    Kind,
    Memory,
    MemoryDraft,
    MemoryPatch,
    Project,
    ProjectCreate,
    Role,
    SearchHit,
    SearchQuery,
    Status,
)
from memsvc.errors import MemsvcError
from memsvc.retrieval.context import render_memory
from memsvc.service import MemoryService
from memsvc.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "AddResult",
    "AuditEvent",
    "Channel",
    "ContextPack",
    "ContextRequest",
    "Kind",
    "Memory",
    "MemoryDraft",
    "MemoryPatch",
    "MemoryService",
    "MemsvcError",
    "Project",
    "ProjectCreate",
    "Role",
    "SearchHit",
    "SearchQuery",
    "Settings",
    "Status",
    "__version__",
    "build_service",
    "render_memory",
]
