"""Lifecycle tools: archive_project, delete_project (admins) and restore_memory."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server import render
from mcp_server.caller import Caller, ProjectArg, tool_errors
from mcp_server.results import MemoryResult, envelope
from mcp_server.roots import RootsArg
from mcp_server.tools import DESTRUCTIVE, IDEMPOTENT_WRITE
from memsvc.domain import Project

__all__ = ["register"]

ProjectId = Annotated[str, Field(description="The project's id.")]


class LifecycleTools:
    """Archive or delete a project; bring a deleted memory back."""

    def __init__(self, caller: Caller) -> None:
        """Tools acting through ``caller`` (and its service)."""
        self.caller, self.service = caller, caller.service

    def archive_project(
        self,
        project: ProjectId,
        ctx: Context,
        archived: Annotated[bool, Field(description="False unarchives it.")] = True,
    ) -> Annotated[CallToolResult, Project]:
        """Archive a project (admins): it becomes read-only and open_last_project skips it.
        archived=false makes it writable again."""
        with tool_errors():
            done = self.service.archive_project(self.caller.actor(ctx), project, archived)
        state = "archived" if done.archived_at else "active again"
        return envelope(f"Project {done.id} is {state}.", done)

    def delete_project(
        self,
        project: ProjectId,
        confirm: Annotated[str, Field(description="The project's id again, to confirm.")],
        ctx: Context,
    ) -> Annotated[CallToolResult, Project]:
        """Delete a project for good (admins): every memory, version and its index are
        purged; the audit chain stays verifiable. Ask the user before calling this."""
        with tool_errors():
            actor = self.caller.actor(ctx)
            gone = self.service.get_project(actor, project)
            self.service.delete_project(actor, project, confirm)
        return envelope(f"Deleted project {project} and its memories.", gone)

    def restore_memory(
        self,
        memory_id: Annotated[str, Field(description="The deleted memory's id.")],
        ctx: Context,
        roots: RootsArg,
        project: ProjectArg = None,
    ) -> Annotated[CallToolResult, MemoryResult]:
        """Bring back a memory that was deleted by mistake; it is active again."""
        with self.caller.call(ctx, project, roots) as c:
            memory = self.service.restore_memory(c.actor, c.project, memory_id)
        text = render.memory_text(memory, c.head + " Restored.")
        return c.reply(text, MemoryResult, memory=memory, created=False)


def register(mcp: MCPServer, caller: Caller) -> None:
    """Add these tools to ``mcp``."""
    tools = LifecycleTools(caller)
    mcp.add_tool(tools.archive_project, annotations=IDEMPOTENT_WRITE)
    mcp.add_tool(tools.delete_project, annotations=DESTRUCTIVE)
    mcp.add_tool(tools.restore_memory, annotations=IDEMPOTENT_WRITE)
