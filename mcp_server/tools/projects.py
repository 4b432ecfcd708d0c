"""Project tools: create_project, list_projects, open_project, open_last_project."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_server import render
from mcp_server.caller import Caller, tool_errors
from mcp_server.results import ProjectList, envelope
from mcp_server.roots import RootsArg, roots_to_paths
from memsvc.domain import OpenedProject, Project, ProjectCreate

__all__ = ["register"]

Budget = Annotated[
    int,
    Field(ge=1, description="Token budget of the context pack (tiktoken cl100k)."),
]


def register(mcp: MCPServer, caller: Caller) -> None:
    """Add the project tools to ``mcp``; each is a thin door onto one service method."""
    service = caller.service

    @mcp.tool(annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False))
    def create_project(
        id: Annotated[
            str, Field(description="Slug id: lowercase letters, digits, dashes (e.g. acme-api).")
        ],
        ctx: Context,
        roots: RootsArg,
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
        return envelope("Created. " + render.project_text(project), project)

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def list_projects(ctx: Context) -> Annotated[CallToolResult, ProjectList]:
        """List the projects you can read, with their root paths and memory counts."""
        with tool_errors():
            projects = service.list_projects(caller.actor(ctx))
        return envelope(render.projects_text(projects), ProjectList(projects=projects))

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
        return envelope(render.opened_text(opened), opened)

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def open_last_project(
        ctx: Context, budget_tokens: Budget = 2000
    ) -> Annotated[CallToolResult, OpenedProject]:
        """Resume where you left off: the project you were last active in, its context pack
        (rules, newest handoff, relevant decisions and preferences) and what others added,
        changed or superseded in it since then. Call it at the start of a session."""
        with tool_errors():
            opened = service.open_last_project(caller.actor(ctx), budget_tokens)
        return envelope(render.opened_text(opened), opened)
