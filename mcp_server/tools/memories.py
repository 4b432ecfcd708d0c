"""Memory tools: add_memory, get_memory, list_memories, update_memory, supersede_memory,
delete_memory, memory_history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server import render
from mcp_server.caller import AgentArg, Caller, ProjectArg, SessionArg
from mcp_server.results import DeleteResult, HistoryResult, MemoryList, MemoryResult
from mcp_server.roots import RootsArg
from mcp_server.tools import DESTRUCTIVE, IDEMPOTENT_WRITE, READ, WRITE
from memsvc.domain import Kind, MemoryDraft, MemoryPatch, ProvenanceIn, Status

__all__ = ["register"]

MemoryId = Annotated[str, Field(description="The memory's id.")]
KindArg = Annotated[
    Kind,
    Field(
        description="rule: hard constraint, always in context; preference: soft; decision: "
        "a choice and its rationale; fact: knowledge; handoff: use write_handoff."
    ),
]
Content = Annotated[str, Field(description="The memory text: one self-contained statement.")]
Title = Annotated[str | None, Field(description="A short title.")]
Tags = Annotated[list[str] | None, Field(description="Tags for filtering.")]
Paths = Annotated[
    list[str] | None,
    Field(description="File globs it applies to (e.g. src/api/**); empty means everywhere."),
]
Pinned = Annotated[bool | None, Field(description="Pinned memories rank first.")]
Importance = Annotated[float | None, Field(ge=0.0, le=1.0, description="0..1, default 0.5.")]
ValidFrom = Annotated[datetime | None, Field(description="When it starts to hold (ISO 8601).")]
ValidUntil = Annotated[datetime | None, Field(description="When it stops holding (ISO 8601).")]
Origin = Annotated[
    str | None, Field(description="Where the knowledge came from: a file, commit, URL.")
]


def _draft(origin: str | None = None, **fields: Any) -> MemoryDraft:
    """A draft from a tool's keyword arguments: omitted (None) ones take the draft's
    defaults, and ``origin`` becomes the provenance the caller may state."""
    given = {name: value for name, value in fields.items() if value is not None}
    return MemoryDraft(**given, provenance=ProvenanceIn(origin=origin) if origin else None)


class MemoryTools:
    """The memory tools: write, read, change and trace one project's memories."""

    def __init__(self, caller: Caller) -> None:
        """Tools acting through ``caller`` (and its service)."""
        self.caller, self.service = caller, caller.service

    def add_memory(
        self,
        kind: KindArg,
        content: Content,
        ctx: Context,
        roots: RootsArg,
        title: Title = None,
        tags: Tags = None,
        paths: Paths = None,
        pinned: Pinned = None,
        importance: Importance = None,
        valid_from: ValidFrom = None,
        valid_until: ValidUntil = None,
        origin: Origin = None,
        project: ProjectArg = None,
        agent: AgentArg = None,
        session: SessionArg = None,
    ) -> Annotated[CallToolResult, MemoryResult]:
        """Store a durable rule, preference, decision or fact for later sessions. Secrets
        are redacted; an identical memory is returned, not stored twice. Search first."""
        with self.caller.call(ctx, project, roots, agent=agent, session=session) as c:
            draft = _draft(
                origin, kind=kind, content=content, title=title, tags=tags, paths=paths,
                pinned=pinned, importance=importance, valid_from=valid_from,
                valid_until=valid_until,
            )  # fmt: skip
            added = self.service.add_memory(c.actor, c.project, draft)
        said = " Stored." if added.created else " An identical memory existed; nothing added."
        text = render.memory_text(added.memory, c.head + said)
        return c.reply(text, MemoryResult, memory=added.memory, created=added.created)

    def get_memory(
        self, memory_id: MemoryId, ctx: Context, roots: RootsArg, project: ProjectArg = None
    ) -> Annotated[CallToolResult, MemoryResult]:
        """Read one memory by id, with its status, version and provenance."""
        with self.caller.call(ctx, project, roots) as c:
            memory = self.service.get_memory(c.actor, c.project, memory_id)
        return c.reply(render.memory_text(memory, c.head), MemoryResult, memory=memory)

    def list_memories(
        self,
        ctx: Context,
        roots: RootsArg,
        kinds: Annotated[list[Kind] | None, Field(description="Only these kinds.")] = None,
        statuses: Annotated[
            list[Status] | None, Field(description="Only these statuses (default: active).")
        ] = None,
        tag: Annotated[str | None, Field(description="Only memories with this tag.")] = None,
        limit: Annotated[int, Field(ge=1, description="Page size.")] = 50,
        cursor: Annotated[str | None, Field(description="next_cursor of the last page.")] = None,
        project: ProjectArg = None,
    ) -> Annotated[CallToolResult, MemoryList]:
        """Browse memories newest first, by kind, status or tag (for a topic: search)."""
        with self.caller.call(ctx, project, roots) as c:
            page = self.service.list_memories(
                c.actor, c.project, kinds=kinds, statuses=statuses, tag=tag, limit=limit,
                cursor=cursor,
            )  # fmt: skip
        text = render.memories_text(page.memories, c.head, page.next_cursor)
        return c.reply(text, MemoryList, memories=page.memories, next_cursor=page.next_cursor)

    def update_memory(
        self,
        memory_id: MemoryId,
        ctx: Context,
        roots: RootsArg,
        content: Annotated[
            str | None,
            Field(description="New text (facts, preferences; rules and decisions: supersede)."),
        ] = None,
        title: Title = None,
        tags: Tags = None,
        paths: Paths = None,
        pinned: Pinned = None,
        importance: Importance = None,
        status: Annotated[
            Literal["active", "archived"] | None,
            Field(description="archived hides it from recall; active restores it."),
        ] = None,
        expected_version: Annotated[
            int | None, Field(description="Refuse unless the memory is at this version.")
        ] = None,
        project: ProjectArg = None,
        agent: AgentArg = None,
        session: SessionArg = None,
    ) -> Annotated[CallToolResult, MemoryResult]:
        """Change a memory in place: text of a fact or preference, title, tags, paths, pin,
        importance, or archive/restore it. Every version is kept (memory_history)."""
        with self.caller.call(ctx, project, roots, agent=agent, session=session) as c:
            patch = MemoryPatch(
                content=content, title=title, tags=tags, paths=paths, pinned=pinned,
                importance=importance, status=status, expected_version=expected_version,
            )  # fmt: skip
            memory = self.service.update_memory(c.actor, c.project, memory_id, patch)
        text = render.memory_text(memory, c.head + " Updated.")
        return c.reply(text, MemoryResult, memory=memory)

    def supersede_memory(
        self,
        memory_id: MemoryId,
        kind: KindArg,
        content: Content,
        ctx: Context,
        roots: RootsArg,
        title: Title = None,
        tags: Tags = None,
        paths: Paths = None,
        pinned: Pinned = None,
        importance: Importance = None,
        origin: Origin = None,
        project: ProjectArg = None,
        agent: AgentArg = None,
        session: SessionArg = None,
    ) -> Annotated[CallToolResult, MemoryResult]:
        """Replace a memory with a new one (how rules and decisions change): the old one
        becomes superseded and stays in the history, the new one links back to it."""
        with self.caller.call(ctx, project, roots, agent=agent, session=session) as c:
            draft = _draft(
                origin, kind=kind, content=content, title=title, tags=tags, paths=paths,
                pinned=pinned, importance=importance,
            )  # fmt: skip
            memory = self.service.supersede_memory(c.actor, c.project, memory_id, draft)
        text = render.memory_text(memory, c.head + f" {memory_id} is superseded by:")
        return c.reply(text, MemoryResult, memory=memory, created=True)

    def delete_memory(
        self, memory_id: MemoryId, ctx: Context, roots: RootsArg, project: ProjectArg = None
    ) -> Annotated[CallToolResult, DeleteResult]:
        """Delete a wrong or unwanted memory (its history stays). For a change of mind,
        supersede_memory."""
        with self.caller.call(ctx, project, roots) as c:
            self.service.delete_memory(c.actor, c.project, memory_id)
        text = c.head + f" Deleted memory {memory_id}."
        return c.reply(text, DeleteResult, memory_id=memory_id, deleted=True)

    def memory_history(
        self, memory_id: MemoryId, ctx: Context, roots: RootsArg, project: ProjectArg = None
    ) -> Annotated[CallToolResult, HistoryResult]:
        """Every version of a memory: what changed, when, and by whom."""
        with self.caller.call(ctx, project, roots) as c:
            versions = self.service.memory_history(c.actor, c.project, memory_id)
        text = render.history_text(versions, c.head)
        return c.reply(text, HistoryResult, memory_id=memory_id, versions=versions)


def register(mcp: MCPServer, caller: Caller) -> None:
    """Add these tools to ``mcp``, in a stable order; each is a thin door onto the service."""
    tools = MemoryTools(caller)
    for tool, hints in (
        (tools.add_memory, IDEMPOTENT_WRITE),
        (tools.get_memory, READ),
        (tools.list_memories, READ),
        (tools.update_memory, IDEMPOTENT_WRITE),
        (tools.supersede_memory, WRITE),
        (tools.delete_memory, DESTRUCTIVE),
        (tools.memory_history, READ),
    ):
        mcp.add_tool(tool, annotations=hints)
