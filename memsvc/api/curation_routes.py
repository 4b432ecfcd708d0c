"""REST routes for curators and the inspector: the audit log, identity, stats, the review
queue, export, a memory's details in one call, and the server's vocabulary (``/meta``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from memsvc.api.deps import ActorDep, Page, ServiceDep, paging
from memsvc.domain import (
    DEFAULT_MIN_RELEVANCE,
    READ_ACTIONS,
    WRITE_ACTIONS,
    AuditPage,
    AuditQuery,
    Channel,
    Kind,
    Memory,
    MemoryVersion,
    Outcome,
    Project,
    ProjectExport,
    ProjectStats,
    ReviewAction,
    ReviewPage,
    Role,
    Status,
    WhoAmI,
)

__all__ = ["curation_router"]

curation_router = APIRouter(prefix="/api/v1")

AuditPaging = Annotated[Page, paging(default=100, most=1000)]
ReviewPaging = Annotated[Page, paging(default=20, most=100)]


class _Body(BaseModel):
    """Request bodies refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class ReviewBody(_Body):
    """How to resolve a flagged memory."""

    action: ReviewAction


@curation_router.get("/projects/{project}/audit", tags=["audit"])
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


@curation_router.get("/projects/{project}/memories/{memory_id}/audit", tags=["audit"])
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


@curation_router.get("/whoami", tags=["service"])
def whoami(service: ServiceDep, actor: ActorDep) -> WhoAmI:
    """The calling principal and its role per project."""
    return service.whoami(actor)


@curation_router.get("/projects/{project}/stats", tags=["projects"])
def project_stats(project: str, service: ServiceDep, actor: ActorDep) -> ProjectStats:
    """Memory counts by status and kind, tags in use, and the review backlog."""
    return service.project_stats(actor, project)


@curation_router.get("/projects/{project}/review", tags=["curation"])
def list_review_queue(
    project: str,
    service: ServiceDep,
    actor: ActorDep,
    page: ReviewPaging,
) -> ReviewPage:
    """Memories flagged at write time as possible duplicates or conflicts."""
    return service.list_review_queue(actor, project, limit=page.limit, cursor=page.cursor)


@curation_router.post("/projects/{project}/review/{memory_id}", tags=["curation"])
def resolve_review(
    project: str, memory_id: str, body: ReviewBody, service: ServiceDep, actor: ActorDep
) -> Memory:
    """keep · merge · supersede · delete a flagged memory; returns the memory that stays."""
    return service.resolve_review(actor, project, memory_id, body.action)


@curation_router.get(
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


@curation_router.get("/projects/{project}/memories/{memory_id}/details", tags=["memories"])
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
    min_relevance: float
    """The default ``min_relevance`` of a search: hits below it are left out."""


# The write path keeps rules and decisions immutable (edits supersede them); stated once
# here for clients until the core exports the set.
_IMMUTABLE_KINDS = (Kind.RULE, Kind.DECISION)


@curation_router.get("/meta", tags=["service"])
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
        min_relevance=DEFAULT_MIN_RELEVANCE,
    )
