"""MCP fixtures: an MCP server over the test service, driven in memory by the SDK client."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.session import ClientRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ListRootsResult, Root

from mcp_server import create_mcp_server
from memsvc import MemoryService, Settings

MEMSVC = str(Path(sys.executable).with_name("memsvc"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mcp(service: MemoryService, settings: Settings) -> MCPServer:
    return create_mcp_server(service, settings)


def roots_callback(*paths: str) -> Callable[[ClientRequestContext], Any]:
    """A client that reports ``paths`` as its workspace roots."""

    async def list_roots(_context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=Path(p).as_uri(), name=Path(p).name) for p in paths])

    return list_roots


def client(server: Any, *roots: str, **kw: Any) -> Client:
    return Client(server, list_roots_callback=roots_callback(*roots) if roots else None, **kw)


async def call(c: Client, tool: str, **arguments: Any) -> CallToolResult:
    """Call a tool that must succeed; returns its result."""
    result = await c.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result


async def fail(c: Client, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail with a tool error; returns the error text."""
    result = await c.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return str(text)


def text(result: CallToolResult) -> str:
    return str(result.content[0].text)  # type: ignore[union-attr]


def structured(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None
    return dict(result.structured_content)


def subprocess_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a real ``memsvc`` process: fake embedder, no background thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSVC_")}
    env.update(MEMSVC_DATA_DIR=str(data_dir), MEMSVC_EMBEDDER="hash", **extra)
    return env


def run_memsvc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MEMSVC, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
