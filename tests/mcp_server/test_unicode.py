"""Invalid Unicode over a real MCP client session: the tool error names the field, nothing
is stored, and the project stays readable (the REST side: tests/api/test_unicode_doors.py)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from memsvc import Actor, Channel, MemoryService, ProjectCreate
from tests.mcp_server.conftest import call, client, fail, structured

pytestmark = pytest.mark.anyio


BAD = "bot-\ud83d"


@pytest.fixture
def acme(service: MemoryService) -> str:
    service.create_project(Actor.local(Channel.CLI), ProjectCreate(id="acme"))
    return "acme"


MCP_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("add_memory", {"kind": "fact", "content": "x", "agent": BAD}, "agent"),
    ("add_memory", {"kind": "fact", "content": "x", "session": BAD}, "session"),
    ("add_memory", {"kind": "fact", "content": "x", "origin": BAD}, "origin"),
    ("add_memory", {"kind": "fact", "content": BAD}, "content"),
    ("add_memory", {"kind": "fact", "content": "x", "tags": [BAD]}, "tags.0"),
    ("search_memories", {"query": BAD}, "query"),
    ("get_context", {"task": BAD}, "task"),
]


@pytest.mark.parametrize(("tool", "args", "field"), MCP_CASES)
async def test_mcp_tools_refuse_invalid_unicode_naming_the_field(
    mcp: MCPServer, acme: str, tool: str, args: dict[str, Any], field: str
) -> None:
    async with client(mcp) as c:
        error = await fail(c, tool, project=acme, **args)
        listed = await call(c, "list_memories", project=acme)
    # arguments with length limits are refused by the SDK's own argument model (pydantic's
    # "unable to parse raw data as a unicode string"); the rest by the domain models
    name = field.rsplit(".", 1)[-1].rstrip("0123456789.")
    assert f"InvalidInput: {field}:" in error or (
        f"\n{name}\n" in error and "unicode string" in error
    ), error
    assert structured(listed)["memories"] == []


async def test_a_handoff_with_invalid_unicode_is_a_tool_error_naming_summary(
    mcp: MCPServer, acme: str
) -> None:
    async with client(mcp) as c:
        error = await fail(c, "write_handoff", project=acme, summary=BAD)
    assert "summary:" in error
