"""Who is calling and on which project: the actor from the MCP handshake, the project from
the argument, the client's roots or the configured default, and MemsvcError → ToolError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ListRootsResult
from pydantic import Field, ValidationError

from mcp_server.results import Placed, envelope
from mcp_server.roots import roots_to_paths
from memsvc.domain import Actor, Channel
from memsvc.errors import MemsvcError, Unauthenticated
from memsvc.service import MemoryService
from memsvc.settings import Settings

__all__ = [
    "GATE_ACTOR",
    "RULES_HINT",
    "AgentArg",
    "Call",
    "Caller",
    "ProjectArg",
    "SessionArg",
    "Source",
    "tool_errors",
]

Source = Literal["argument", "workspace roots", "server default"]
GATE_ACTOR = "memsvc.actor"
"""Where the HTTP gate leaves the request's authenticated Actor in the ASGI scope state."""

ProjectArg = Annotated[
    str | None,
    Field(
        # Short: it is listed with every tool; the server instructions tell the whole rule.
        description="Project id (default: your workspace's, else the server's).",
        max_length=64,
    ),
]
AgentArg = Annotated[
    str | None, Field(description="Your agent name, recorded as provenance.", max_length=200)
]
SessionArg = Annotated[
    str | None,
    Field(description="Your session id, recorded as provenance.", max_length=200),
]


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn memsvc's errors into tool errors the model reads and acts on; nothing else."""
    try:
        yield
    except MemsvcError as exc:
        raise ToolError(f"{exc.code}: {exc.detail}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise ToolError(f"InvalidInput: {problems}") from exc


RULES_HINT = (
    "Note: this project's rules changed since you last loaded its context; call "
    "get_context (or read its rules resource) before relying on them."
)
"""Appended to a tool result when the caller's rules are stale (``rules_changed``)."""


@dataclass(frozen=True)
class Call:
    """One tool call: the actor and the project it acts on, and how that project was chosen."""

    actor: Actor
    project: str
    source: Source
    service: MemoryService | None = None
    """Set by ``Caller.call``: asked after the call whether the caller's rules are stale."""

    @property
    def head(self) -> str:
        """The first line of the result text: which project, chosen how."""
        return f"Project {self.project} (chosen by {self.source})."

    def reply(self, text: str, result: type[Placed], **fields: Any) -> CallToolResult:
        """The tool's result: ``text`` (with ``RULES_HINT`` when the project's rules changed
        since this agent identity last loaded its context) and a ``result`` naming this
        call's project."""
        if self.service is not None and self.service.rules_changed(self.actor, self.project):
            text = f"{text}\n{RULES_HINT}"
        return envelope(text, result(project=self.project, project_source=self.source, **fields))


def gate_actor(ctx: Context) -> Actor:
    """The Actor the HTTP gate authenticated for this request. Reading it here, rather than
    authenticating again, makes one token check per HTTP request; its absence means the
    MCP app is served without the gate, so the call is refused (fail closed)."""
    scope = getattr(ctx.request_context.request, "scope", None) or {}
    actor = (scope.get("state") or {}).get(GATE_ACTOR)
    if not isinstance(actor, Actor):
        raise Unauthenticated("this MCP endpoint is served without its authentication gate")
    return actor


@dataclass
class Caller:
    """Turns a tool call's context into the Actor and project it acts on."""

    service: MemoryService
    settings: Settings

    def actor(self, ctx: Context, agent: str | None = None, session: str | None = None) -> Actor:
        """The caller, labelled with the client's initialize handshake: over HTTP the one the
        gate authenticated by bearer token (local user only on loopback with no tokens); on
        stdio the local user, whose own process this is."""
        params = ctx.request_context.session.client_params
        info = params.client_info if params is not None else None
        headers: Any = ctx.headers
        extra: dict[str, Any] = {
            "client": info.name[:100] if info else None,
            "client_version": info.version[:50] if info else None,
            "agent": agent or self.settings.agent,
            "session": session or (headers or {}).get("mcp-session-id"),
            "request_id": ctx.request_id[:100] if ctx.request_context.request_id else None,
        }
        if headers is None:
            return Actor.local(Channel.MCP, **extra)
        return gate_actor(ctx).model_copy(update=extra)

    def place(self, actor: Actor, project: str | None, roots: ListRootsResult | None) -> Call:
        """The project: the argument, else the client's roots, else the default, else an error."""
        if project:
            return Call(actor, project.strip(), "argument")
        paths = roots_to_paths(roots)
        if paths:
            found = self.service.resolve_project_by_paths(actor, paths)
            if found is not None:
                return Call(actor, found, "workspace roots")
        if self.settings.project:
            return Call(actor, self.settings.project, "server default")
        raise ToolError(self._no_project(actor, paths))

    def _no_project(self, actor: Actor, paths: list[str]) -> str:
        known = sorted(p.id for p in self.service.list_projects(actor))
        where = (
            f"no project's root_paths contain your workspace ({', '.join(paths[:5])})"
            if paths
            else "your client sent no workspace roots"
        )
        if not known:
            return (
                f"No project chosen: {where} and no projects exist yet. Create one with "
                "create_project(id=..., root_paths=[<your workspace path>])."
            )
        return (
            f"No project chosen: {where} and the server has no default project. "
            f"Known projects: {', '.join(known[:50])}. Pass project=<id> (list_projects describes "
            "them), or bind a project to your workspace by creating it with root_paths."
        )

    @contextmanager
    def call(
        self,
        ctx: Context,
        project: str | None,
        roots: ListRootsResult | None,
        *,
        agent: str | None = None,
        session: str | None = None,
    ) -> Iterator[Call]:
        """Place the call and translate every memsvc error raised inside it."""
        with tool_errors():
            placed = self.place(self.actor(ctx, agent, session), project, roots)
            yield replace(placed, service=self.service)
