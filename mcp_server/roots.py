"""The client's workspace roots, asked for once per MCP session.

A tool that is not told its project places the call by the client's roots. Asking costs a
``roots/list`` round trip (over HTTP a second request), so the answer is kept in the
session's connection state and asked again only after the client sends
``notifications/roots/list_changed``. Stateless (2026-07-28) requests have no session to
keep it in: each call that needs the roots asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import unquote, urlparse

from mcp.server.mcpserver import Context, ListRoots, MCPServer, Resolve
from mcp_types import ListRootsResult, NotificationParams

__all__ = ["ROOTS_CHANGED", "RootsArg", "forget_roots", "roots_to_paths", "watch_roots"]

ROOTS_CHANGED = "notifications/roots/list_changed"
_CACHE = "memsvc.roots"
# Arguments that, when the caller passes them, make the roots irrelevant to the call.
_PLACING_ARGS = ("project", "root_paths")


def _connection_state(session: Any) -> dict[str, Any] | None:
    """The per-connection scratch dict of the SDK's ``Connection`` (persists across the
    requests of one session). mcp 2.x keeps the connection private on the per-request
    ``ServerSession``; without it the roots are simply asked for on every call."""
    state = getattr(getattr(session, "_connection", None), "state", None)
    return state if isinstance(state, dict) else None


def _decides_project(ctx: Context) -> bool:
    """True when the call's own arguments already name its project or its root paths."""
    params: Mapping[str, Any] = ctx.request_context.params or {}
    arguments = params.get("arguments")
    if not isinstance(arguments, Mapping):
        return False
    return bool(arguments.get("project")) or arguments.get("root_paths") is not None


async def _ask(ctx: Context) -> ListRoots | ListRootsResult | None:
    """The session's cached roots, or a ``roots/list`` request when there are none yet;
    nothing when the call does not need them or the client has no roots."""
    caps = ctx.client_capabilities
    if caps is None or caps.roots is None or _decides_project(ctx):
        return None
    state = _connection_state(ctx.request_context.session)
    cached = state.get(_CACHE) if state is not None else None
    return cached if isinstance(cached, ListRootsResult) else ListRoots()


async def _workspace_roots(
    ctx: Context, answer: Annotated[ListRootsResult | None, Resolve(_ask)]
) -> ListRootsResult | None:
    """The roots for this call, kept for the session's next calls."""
    state = _connection_state(ctx.request_context.session)
    if answer is not None and state is not None:
        state[_CACHE] = answer
    return answer


RootsArg = Annotated[ListRootsResult | None, Resolve(_workspace_roots)]
"""A tool parameter filled with the client's roots (never an argument clients see)."""


async def forget_roots(ctx: Any, _params: NotificationParams) -> None:
    """``notifications/roots/list_changed``: the next call that needs the roots asks again."""
    state = _connection_state(ctx.session)
    if state is not None:
        state.pop(_CACHE, None)


def watch_roots(mcp: MCPServer) -> None:
    """Register :func:`forget_roots` on ``mcp``. MCPServer has no public hook for client
    notifications yet, so this goes through the low-level server it wraps."""
    mcp._lowlevel_server.add_notification_handler(ROOTS_CHANGED, NotificationParams, forget_roots)


def roots_to_paths(roots: ListRootsResult | None) -> list[str]:
    """Local filesystem paths of the client's ``file://`` roots (other schemes are ignored)."""
    paths = []
    for root in roots.roots if roots else []:
        url = urlparse(str(root.uri))
        if url.scheme == "file" and url.path:
            path = unquote(url.path)
            # file:///C:/src → C:/src on Windows clients
            if len(path) > 2 and path[0] == "/" and path[2] == ":":
                path = path[1:]
            paths.append(path)
    return paths
