"""Fleet tools for curators and admins: the review queue, approve_memory, reject_memory,
quarantine_memories, restore_quarantine, list_quarantines and the review policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_server import render
from mcp_server.caller import Caller, ProjectArg
from mcp_server.results import Mem, Review, envelope
from mcp_server.roots import RootsArg
from mcp_server.tools import IDEMPOTENT_WRITE, READ, WRITE
from memsvc.domain import (
    ProposalEdit,
    Quarantine,
    QuarantineCreate,
    ReviewItem,
    ReviewPolicy,
)

__all__ = ["register"]

MemoryId = Annotated[str, Field(description="The memory's id.")]
QuarantineId = Annotated[str, Field(description="The quarantine's id (from list_quarantines).")]


class _Placed(BaseModel):
    project: str
    project_source: str


class ReviewResult(_Placed):
    items: list[Review]
    next_cursor: str | None


class DecisionResult(_Placed):
    memory: Mem


class QuarantineResult(_Placed):
    quarantine: Quarantine


class QuarantineList(_Placed):
    quarantines: list[Quarantine]


class PolicyResult(_Placed):
    policy: ReviewPolicy


def _item(item: ReviewItem) -> str:
    m = item.memory
    line = f"- {item.reason}: {m.kind.value} {m.id} ({m.status.value}) by {m.provenance.line()}"
    if item.other is not None:
        line += f"; against {item.other.id}: {render._q(item.other.content[:200])}"
    return line + f"\n  {render._q(m.content[:300])}"


def _quarantine(q: Quarantine) -> str:
    state = f"restored {q.restored_at:%Y-%m-%d %H:%M}Z" if q.restored_at else "in force"
    return (
        f"Quarantine {q.id}: {q.field} {render._q(q.value)}, {len(q.memory_ids)} memories, "
        f"{state} (by {q.created_by})"
    )


REMOVES = ToolAnnotations(destructive_hint=True, idempotent_hint=False)
"""Takes memories out of use (reversibly), and repeating it acts again."""


class FleetTools:
    """Curators' fleet tools: the review queue, approvals, quarantine, review policy."""

    def __init__(self, caller: Caller) -> None:
        """Tools acting through ``caller`` (and its service)."""
        self.caller, self.service = caller, caller.service

    def list_review_queue(
        self,
        ctx: Context,
        roots: RootsArg,
        project: ProjectArg = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: str | None = None,
    ) -> Annotated[CallToolResult, ReviewResult]:
        """Memories waiting for a curator: proposed ones (not yet trusted as rules), and
        possible duplicates and conflicts beside the memory they were flagged against."""
        with self.caller.call(ctx, project, roots) as c:
            page = self.service.list_review_queue(c.actor, c.project, limit=limit, cursor=cursor)
        lines = [c.head, f"{len(page.items)} waiting for review."]
        lines += [_item(i) for i in page.items]
        return envelope(
            "\n".join(lines),
            ReviewResult(
                project=c.project,
                project_source=c.source,
                items=page.items,
                next_cursor=page.next_cursor,
            ),
        )

    def approve_memory(
        self,
        memory_id: MemoryId,
        ctx: Context,
        roots: RootsArg,
        project: ProjectArg = None,
        content: Annotated[str | None, Field(description="Edit the text first.")] = None,
        title: Annotated[str | None, Field(description="Edit the title first.")] = None,
    ) -> Annotated[CallToolResult, DecisionResult]:
        """Curators: approve a proposed memory (optionally edited first); it becomes
        active, and a proposed replacement supersedes its original now."""
        edit = ProposalEdit(content=content, title=title) if content or title else None
        with self.caller.call(ctx, project, roots) as c:
            memory = self.service.approve_memory(c.actor, c.project, memory_id, edit)
        return envelope(
            render.memory_text(memory, c.head + " Approved."),
            DecisionResult(project=c.project, project_source=c.source, memory=memory),
        )

    def reject_memory(
        self,
        memory_id: MemoryId,
        ctx: Context,
        roots: RootsArg,
        project: ProjectArg = None,
        reason: Annotated[str, Field(max_length=500)] = "",
    ) -> Annotated[CallToolResult, DecisionResult]:
        """Curators: reject a proposed memory (it is deleted; its history remains)."""
        with self.caller.call(ctx, project, roots) as c:
            memory = self.service.reject_memory(c.actor, c.project, memory_id, reason)
        return envelope(
            f"{c.head} Rejected {memory.id}.",
            DecisionResult(project=c.project, project_source=c.source, memory=memory),
        )

    def quarantine_memories(
        self,
        ctx: Context,
        roots: RootsArg,
        project: ProjectArg = None,
        agent: Annotated[str | None, Field(description="An agent identity.")] = None,
        principal: Annotated[str | None, Field(description="A principal name.")] = None,
        session: Annotated[str | None, Field(description="A session id.")] = None,
        since: Annotated[datetime | None, Field(description="Only written since (ISO).")] = None,
        reason: Annotated[str, Field(max_length=500)] = "",
    ) -> Annotated[CallToolResult, QuarantineResult]:
        """Curators: hide from search and context every memory written by one agent,
        principal or session (give one), optionally since a time. See restore_quarantine."""
        body = QuarantineCreate(
            agent=agent, principal=principal, session=session, since=since, reason=reason
        )
        with self.caller.call(ctx, project, roots) as c:
            q = self.service.quarantine_memories(c.actor, c.project, body)
        return envelope(
            f"{c.head} {_quarantine(q)}",
            QuarantineResult(project=c.project, project_source=c.source, quarantine=q),
        )

    def restore_quarantine(
        self, quarantine_id: QuarantineId, ctx: Context, roots: RootsArg, project: ProjectArg = None
    ) -> Annotated[CallToolResult, QuarantineResult]:
        """Curators: undo a quarantine; each memory gets back the status it had."""
        with self.caller.call(ctx, project, roots) as c:
            q = self.service.restore_quarantine(c.actor, c.project, quarantine_id)
        return envelope(
            f"{c.head} {_quarantine(q)}",
            QuarantineResult(project=c.project, project_source=c.source, quarantine=q),
        )

    def list_quarantines(
        self, ctx: Context, roots: RootsArg, project: ProjectArg = None
    ) -> Annotated[CallToolResult, QuarantineList]:
        """Curators: the project's quarantines, newest first, restored ones included."""
        with self.caller.call(ctx, project, roots) as c:
            found = self.service.list_quarantines(c.actor, c.project)
        lines = [c.head] + [_quarantine(q) for q in found]
        return envelope(
            "\n".join(lines) if found else lines[0] + " No quarantines.",
            QuarantineList(project=c.project, project_source=c.source, quarantines=found),
        )

    def set_review_policy(
        self, policy: ReviewPolicy, ctx: Context, roots: RootsArg, project: ProjectArg = None
    ) -> Annotated[CallToolResult, PolicyResult]:
        """Admins: which kinds written through which channels/roles land as proposed, and
        whether context packs show proposed memories (in their own section)."""
        with self.caller.call(ctx, project, roots) as c:
            saved = self.service.set_review_policy(c.actor, c.project, policy)
        return envelope(
            f"{c.head} Review policy: {saved.model_dump_json()}",
            PolicyResult(project=c.project, project_source=c.source, policy=saved),
        )


def register(mcp: MCPServer, caller: Caller) -> None:
    """Add the fleet tools to ``mcp``, in a stable order."""
    tools = FleetTools(caller)
    for tool, hints in (
        (tools.list_review_queue, READ),
        (tools.approve_memory, WRITE),
        (tools.reject_memory, REMOVES),
        (tools.quarantine_memories, REMOVES),
        (tools.restore_quarantine, WRITE),
        (tools.list_quarantines, READ),
        (tools.set_review_policy, IDEMPOTENT_WRITE),
    ):
        mcp.add_tool(tool, annotations=hints)
