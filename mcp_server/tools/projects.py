"""Project tools: create_project, list_projects, open_project, open_last_project."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server import render
from mcp_server.caller import AgentArg, Caller, tool_errors
from mcp_server.results import Opened, ProjectList, envelope
from mcp_server.roots import RootsArg, roots_to_paths
from mcp_server.tools import READ, WRITE
from memsvc.domain import Project, ProjectCreate

__all__ = ["register"]

Budget = Annotated[
    int,
    Field(ge=1, description="Token budget of the context pack (tiktoken cl100k)."),
]


class ProjectTools:
    """The project tools: create, list and open projects."""

    def __init__(self, caller: Caller) -> None:
        """Tools acting through ``caller`` (and its service)."""
        self.caller, self.service = caller, caller.service

    def create_project(
        self,
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
                description="Absolute paths of its checkouts (agents inside them are placed "
                "here). Default: your workspace roots."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, Project]:
        """Create a project: an isolated memory store, bound to the repository paths it
        lives in. Memories never cross projects."""
        paths = root_paths if root_paths is not None else roots_to_paths(roots)
        with tool_errors():
            body = ProjectCreate(id=id, name=name, description=description, root_paths=paths)
            project = self.service.create_project(self.caller.actor(ctx), body)
        return envelope("Created. " + render.project_text(project), project)

    def list_projects(self, ctx: Context) -> Annotated[CallToolResult, ProjectList]:
        """List the projects you can read, with their root paths and memory counts."""
        with tool_errors():
            projects = self.service.list_projects(self.caller.actor(ctx))
        return envelope(render.projects_text(projects), ProjectList(projects=projects))

    def open_project(
        self,
        name: Annotated[
            str,
            Field(description="Project id or name; case, dashes and a unique prefix are forgiven."),
        ],
        ctx: Context,
        budget_tokens: Budget = 2000,
    ) -> Annotated[CallToolResult, Opened]:
        """Open a project by name at the start of a session: its rules, newest handoff and
        most relevant memories, and what others changed since you were last active in it."""
        with tool_errors():
            opened = self.service.open_project(self.caller.actor(ctx), name, budget_tokens)
        return envelope(render.opened_text(opened), Opened.model_validate(opened))

    def open_last_project(
        self,
        ctx: Context,
        roots: RootsArg,
        budget_tokens: Budget = 2000,
        agent: AgentArg = None,
    ) -> Annotated[CallToolResult, Opened]:
        """Call at the start of a session: the project this agent identity (`agent`, else
        `memsvc mcp --agent`, else your client's name) last wrote or loaded context in, with
        its context pack, what others changed since, and the project your workspace matches."""
        with tool_errors():
            actor = self.caller.actor(ctx, agent)
            workspace = roots_to_paths(roots)
            opened = self.service.open_last_project(actor, budget_tokens, workspace)
        return envelope(render.opened_text(opened), Opened.model_validate(opened))


def register(mcp: MCPServer, caller: Caller) -> None:
    """Add these tools to ``mcp``, in a stable order; each is a thin door onto the service."""
    tools = ProjectTools(caller)
    for tool, hints in (
        (tools.create_project, WRITE),
        (tools.list_projects, READ),
        (tools.open_project, READ),
        (tools.open_last_project, READ),
    ):
        mcp.add_tool(tool, annotations=hints)
