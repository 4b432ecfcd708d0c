"""REST v1 routes. Each parses, calls one service method, returns: no decisions here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from memsvc.api.deps import ActorDep, Page, ServiceDep, paging
from memsvc.domain import (
    READ_ACTIONS,
    WRITE_ACTIONS,
    AddResult,
    AuditPage,
    AuditQuery,
    Channel,
    ContextPack,
    ContextRequest,
    HandoffDraft,
    Kind,
    Memory,
    MemoryDraft,
    MemoryPatch,
    MemoryVersion,
    OpenedProject,
    Outcome,
    Project,
    ProjectCreate,
    ProjectExport,
    ProjectPatch,
    ProjectStats,
    ReviewAction,
    ReviewPage,
    Role,
    SearchHit,
    SearchQuery,
    Status,
    WhoAmI,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

MemoryPaging = Annotated[Page, paging(default=50, most=500)]
AuditPaging = Annotated[Page, paging(default=100, most=1000)]
ReviewPaging = Annotated[Page, paging(default=20, most=100)]


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
    """Search hits, best first."""

    hits: list[SearchHit]


class OpenBody(_Body):
    """How large a context pack to open a project with."""

    budget_tokens: int = 2000


class OpenByNameBody(OpenBody):
    """The project to open, by id, name or unique prefix."""

    name: str


class ReviewBody(_Body):
    """How to resolve a flagged memory."""

    action: ReviewAction


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


@router.post("/projects/{project}/search", tags=["recall"])
def search_memories(
    project: str, body: SearchQuery, service: ServiceDep, actor: ActorDep
) -> SearchResult:
    """Hybrid search over the project's memories, best first."""
    return SearchResult(hits=service.search_memories(actor, project, body))


@router.post("/projects/{project}/context", tags=["recall"])
def get_context(
    project: str, body: ContextRequest, service: ServiceDep, actor: ActorDep
) -> ContextPack:
    """A context pack for a task within a token budget."""
    return service.get_context(actor, project, body)


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


@router.get("/projects/{project}/audit", tags=["audit"])
def list_audit_events(
    project: str,
    service: ServiceDep,
    actor: ActorDep,
    page: AuditPaging,
    action: str | None = None,
    principal: str | None = None,
    memory_id: str | None = None,
    channel: Channel | None = None,
    client: str | None = None,
    hide_reads_from: Annotated[list[Channel] | None, Query()] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    """The project's audit events, newest first. ``hide_reads_from=web`` leaves out the
    inspector's own reads; ``client`` narrows to one agent's client."""
    query = AuditQuery(
        action=action,
        principal=principal,
        memory_id=memory_id,
        channel=channel,
        client=client,
        hide_reads_from=hide_reads_from,
        since=since,
        until=until,
        limit=page.limit,
        cursor=page.cursor,
    )
    return service.list_audit_events(actor, project, query)


@router.get("/projects/{project}/memories/{memory_id}/audit", tags=["audit"])
def memory_audit(
    project: str,
    memory_id: str,
    service: ServiceDep,
    actor: ActorDep,
    page: AuditPaging,
    hide_reads_from: Annotated[list[Channel] | None, Query()] = None,
) -> AuditPage:
    """The audit events that touched one memory, newest first (curator);
    ``hide_reads_from=web`` leaves out the inspector's own reads."""
    query = AuditQuery(
        memory_id=memory_id, limit=page.limit, cursor=page.cursor, hide_reads_from=hide_reads_from
    )
    return service.list_audit_events(actor, project, query)


@router.get("/whoami", tags=["service"])
def whoami(service: ServiceDep, actor: ActorDep) -> WhoAmI:
    """The calling principal and its role per project."""
    return service.whoami(actor)


@router.get("/projects/{project}/stats", tags=["projects"])
def project_stats(project: str, service: ServiceDep, actor: ActorDep) -> ProjectStats:
    """Memory counts by status and kind, tags in use, and the review backlog."""
    return service.project_stats(actor, project)


@router.get("/projects/{project}/review", tags=["curation"])
def list_review_queue(
    project: str,
    service: ServiceDep,
    actor: ActorDep,
    page: ReviewPaging,
) -> ReviewPage:
    """Memories flagged at write time as possible duplicates or conflicts."""
    return service.list_review_queue(actor, project, limit=page.limit, cursor=page.cursor)


@router.post("/projects/{project}/review/{memory_id}", tags=["curation"])
def resolve_review(
    project: str, memory_id: str, body: ReviewBody, service: ServiceDep, actor: ActorDep
) -> Memory:
    """keep · merge · supersede · delete a flagged memory; returns the memory that stays."""
    return service.resolve_review(actor, project, memory_id, body.action)


@router.get(
    "/projects/{project}/export",
    tags=["curation"],
    response_model=ProjectExport,
)
def export_project(project: str, service: ServiceDep, actor: ActorDep) -> JSONResponse:
    """The project's memories and audit chain as one JSON download."""
    export = service.export_project(actor, project)
    name = f"memsvc-{export.project.id}-{export.exported_at:%Y%m%dT%H%M%SZ}.json"
    return JSONResponse(
        export.model_dump(mode="json"),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class MemoryDetails(BaseModel):
    """Everything the inspector's memory page shows, in one response."""

    project: Project
    memory: Memory
    versions: list[MemoryVersion]
    chain: list[Memory]
    """The supersession chain, oldest first (just this memory when it has none)."""
    audit: AuditPage | None
    """The newest events touching the memory; ``None`` below the curator role."""


_CHAIN_MAX = 25


def _chain(service: ServiceDep, actor: ActorDep, project: str, memory: Memory) -> list[Memory]:
    chain = [memory]
    seen = {memory.id}
    for key in ("supersedes", "superseded_by"):
        current = memory
        while (next_id := getattr(current, key)) and next_id not in seen:
            if len(seen) >= _CHAIN_MAX:
                break
            seen.add(next_id)
            versions = service.memory_history(actor, project, next_id)
            current = versions[-1].memory
            if key == "supersedes":
                chain.insert(0, current)
            else:
                chain.append(current)
    return chain


@router.get("/projects/{project}/memories/{memory_id}/details", tags=["memories"])
def memory_details(
    project: str,
    memory_id: str,
    service: ServiceDep,
    actor: ActorDep,
    audit_limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    audit_hide_reads_from: Annotated[list[Channel] | None, Query()] = None,
) -> MemoryDetails:
    """A memory with its versions, supersession chain and audit trail: one request for
    what the inspector's memory page shows. A deleted memory is returned as its last
    version (status ``deleted``) so it can still be looked at."""
    versions = service.memory_history(actor, project, memory_id)
    memory = versions[-1].memory if versions else None
    if memory is None or memory.status != Status.DELETED:
        memory = service.get_memory(actor, project, memory_id)
    audit = None
    if actor.allows(project, Role.CURATOR):
        query = AuditQuery(
            memory_id=memory.id, limit=audit_limit, hide_reads_from=audit_hide_reads_from
        )
        audit = service.list_audit_events(actor, project, query)
    return MemoryDetails(
        project=service.get_project(actor, project),
        memory=memory,
        versions=versions,
        chain=_chain(service, actor, project, memory),
        audit=audit,
    )


class Meta(BaseModel):
    """What the server knows that a client should not copy: names, ranks and thresholds."""

    kinds: list[Kind]
    statuses: list[Status]
    roles: list[Role]
    """Lowest to highest; each role can do what the ones before it can."""
    channels: list[Channel]
    outcomes: list[Outcome]
    review_actions: list[ReviewAction]
    immutable_kinds: list[Kind]
    """Kinds whose content is never edited in place: a change supersedes them."""
    read_actions: list[str]
    write_actions: list[str]
    near_duplicate_cosine: float
    conflict_cosine: float
    list_limit: int
    search_limit: int


# The write path keeps rules and decisions immutable (edits supersede them); stated once
# here for clients until the core exports the set.
_IMMUTABLE_KINDS = (Kind.RULE, Kind.DECISION)


@router.get("/meta", tags=["service"])
def meta(service: ServiceDep) -> Meta:
    """Kinds, statuses, roles, channels, audit action names and the review thresholds."""
    settings = service.settings
    return Meta(
        kinds=list(Kind),
        statuses=list(Status),
        roles=sorted(Role, key=lambda r: r.rank),
        channels=list(Channel),
        outcomes=list(Outcome),
        review_actions=list(ReviewAction),
        immutable_kinds=list(_IMMUTABLE_KINDS),
        read_actions=sorted(READ_ACTIONS),
        write_actions=sorted(WRITE_ACTIONS),
        near_duplicate_cosine=settings.near_duplicate_cosine,
        conflict_cosine=settings.conflict_cosine,
        list_limit=settings.limits.list_limit,
        search_limit=settings.limits.search_limit,
    )
