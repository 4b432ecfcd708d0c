"""Streamable HTTP for the MCP server beside REST: the ``/mcp`` route, the session
manager's lifespan, and Host/Origin checks against DNS rebinding."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from memsvc.settings import Settings

__all__ = ["McpHttp", "allowed_hosts", "streamable_http"]

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class McpHttp:
    route: Route
    """``/mcp`` exactly (a mount would redirect ``/mcp`` to ``/mcp/``)."""
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]]
    """Runs the MCP session manager; the host app's lifespan must run it."""


def allowed_hosts(settings: Settings) -> list[str]:
    """Host header values served: loopback names on our port, plus configured extras."""
    hosts = [f"{h}:{settings.port}" for h in _LOOPBACK] + list(_LOOPBACK)
    if settings.host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):  # noqa: S104
        hosts += [settings.host, f"{settings.host}:{settings.port}"]
    return hosts + list(settings.allowed_hosts)


def streamable_http(mcp: MCPServer, settings: Settings) -> McpHttp:
    """Streamable HTTP for ``mcp``; browsers from a foreign Origin are refused (403)."""
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
    )
    manager = mcp.session_manager

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return McpHttp(route=Route("/mcp", endpoint=StreamableHTTPASGIApp(manager)), lifespan=lifespan)
