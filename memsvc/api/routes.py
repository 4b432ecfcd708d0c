"""REST v1 routes. Each parses, calls one service method, returns: no decisions here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from memsvc.api.deps import ActorDep, Page, ServiceDep, paging
from memsvc.domain import (
    AddResult,
    ContextPack,
    ContextRequest,
    HandoffDraft,
    Kind,
    Memory,
    MemoryDraft,
    MemoryPatch,
    MemoryVersion,
    OpenedProject,
    Project,
    ProjectCreate,
    ProjectPatch,
    SearchHit,
    SearchQuery,
    Status,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

MemoryPaging = Annotated[Page, paging(default=50)]
"""The page size's maximum is ``MEMSVC_LIMIT_LIST_LIMIT``, checked by the service and stated
in the document by ``memsvc/api/limits.py``."""


class _Body(BaseModel):
    """Request bodies refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class WrittenMemory(Memory):
    """A memory as written, and whether an identical one was returned instead."""

    deduplicated: bool = False
    """True when an identical active memory existed: this is that memory, nothing was added."""


class ProjectList(BaseModel):
    """The projects the caller can read."""

    projects: list[Project]


class MemoryList(BaseModel):
    """A page of memories and the cursor of the next page."""

    memories: list[Memory]
    next_cursor: str | None = None


class BatchBody(_Body):
    """Memories to store in one request."""

    memories: list[MemoryDraft] = Field(min_length=1)


class BatchResult(BaseModel):
    """The stored (or deduplicated) memories, in request order."""

    memories: list[WrittenMemory]


class HistoryResult(BaseModel):
    """Every version of a memory."""

    versions: list[MemoryVersion]


class SearchResult(BaseModel):
    """Search hits, best first; when none passes ``min_relevance``, a hint what to do."""

    hits: list[SearchHit]
    hint: str | None = None
    rules_changed: bool = False
    """True when the project's rules changed since this agent identity (``X-Memsvc-Agent``)
    last loaded its context: load it again before relying on them."""


class OpenBody(_Body):
    """How large a context pack to open a project with."""

    budget_tokens: int = 2000


class OpenByNameBody(OpenBody):
    """The project to open, by id, name or unique prefix."""

    name: str


def serialised(model: BaseModel) -> Response:
    """``model`` as the JSON body FastAPI would send for it, serialised once.

    A sync route that returns a model has FastAPI validate it again against the route's
    ``response_model`` in a worker thread (one more thread round trip per request) before
    dumping it; the service's models are built validated, so the hot read routes return
    the bytes instead (same dump: by alias, ``application/json``) and declare the model
    with ``response_model`` for the document."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")


def _written(result: AddResult) -> WrittenMemory:
    return WrittenMemory(**result.memory.model_dump(), deduplicated=not result.created)


@router.get("/health", tags=["service"])
def health(service: ServiceDep) -> dict[str, Any]:
    """Liveness plus the index backlog."""
    return service.health()


@router.post("/projects", status_code=201, tags=["projects"])
def create_project(body: ProjectCreate, service: ServiceDep, actor: ActorDep) -> Project:
    """Create a project (global admin); memories never cross projects."""
    return service.create_project(actor, body)


@router.get("/projects", tags=["projects"])
def list_projects(service: ServiceDep, actor: ActorDep) -> ProjectList:
    """The projects the caller can read, with their memory counts."""
    return ProjectList(projects=service.list_projects(actor))


@router.get("/projects/{project}", tags=["projects"])
def get_project(project: str, service: ServiceDep, actor: ActorDep) -> Project:
    """One project by id."""
    return service.get_project(actor, project)


@router.patch("/projects/{project}", tags=["projects"])
def update_project(
    project: str, body: ProjectPatch, service: ServiceDep, actor: ActorDep
) -> Project:
    """Change a project's name, description or root paths (admin)."""
    return service.update_project(actor, project, body)


@router.post(
    "/projects/{project}/memories",
    status_code=201,
    tags=["memories"],
    responses={200: {"description": "an identical memory existed; it is returned"}},
)
def add_memory(
    project: str, body: MemoryDraft, response: Response, service: ServiceDep, actor: ActorDep
) -> WrittenMemory:
    """Store one memory (201), or return the identical active one that exists (200)."""
    result = service.add_memory(actor, project, body)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _written(result)


@router.post("/projects/{project}/memories:batch", status_code=201, tags=["memories"])
def add_memories(
    project: str, body: BatchBody, service: ServiceDep, actor: ActorDep
) -> BatchResult:
    """Store several memories at once; each says whether it was deduplicated."""
    results = service.add_memories(actor, project, body.memories)
    return BatchResult(memories=[_written(r) for r in results])


@router.get("/projects/{project}/memories", tags=["memories"])
def list_memories(
    project: str,
    service: ServiceDep,
    actor: ActorDep,
    page: MemoryPaging,
    kind: Annotated[list[Kind] | None, Query()] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    tag: str | None = None,
    pinned: bool | None = None,
) -> MemoryList:
    """Memories newest first, filtered by kind, status, tag or pin; paged by cursor."""
    found = service.list_memories(
        actor,
        project,
        kinds=kind,
        statuses=status,
        tag=tag,
        pinned=pinned,
        limit=page.limit,
        cursor=page.cursor,
    )
    return MemoryList(memories=found.memories, next_cursor=found.next_cursor)


@router.get("/projects/{project}/memories/{memory_id}", tags=["memories"])
def get_memory(project: str, memory_id: str, service: ServiceDep, actor: ActorDep) -> Memory:
    """One memory by id, with status, version and provenance."""
    return service.get_memory(actor, project, memory_id)


@router.patch("/projects/{project}/memories/{memory_id}", tags=["memories"])
def update_memory(
    project: str, memory_id: str, body: MemoryPatch, service: ServiceDep, actor: ActorDep
) -> Memory:
    """Change a memory in place; every version is kept."""
    return service.update_memory(actor, project, memory_id, body)


@router.delete("/projects/{project}/memories/{memory_id}", status_code=204, tags=["memories"])
def delete_memory(project: str, memory_id: str, service: ServiceDep, actor: ActorDep) -> Response:
    """Delete a memory; a tombstone stays in its history."""
    service.delete_memory(actor, project, memory_id)
    return Response(status_code=204)


@router.post(
    "/projects/{project}/memories/{memory_id}/supersede", status_code=201, tags=["memories"]
)
def supersede_memory(
    project: str, memory_id: str, body: MemoryDraft, service: ServiceDep, actor: ActorDep
) -> Memory:
    """Replace a memory with a new one that links back to it."""
    return service.supersede_memory(actor, project, memory_id, body)


@router.get("/projects/{project}/memories/{memory_id}/history", tags=["memories"])
def memory_history(
    project: str, memory_id: str, service: ServiceDep, actor: ActorDep
) -> HistoryResult:
    """Every version of a memory, oldest first."""
    return HistoryResult(versions=service.memory_history(actor, project, memory_id))


@router.post("/projects/{project}/search", tags=["recall"], response_model=SearchResult)
def search_memories(
    project: str, body: SearchQuery, service: ServiceDep, actor: ActorDep
) -> Response:
    """Hybrid search over the project's memories, best first, above ``min_relevance``."""
    hits = service.search_memories(actor, project, body)
    stale = service.rules_changed(actor, project)
    hint = None if hits else body.empty_hint()
    return serialised(SearchResult(hits=hits, hint=hint, rules_changed=stale))


@router.post("/projects/{project}/context", tags=["recall"], response_model=ContextPack)
def get_context(
    project: str, body: ContextRequest, service: ServiceDep, actor: ActorDep
) -> Response:
    """A context pack for a task within a token budget."""
    return serialised(service.get_context(actor, project, body))


@router.post("/projects/{project}/handoffs", status_code=201, tags=["recall"])
def write_handoff(
    project: str, body: HandoffDraft, service: ServiceDep, actor: ActorDep
) -> WrittenMemory:
    """Store a session handoff: what was done, what is next, open questions."""
    result = service.write_handoff(
        actor, project, body.summary, body.done, body.next, body.open_questions
    )
    return _written(result)


@router.post("/open-last-project", tags=["recall"])
def open_last_project(
    service: ServiceDep, actor: ActorDep, body: OpenBody | None = None
) -> OpenedProject:
    """The project the caller was last active in, its pack and what changed."""
    return service.open_last_project(actor, (body or OpenBody()).budget_tokens)


@router.post("/open-project", tags=["recall"])
def open_project(body: OpenByNameBody, service: ServiceDep, actor: ActorDep) -> OpenedProject:
    """A project by name or unique prefix, its pack and what changed."""
    return service.open_project(actor, body.name, body.budget_tokens)
