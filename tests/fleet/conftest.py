"""Fleet fixtures: one real server (REST + MCP streamable HTTP at /mcp) over a fresh data
dir, REST clients for agents (``X-Memsvc-Agent``) and for a human in the inspector
(``X-Memsvc-Ui: 1``), and MCP client sessions with their own ``clientInfo`` names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client import Client
from mcp.server.mcpserver import MCPServer
from mcp_types import Implementation

from mcp_server import create_mcp_server
from memsvc import MemoryService, Settings, build_service
from memsvc.retrieval.embedder import Embedder
from memsvc_cli.main import http_app
from tests.conftest import LiveServer, free_port, make_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Fleet:
    """A running server and ways to reach it as different callers."""

    def __init__(self, server: LiveServer, service: MemoryService, settings: Settings) -> None:
        self.server = server
        self.service = service
        self.settings = settings
        self.url = server.url
        self._clients: list[httpx.Client] = []

    def rest(self, agent: str | None = None, **headers: str) -> httpx.Client:
        """A REST client; ``agent`` sets the agent identity header."""
        if agent is not None:
            headers["X-Memsvc-Agent"] = agent
        c = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)
        self._clients.append(c)
        return c

    def human(self) -> httpx.Client:
        """The inspector: a human, never an agent."""
        return self.rest(**{"X-Memsvc-Ui": "1", "Origin": self.url})

    def mcp_http(self, name: str, **kw: Any) -> Client:
        """An MCP session over streamable HTTP whose clientInfo name is ``name``."""
        return Client(self.url + "/mcp", client_info=Implementation(name=name, version="1.0"), **kw)

    def mcp_memory(self, name: str) -> Client:
        """An MCP session in memory (the SDK client on the server object) named ``name``."""
        server: MCPServer = create_mcp_server(self.service, self.settings)
        return Client(server, client_info=Implementation(name=name, version="1.0"))

    def close(self) -> None:
        for c in self._clients:
            c.close()


@pytest.fixture
def fleet(tmp_path: Path, embedder: Embedder) -> Iterator[Fleet]:
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with (
        build_service(settings, embedder=embedder) as svc,
        LiveServer(http_app(svc, settings), port) as server,
    ):
        f = Fleet(server, svc, settings)
        try:
            yield f
        finally:
            f.close()


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of a response that must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()
