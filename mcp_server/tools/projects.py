"""Project tools: create_project, list_projects, open_project, open_last_project."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, ListRoots, MCPServer, Resolve
from mcp_types import CallToolResult, ListRootsResult, ToolAnnotations
from pydantic import Field

from mcp_server import render
from mcp_server.caller import AgentArg, Caller, roots_to_paths, tool_errors
from mcp_server.results import ProjectList
from memsvc.domain import OpenedProject, Project, ProjectCreate

__all__ = ["register"]

Budget = Annotated[
    int,
    Field(ge=1, description="Token budget of the context pack (tiktoken cl100k)."),
]


async def _roots_unless_given(ctx: Context, root_paths: list[str] | None) -> ListRoots | None:
    caps = ctx.client_capabilities
    if root_paths is not None or caps is None or caps.roots is None:
        return None
    return ListRoots()


async def _roots_for_offer(ctx: Context) -> ListRoots | None:
    caps = ctx.client_capabilities
    return None if caps is None or caps.roots is None else ListRoots()


def register(mcp: MCPServer, caller: Caller) -> None:
    service = caller.service

    @mcp.tool(annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False))
    def create_project(
        id: Annotated[
            str, Field(description="Slug id: lowercase letters, digits, dashes (e.g. acme-api).")
        ],
        ctx: Context,
        roots: Annotated[ListRootsResult | None, Resolve(_roots_unless_given)],
        name: Annotated[str | None, Field(description="Display name (default: the id).")] = None,
        description: Annotated[str | None, Field(description="What the project is.")] = None,
        root_paths: Annotated[
            list[str] | None,
            Field(
                description="Absolute paths of the project's checkouts; agents working inside "
                "them are placed in this project. Omit to use your workspace roots."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, Project]:
        """Create a project: an isolated memory store, bound to the repository paths it
        lives in. Memories never cross projects."""
        paths = root_paths if root_paths is not None else roots_to_paths(roots)
        with tool_errors():
            body = ProjectCreate(id=id, name=name, description=description, root_paths=paths)
            project = service.create_project(caller.actor(ctx), body)
        return render.result("Created. " + render.project_text(project), project)

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def list_projects(ctx: Context) -> Annotated[CallToolResult, ProjectList]:
        """List the projects you can read, with their root paths and memory counts."""
        with tool_errors():
            projects = service.list_projects(caller.actor(ctx))
        return render.result(render.projects_text(projects), ProjectList(projects=projects))

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def open_project(
        name: Annotated[
            str,
            Field(description="Project id or name; case, dashes and a unique prefix are forgiven."),
        ],
        ctx: Context,
        budget_tokens: Budget = 2000,
    ) -> Annotated[CallToolResult, OpenedProject]:
        """Open a project by name at the start of a session: its rules, newest handoff and
        most relevant memories, and what others changed since you were last active in it."""
        with tool_errors():
            opened = service.open_project(caller.actor(ctx), name, budget_tokens)
        return render.result(render.opened_text(opened), opened)

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def open_last_project(
        ctx: Context,
        roots: Annotated[ListRootsResult | None, Resolve(_roots_for_offer)],
        budget_tokens: Budget = 2000,
        agent: AgentArg = None,
    ) -> Annotated[CallToolResult, OpenedProject]:
        """Resume where you left off: the project YOU (this agent identity: the `agent`
        argument, else `memsvc mcp --agent`, else your client's name) last worked in — your
        writes, handoffs and context loads count; searches, humans browsing the inspector
        and other agents do not. Returns its context pack (rules, newest handoff, relevant
        memories), what others changed since you were last there, and the project your
        workspace roots match, if any. Call it at the start of a session."""
        with tool_errors():
            actor = caller.actor(ctx, agent)
            opened = service.open_last_project(actor, budget_tokens, roots_to_paths(roots))
        return render.result(render.opened_text(opened), opened)
