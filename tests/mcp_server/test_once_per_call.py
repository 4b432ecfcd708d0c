"""Per tool call, MCP over HTTP authenticates once and asks the client for its roots at
most once per session (until the client says its roots changed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import ListRootsResult, Root
from sqlalchemy import Engine, event

from mcp_server import create_mcp_server
from memsvc import Actor, Channel, MemoryService, ProjectCreate, build_service
from memsvc.retrieval.embedder import Embedder
from memsvc_cli.main import http_app
from tests.conftest import LiveServer, free_port, make_settings
from tests.mcp_server.conftest import call, structured

pytestmark = pytest.mark.anyio
ADMIN = Actor.local(Channel.CLI)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class TokenLookups:
    """Counts SQL statements that read the access-token table: one per authentication."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM access_token" in statement:
            self.count += 1


@pytest.fixture
def lookups() -> Iterator[TokenLookups]:
    counter = TokenLookups()
    event.listen(Engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(Engine, "before_cursor_execute", counter)


@pytest.fixture
def server(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[str, str]]:
    """`memsvc serve`'s app on a real port, with a writer token on project acme."""
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with build_service(settings, embedder=embedder) as svc:
        svc.create_project(ADMIN, ProjectCreate(id="acme", root_paths=["/src/acme"]))
        token = svc.create_token(ADMIN, "bot", "acme", "writer").token
        with LiveServer(http_app(svc, settings), port) as live:
            yield live.url, token


class Roots:
    """A client's workspace roots that counts how often the server asks for them."""

    def __init__(self, *paths: str) -> None:
        self.paths, self.asked = list(paths), 0

    async def __call__(self, _context: Any) -> ListRootsResult:
        self.asked += 1
        return ListRootsResult(roots=[Root(uri=Path(p).as_uri()) for p in self.paths])


@asynccontextmanager
async def connect(url: str, token: str, roots: Roots | None = None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,  # generous: CI shares 2 cores
        Client(
            streamable_http_client(url + "/mcp", http_client=http),
            list_roots_callback=roots,
            mode="legacy",
        ) as c,
    ):
        yield c


async def test_mcp_http_tool_call_authenticates_once(
    server: tuple[str, str], lookups: TokenLookups
) -> None:
    url, token = server
    async with connect(url, token) as c:
        await c.call_tool("list_memories", {"project": "acme"})
        lookups.count = 0
        result = await c.call_tool("search_memories", {"project": "acme", "query": "x"})
        counted = lookups.count
    assert not result.is_error, result.content
    assert counted == 1


async def test_roots_are_asked_once_per_session_over_http(
    server: tuple[str, str], lookups: TokenLookups
) -> None:
    url, token = server
    roots = Roots("/src/acme/api")
    async with connect(url, token, roots) as c:
        first = await c.call_tool("list_memories", {})
        lookups.count = 0
        second = await c.call_tool("list_memories", {})
        counted = lookups.count
    assert [r.structured_content["project"] for r in (first, second)] == ["acme", "acme"]
    assert (roots.asked, counted) == (1, 1)


async def test_roots_are_asked_again_after_the_client_says_they_changed(
    mcp: MCPServer, service: MemoryService
) -> None:
    for pid in ("acme", "shop"):
        service.create_project(ADMIN, ProjectCreate(id=pid, root_paths=[f"/src/{pid}"]))
    roots = Roots("/src/acme/api")
    async with Client(mcp, list_roots_callback=roots, mode="legacy") as c:
        before = [await call(c, "list_memories"), await call(c, "get_context")]
        asked_before = roots.asked
        roots.paths = ["/src/shop"]
        with pytest.warns(MCPDeprecationWarning):  # roots are deprecated from 2026-07-28
            await c.send_roots_list_changed()
        after = [await call(c, "list_memories"), await call(c, "get_context")]
    assert asked_before == 1
    assert roots.asked == 2
    assert [structured(r)["project"] for r in before + after] == ["acme", "acme", "shop", "shop"]


async def test_a_call_naming_its_project_never_asks_for_roots(mcp: MCPServer) -> None:
    roots = Roots("/src/acme")
    async with Client(mcp, list_roots_callback=roots, mode="legacy") as c:
        await call(c, "create_project", id="acme", root_paths=[])
        await call(c, "add_memory", project="acme", kind="fact", content="CI runs on push")
        await call(c, "search_memories", project="acme", query="CI")
    assert roots.asked == 0


async def test_mcp_http_served_without_the_gate_refuses_tool_calls(
    tmp_path: Path, embedder: Embedder
) -> None:
    """The tools trust only the Actor the gate authenticated; with no gate, no call runs."""
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with build_service(settings, embedder=embedder) as svc:
        svc.create_project(ADMIN, ProjectCreate(id="acme"))
        ungated = create_mcp_server(svc, settings).streamable_http_app(streamable_http_path="/mcp")
        with LiveServer(ungated, port) as live:
            async with Client(live.url + "/mcp", mode="legacy") as c:
                result = await c.call_tool("list_memories", {"project": "acme"})
    assert result.is_error
    assert "Unauthenticated" in result.content[0].text  # type: ignore[union-attr]
