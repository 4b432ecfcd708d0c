"""MCP payloads sized for agents: tools/list fits a small budget, a search's structured
result is about as long as its text, and the lean schemas accept the same documents as the
full ones pydantic generates."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from mcp.client import Client
from mcp.server.mcpserver import MCPServer

from mcp_server.schema import lean_schema, outline_schema
from memsvc import Actor, Channel, Kind, MemoryDraft, MemoryService, ProjectCreate
from tests.mcp_server.conftest import call, structured, text
from tests.mcp_server.test_static_surface import EXPECTED as TOOLS

pytestmark = pytest.mark.anyio


def wire(payload: dict[str, Any] | None) -> int:
    """Characters of ``payload`` as JSON on the wire (no spaces after separators)."""
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))


def _shop(service: MemoryService, n: int) -> None:
    actor = Actor.local(Channel.CLI)
    service.create_project(actor, ProjectCreate(id="shop", root_paths=[]))
    service.add_memories(
        actor,
        "shop",
        [
            MemoryDraft(
                kind=Kind.FACT,
                content=f"The billing module talks to stripe through a queue (note {i}).",
                tags=["billing"],
            )
            for i in range(n)
        ],
    )


async def test_tools_list_fits_in_25k_characters_with_every_tool_and_schema(
    mcp: MCPServer,
) -> None:
    async with Client(mcp) as c:
        listed = await c.list_tools()
    size = len(listed.model_dump_json(by_alias=True, exclude_none=True))
    assert size <= 25_000, size
    assert {t.name for t in listed.tools} == TOOLS
    # Every tool still tells clients its result's fields, and every argument keeps its name.
    assert all(t.output_schema and t.output_schema["properties"] for t in listed.tools)


async def test_ten_hit_search_structured_result_is_at_most_twice_its_text(
    mcp: MCPServer, service: MemoryService
) -> None:
    _shop(service, 30)
    async with Client(mcp) as c:
        found = await call(c, "search_memories", project="shop", query="stripe billing queue")
    hits = structured(found)["hits"]
    assert len(hits) == 10
    assert wire(structured(found)) <= 2 * len(text(found)), (wire(structured(found)), text(found))


async def test_search_hits_carry_what_agents_need_and_no_index_internals(
    mcp: MCPServer, service: MemoryService
) -> None:
    _shop(service, 3)
    async with Client(mcp) as c:
        found = await call(c, "search_memories", project="shop", query="stripe", limit=3)
    hit = structured(found)["hits"][0]
    memory = hit["memory"]
    assert {"id", "kind", "content", "status", "version", "provenance"} <= set(memory)
    assert memory["kind"] == "fact" and memory["status"] == "active"
    assert memory["tags"] == ["billing"] and memory["provenance"]["channel"] == "cli"
    assert memory["id"] in text(found) and f"score {hit['score']:.3f}" in text(found)
    for internal in ("content_hash", "embedding_model", "token_count", "created_at"):
        assert internal not in memory
    assert "parts" not in hit and "provenance_line" not in hit
    # Defaults are left out: an unpinned memory with no title says neither.
    assert "pinned" not in memory and "title" not in memory


async def test_listed_input_schemas_accept_exactly_what_the_full_ones_accept(
    mcp: MCPServer,
) -> None:
    async with Client(mcp) as c:
        lean = {t.name: t.input_schema for t in (await c.list_tools()).tools}
    full = {t.name: t.input_schema for t in await MCPServer.list_tools(mcp)}
    samples: list[tuple[str, dict[str, Any]]] = [
        ("add_memory", {"kind": "rule", "content": "x"}),
        ("add_memory", {"kind": "rule", "content": "x", "title": None, "tags": None}),
        ("add_memory", {"kind": "gossip", "content": "x"}),
        ("add_memory", {"kind": "fact", "content": "x", "importance": 1.5}),
        ("add_memory", {"kind": "fact", "content": "x", "valid_from": None, "project": "a" * 65}),
        ("add_memory", {"content": "x"}),
        ("search_memories", {"query": "q", "kinds": ["rule", None]}),
        ("search_memories", {"query": "q", "kinds": None, "limit": 0}),
        ("search_memories", {"query": "q", "kinds": ["decision"], "limit": 3}),
        ("set_review_policy", {"policy": {"propose": [{"kinds": ["rule"]}]}}),
        ("set_review_policy", {"policy": {"propose": [{"kinds": ["rule"], "x": 1}]}}),
        ("set_review_policy", {"policy": {"propose": [{"kinds": ["nope"], "roles": None}]}}),
        ("list_audit_events", {"limit": 1001}),
        ("list_audit_events", {"cursor": None, "memory_id": "m"}),
    ]
    for tool, arguments in samples:
        expected = jsonschema.Draft202012Validator(full[tool]).is_valid(arguments)
        assert jsonschema.Draft202012Validator(lean[tool]).is_valid(arguments) == expected, (
            tool,
            arguments,
        )
    assert sum(wire(s) for s in lean.values()) < sum(wire(s) for s in full.values()) * 0.8


def test_lean_schema_keeps_null_out_of_an_enum_and_recursive_definitions_in_defs() -> None:
    enum_or_null = {"anyOf": [{"enum": ["a"], "type": "string"}, {"type": "null"}]}
    assert lean_schema(enum_or_null) == enum_or_null
    tree = {
        "$defs": {
            "Node": {"properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}
        },
        "properties": {"root": {"$ref": "#/$defs/Node", "title": "Root"}},
    }
    lean = lean_schema(tree)
    assert lean["$defs"]["Node"] == tree["$defs"]["Node"]
    assert lean["properties"]["root"] == {"$ref": "#/$defs/Node"}
    v = jsonschema.Draft202012Validator(lean)
    assert v.is_valid({"root": {"kids": [{"kids": []}]}})
    assert not v.is_valid({"root": {"kids": [{"kids": 3}]}})


def test_outline_schema_names_every_field_with_its_json_types() -> None:
    schema = {
        "$defs": {"K": {"enum": ["a", "b"], "type": "string"}},
        "properties": {
            "k": {"$ref": "#/$defs/K"},
            "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "items": {"items": {"$ref": "#/$defs/K"}, "type": "array"},
        },
        "required": ["k", "items"],
        "type": "object",
    }
    assert outline_schema(schema) == {
        "type": "object",
        "properties": {
            "k": {"type": "string"},
            "n": {"type": ["integer", "null"]},
            "items": {"type": "array"},
        },
        "required": ["k", "items"],
    }
