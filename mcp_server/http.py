"""Streamable HTTP for the MCP server beside REST: the ``/mcp`` route, the session
manager's lifespan, and Host/Origin checks against DNS rebinding."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_server.caller import GATE_ACTOR
from memsvc.domain import Channel
from memsvc.errors import Unauthenticated
from memsvc.service import MemoryService
from memsvc.settings import Settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = [
    "BearerGate",
    "McpHttp",
    "SessionOwners",
    "allowed_hosts",
    "bearer_token",
    "streamable_http",
]


@dataclass(frozen=True)
class McpHttp:
    """The ``/mcp`` route and the lifespan that must run around it."""

    route: Route
    """``/mcp`` exactly (a mount would redirect ``/mcp`` to ``/mcp/``)."""
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]]
    """Runs the MCP session manager; the host app's lifespan must run it."""


def allowed_hosts(settings: Settings) -> list[str]:
    """Host header values served: loopback names on our port, plus configured extras."""
    return sorted(settings.served_hosts())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header value; any other scheme is kept as an
    unknown token so it is refused rather than silently ignored."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else "(not a bearer token)"


SESSION_HEADER = "mcp-session-id"


class SessionOwners:
    """Which principal opened each streamable HTTP session (kept in this process, like the
    sessions themselves): a session id is usable only with a token of that principal."""

    def __init__(self) -> None:
        """No sessions yet."""
        self._owners: dict[str, str] = {}

    def foreign(self, session: str, principal: str) -> str | None:
        """The owner of ``session`` when that is not ``principal`` (None: unknown or own)."""
        owner = self._owners.get(session)
        return owner if owner is not None and owner != principal else None

    def forget(self, session: str) -> None:
        """``session`` was closed (HTTP DELETE)."""
        self._owners.pop(session, None)

    def binding(self, send: Send, principal: str) -> Send:
        """``send`` that binds the session id a response hands out to ``principal``."""

        async def bind(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers") or ():
                    if key.decode("latin-1").lower() == SESSION_HEADER:
                        self._owners.setdefault(value.decode("latin-1"), principal)
            await send(message)

        return bind


class BearerGate:
    """Authenticates every HTTP request to ``/mcp`` once and hands the Actor to the tools;
    refuses it with 401 before the MCP session sees it when the server needs a token
    (tokens exist, or the bind is not loopback) and the request has no valid one, and with
    403 when it presents a session id another principal opened (audited)."""

    def __init__(self, app: ASGI, service: MemoryService, settings: Settings) -> None:
        """Gate ``app`` with ``service``'s authentication under ``settings``."""
        self.app, self.service, self.settings = app, service, settings
        self.owners = SessionOwners()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry: authenticate HTTP requests, pass everything else through."""
        if scope["type"] == "http":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            check = partial(
                self.service.authenticate,
                bearer_token(headers.get("authorization")),
                Channel.MCP,
                allow_local=self.settings.loopback_only,
                client=(headers.get("user-agent") or "")[:100] or None,
            )
            try:
                actor = await anyio.to_thread.run_sync(check)
            except Unauthenticated as exc:
                await _unauthorized(scope, receive, send, exc.detail)
                return
            session = headers.get(SESSION_HEADER)
            owner = self.owners.foreign(session, actor.principal) if session else None
            if session and owner:
                refuse = partial(self.service.refuse_session, actor, session, owner)
                denied = await anyio.to_thread.run_sync(refuse)
                await _error(scope, receive, send, 403, denied.code, denied.detail)
                return
            if not session:
                send = self.owners.binding(send, actor.principal)
            elif scope.get("method") == "DELETE":
                self.owners.forget(session)
            # The tools read this Actor (mcp_server.caller.gate_actor): one check per request.
            scope.setdefault("state", {})[GATE_ACTOR] = actor
        await self.app(scope, receive, send)


async def _unauthorized(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    await _error(scope, receive, send, 401, "Unauthenticated", detail)


async def _error(
    scope: Scope, receive: Receive, send: Send, status: int, error: str, detail: str
) -> None:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    response = JSONResponse({"error": error, "detail": detail}, status, headers=headers)
    await response(scope, receive, send)


def streamable_http(mcp: MCPServer, service: MemoryService, settings: Settings) -> McpHttp:
    """Streamable HTTP for ``mcp``; browsers from a foreign Origin are refused (403).

    Under ``memsvc serve --workers N`` (N > 1) requests of one client may reach different
    processes, and a session of a protocol revision before 2026-07-28 lives in the one
    that opened it; those requests are then served statelessly (no ``Mcp-Session-Id``, each
    request on its own), as 2026-07-28 requests always are."""
    hosts = allowed_hosts(settings)
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=origins + list(settings.allowed_origins),
    )
    mcp.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security,
        max_request_body_size=settings.limits.request_bytes,
        host=settings.host,
        stateless_http=settings.workers > 1,
    )
    manager = mcp.session_manager

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        """Run the MCP session manager for the host app's lifetime."""
        async with manager.run():
            yield

    endpoint = BearerGate(StreamableHTTPASGIApp(manager), service, settings)
    return McpHttp(route=Route("/mcp", endpoint=endpoint), lifespan=lifespan)
