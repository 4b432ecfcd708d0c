"""REST v1 routes for running a fleet of agents: review policy, approving or rejecting
proposed memories, and quarantines. Each parses, calls one service method, returns.

The agent identity of a REST caller is the ``X-Memsvc-Agent`` header (see README,
"Running a fleet"); the inspector (``X-Memsvc-Ui: 1``) is a human and never an agent.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from memsvc.api.deps import ActorDep, ServiceDep
from memsvc.domain import Memory, ProposalEdit, Quarantine, QuarantineCreate, ReviewPolicy

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["fleet"])


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edit: ProposalEdit | None = None
    """Edit-then-approve: the changes to make as the memory is approved."""


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class QuarantineList(BaseModel):
    quarantines: list[Quarantine]


class RequireTokens(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: bool


@router.get("/projects/{project}/review-policy")
def get_review_policy(project: str, service: ServiceDep, actor: ActorDep) -> ReviewPolicy:
    """Which kinds written through which channels and roles land ``proposed``."""
    return service.get_review_policy(actor, project)


@router.put("/projects/{project}/review-policy")
def set_review_policy(
    project: str, body: ReviewPolicy, service: ServiceDep, actor: ActorDep
) -> ReviewPolicy:
    """Replace the project's review policy (admin)."""
    return service.set_review_policy(actor, project, body)


@router.post("/projects/{project}/memories/{memory_id}/approve")
def approve_memory(
    project: str,
    memory_id: str,
    service: ServiceDep,
    actor: ActorDep,
    body: ApproveBody | None = None,
) -> Memory:
    """Make a proposed memory active, optionally edited first (curator)."""
    return service.approve_memory(actor, project, memory_id, (body or ApproveBody()).edit)


@router.post("/projects/{project}/memories/{memory_id}/reject")
def reject_memory(
    project: str,
    memory_id: str,
    service: ServiceDep,
    actor: ActorDep,
    body: RejectBody | None = None,
) -> Memory:
    """Tombstone a proposed memory (curator)."""
    return service.reject_memory(actor, project, memory_id, (body or RejectBody()).reason)


@router.post("/projects/{project}/quarantines", status_code=201)
def quarantine_memories(
    project: str, body: QuarantineCreate, service: ServiceDep, actor: ActorDep
) -> Quarantine:
    """Hide every memory one agent, principal or session wrote (curator)."""
    return service.quarantine_memories(actor, project, body)


@router.get("/projects/{project}/quarantines")
def list_quarantines(project: str, service: ServiceDep, actor: ActorDep) -> QuarantineList:
    """The project's quarantines, newest first, restored ones included (curator)."""
    return QuarantineList(quarantines=service.list_quarantines(actor, project))


@router.post("/projects/{project}/quarantines/{quarantine_id}/restore")
def restore_quarantine(
    project: str, quarantine_id: str, service: ServiceDep, actor: ActorDep
) -> Quarantine:
    """Give every memory of the quarantine its former status back (curator)."""
    return service.restore_quarantine(actor, project, quarantine_id)


@router.post("/projects/{project}/quarantines/{quarantine_id}/delete")
def delete_quarantined(
    project: str, quarantine_id: str, service: ServiceDep, actor: ActorDep
) -> Quarantine:
    """Delete the memories of the quarantine still hidden by it, closing it (curator)."""
    return service.delete_quarantined(actor, project, quarantine_id)


@router.put("/settings/require-tokens")
def set_require_tokens(body: RequireTokens, service: ServiceDep, actor: ActorDep) -> RequireTokens:
    """Whether every caller needs a bearer token (global admin; persisted)."""
    return RequireTokens(required=service.set_require_tokens(actor, body.required))
