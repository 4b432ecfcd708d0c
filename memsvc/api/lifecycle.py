"""REST for lifecycle and portability: archive, unarchive and delete a project, restore a
memory, stream a project's export, import an export or another tool's file."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from memsvc.api.deps import ActorDep, ServiceDep
from memsvc.domain import ImportReport, Memory, Project
from memsvc.errors import InvalidInput

__all__ = ["lifecycle_router"]

lifecycle_router = APIRouter(prefix="/api/v1")
NDJSON = "application/x-ndjson"
ImportFormat = Literal["mcp-memory", "mem0", "basic-memory", "instructions"]


class FileImport(BaseModel):
    """Another tool's file to import."""

    format: ImportFormat
    text: str
    """At most ``MEMSVC_LIMIT_REQUEST_BYTES`` (the body limit) long."""
    source: str = Field(default="upload", max_length=500, description="The file's name.")


class DraftsImported(BaseModel):
    """What importing another tool's file stored."""

    added: int
    already_stored: int
    proposed: int = 0
    """Of ``added``, how many wait for a curator's approval (the project's review policy
    for channel ``import``)."""


async def _text(request: Request) -> str:
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8 text") from None


@lifecycle_router.post("/projects/{project}/archive", tags=["projects"])
def archive_project(project: str, service: ServiceDep, actor: ActorDep) -> Project:
    """Archive a project: read-only, skipped by open-last-project (admin)."""
    return service.archive_project(actor, project)


@lifecycle_router.post("/projects/{project}/unarchive", tags=["projects"])
def unarchive_project(project: str, service: ServiceDep, actor: ActorDep) -> Project:
    """Make an archived project writable again (admin)."""
    return service.archive_project(actor, project, archived=False)


@lifecycle_router.delete("/projects/{project}", status_code=204, tags=["projects"])
def delete_project(
    project: str,
    service: ServiceDep,
    actor: ActorDep,
    confirm: Annotated[str, Query(description="The project's id again.", max_length=64)],
) -> Response:
    """Delete a project for good: memories, versions and index purged (admin)."""
    service.delete_project(actor, project, confirm)
    return Response(status_code=204)


@lifecycle_router.post("/projects/{project}/memories/{memory_id}/restore", tags=["memories"])
def restore_memory(project: str, memory_id: str, service: ServiceDep, actor: ActorDep) -> Memory:
    """Bring a deleted memory back as active."""
    return service.restore_memory(actor, project, memory_id)


@lifecycle_router.get(
    "/projects/{project}/export.jsonl",
    tags=["projects"],
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "One JSON object a line."}},
)
def export_memories(project: str, service: ServiceDep, actor: ActorDep) -> StreamingResponse:
    """The project's memories, every version and provenance, as memsvc JSONL (curator)."""
    lines = service.export_memories(actor, [project])
    headers = {"Content-Disposition": f'attachment; filename="{project}.jsonl"'}
    return StreamingResponse(lines, media_type=NDJSON, headers=headers)


@lifecycle_router.post("/import", tags=["projects"])
async def import_memories(request: Request, service: ServiceDep, actor: ActorDep) -> ImportReport:
    """Import a memsvc JSONL export (the body, ``application/x-ndjson``): exact and
    idempotent (curator; admin to create a project)."""
    return service.import_memories(actor, (await _text(request)).splitlines())


@lifecycle_router.post("/projects/{project}/import", tags=["projects"])
def import_file(
    project: str, body: FileImport, service: ServiceDep, actor: ActorDep
) -> DraftsImported:
    """Import another tool's file into the project, with channel ``import``."""
    results = service.import_file(actor, project, body.format, body.text, body.source)
    added = sum(r.created for r in results)
    proposed = sum(r.created and r.memory.status == "proposed" for r in results)
    return DraftsImported(added=added, already_stored=len(results) - added, proposed=proposed)
