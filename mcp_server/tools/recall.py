"""Recall tools: search_memories, get_context, write_handoff, list_audit_events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server import render
from mcp_server.caller import AgentArg, Caller, ProjectArg, SessionArg
from mcp_server.results import AuditResult, ContextResult, MemoryResult, SearchResult
from mcp_server.roots import RootsArg
from mcp_server.tools import READ, WRITE
from memsvc.domain import (
    DEFAULT_MIN_RELEVANCE,
    AuditQuery,
    ContextRequest,
    HandoffDraft,
    Kind,
    SearchQuery,
)

__all__ = ["register"]

Items = Annotated[list[str] | None, Field(description="One line each.")]


class RecallTools:
    """The recall tools: search, context packs, handoffs and the audit log."""

    def __init__(self, caller: Caller) -> None:
        """Tools acting through ``caller`` (and its service)."""
        self.caller, self.service = caller, caller.service

    def search_memories(
        self,
        query: Annotated[str, Field(description="What you want to know, in plain words.")],
        ctx: Context,
        roots: RootsArg,
        kinds: Annotated[list[Kind] | None, Field(description="Only these kinds.")] = None,
        tags: Annotated[list[str] | None, Field(description="Only memories with a tag.")] = None,
        paths: Annotated[
            list[str] | None,
            Field(description="Files you work on: memories scoped to other paths are skipped."),
        ] = None,
        as_of: Annotated[
            datetime | None,
            Field(description="Recall what held at this time (ISO 8601), superseded included."),
        ] = None,
        limit: Annotated[int, Field(ge=1, description="How many hits.")] = 10,
        min_relevance: Annotated[
            float, Field(ge=0, le=1, description="Drop hits less likely relevant; 0: all.")
        ] = DEFAULT_MIN_RELEVANCE,
        project: ProjectArg = None,
    ) -> Annotated[CallToolResult, SearchResult]:
        """Search the project's memories by meaning and keywords, best first. Use it before
        deciding or asking the user something the project may already know."""
        with self.caller.call(ctx, project, roots) as c:
            q = SearchQuery(
                query=query,
                kinds=kinds,
                tags=tags,
                paths=paths,
                as_of=as_of,
                limit=limit,
                min_relevance=min_relevance,
            )
            hits = self.service.search_memories(c.actor, c.project, q)
        text = render.search_text(hits, c.head, None if hits else q.empty_hint())
        return c.reply(text, SearchResult, hits=hits)

    def get_context(
        self,
        ctx: Context,
        roots: RootsArg,
        task: Annotated[
            str | None, Field(description="The task at hand; picks the most relevant memories.")
        ] = None,
        budget_tokens: Annotated[int, Field(ge=1, description="Token budget of the pack.")] = 2000,
        paths: Annotated[
            list[str] | None,
            Field(description="Files you work on: rules scoped to other paths are left out."),
        ] = None,
        project: ProjectArg = None,
    ) -> Annotated[CallToolResult, ContextResult]:
        """Load context before a task: every active rule, the newest handoff, then the
        memories most relevant to the task, within a token budget (says what was left out)."""
        with self.caller.call(ctx, project, roots) as c:
            request = ContextRequest(task=task, budget_tokens=budget_tokens, paths=paths)
            pack = self.service.get_context(c.actor, c.project, request)
        text = c.head + "\n" + render.context_text(pack)
        return c.reply(text, ContextResult, context=pack)

    def write_handoff(
        self,
        summary: Annotated[str, Field(description="What this session was about and achieved.")],
        ctx: Context,
        roots: RootsArg,
        done: Items = None,
        next_steps: Items = None,
        open_questions: Items = None,
        project: ProjectArg = None,
        agent: AgentArg = None,
        session: SessionArg = None,
    ) -> Annotated[CallToolResult, MemoryResult]:
        """Close a session: what was done, what is next, open questions. The newest handoff
        leads every context pack, so the next session starts where this one ended."""
        with self.caller.call(ctx, project, roots, agent=agent, session=session) as c:
            h = HandoffDraft(
                summary=summary,
                done=done or [],
                next=next_steps or [],
                open_questions=open_questions or [],
            )
            added = self.service.write_handoff(
                c.actor, c.project, h.summary, h.done, h.next, h.open_questions
            )
        text = render.memory_text(added.memory, c.head + " Handoff stored.")
        return c.reply(text, MemoryResult, memory=added.memory, created=added.created)

    def list_audit_events(
        self,
        ctx: Context,
        roots: RootsArg,
        action: Annotated[
            str | None, Field(description="Only this operation, e.g. add_memory.")
        ] = None,
        memory_id: Annotated[str | None, Field(description="Only events on this memory.")] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="Page size.")] = 50,
        cursor: Annotated[str | None, Field(description="next_cursor of the last page.")] = None,
        project: ProjectArg = None,
    ) -> Annotated[CallToolResult, AuditResult]:
        """For curators: the project's audit log, newest first - who read or changed what,
        through which client, with what outcome."""
        with self.caller.call(ctx, project, roots) as c:
            query = AuditQuery(action=action, memory_id=memory_id, limit=limit, cursor=cursor)
            page = self.service.list_audit_events(c.actor, c.project, query)
        text = render.audit_text(page.events, c.head, page.next_cursor)
        return c.reply(text, AuditResult, events=page.events, next_cursor=page.next_cursor)


def register(mcp: MCPServer, caller: Caller) -> None:
    """Add these tools to ``mcp``, in a stable order; each is a thin door onto the service."""
    tools = RecallTools(caller)
    for tool, hints in (
        (tools.search_memories, READ),
        (tools.get_context, READ),
        (tools.write_handoff, WRITE),
        (tools.list_audit_events, READ),
    ):
        mcp.add_tool(tool, annotations=hints)
