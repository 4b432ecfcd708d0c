"""MCP over HTTP with tokens: 401 at the transport, roles enforced per tool, provenance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from sqlmodel import select

from memsvc import Actor, Channel, MemoryDraft, MemoryService, ProjectCreate, build_service
from memsvc.domain import Kind
from memsvc.retrieval.embedder import Embedder
from memsvc.store.models import AuditEventRow
from memsvc_cli.main import http_app
from tests.audit.helpers import ledger
from tests.conftest import LiveServer, free_port, make_settings

ADMIN = Actor.local(Channel.CLI)
ROLES = ["reader", "writer", "curator", "admin"]
RANK = {"reader": 0, "writer": 1, "curator": 2, "admin": 3, "global": 4}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def secured(
    tmp_path: Path, embedder: Embedder
) -> Iterator[tuple[str, MemoryService, dict[str, Any]]]:
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with build_service(settings, embedder=embedder) as svc:
        svc.create_project(ADMIN, ProjectCreate(id="acme"))
        theirs = svc.add_memory(
            ADMIN, "acme", MemoryDraft(kind=Kind.FACT, content="owned by local")
        )
        tokens = {r: svc.create_token(ADMIN, f"{r}-bot", "acme", r).token for r in ROLES}
        tokens["global"] = svc.create_token(ADMIN, "root-bot", "*", "admin").token
        world = {"tokens": tokens, "memory": theirs.memory.id}
        with LiveServer(http_app(svc, settings), port) as server:
            yield server.url, svc, world


@asynccontextmanager
async def connect(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,  # generous: CI shares 2 cores
        Client(streamable_http_client(url + "/mcp", http_client=http)) as c,
    ):
        yield c


def test_mcp_http_without_a_token_is_401_once_tokens_exist(
    secured: tuple[str, MemoryService, dict[str, Any]],
) -> None:
    url, svc, _ = secured
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in (None, "Bearer msv_nope_nope", "Basic dXNlcjpwdw=="):
        h = dict(headers, Authorization=auth) if auth else headers
        r = httpx.post(url + "/mcp", json=init, headers=h)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "Unauthenticated"
    with ledger(svc).read() as s:
        rows = s.exec(select(AuditEventRow).where(AuditEventRow.action == "authenticate")).all()
    assert [(r.outcome, r.channel, r.chain) for r in rows] == [("denied", "mcp", "")] * 3


TOOLS: list[tuple[str, str, dict[str, Any]]] = [
    ("list_projects", "reader", {}),
    ("open_project", "reader", {"name": "acme"}),
    ("search_memories", "reader", {"project": "acme", "query": "owned"}),
    ("get_context", "reader", {"project": "acme"}),
    ("get_memory", "reader", {"project": "acme", "memory_id": "{memory}"}),
    ("list_memories", "reader", {"project": "acme"}),
    ("memory_history", "reader", {"project": "acme", "memory_id": "{memory}"}),
    ("add_memory", "writer", {"project": "acme", "kind": "fact", "content": "by {role}"}),
    ("write_handoff", "writer", {"project": "acme", "summary": "handoff by {role}"}),
    ("update_memory", "curator", {"project": "acme", "memory_id": "{memory}", "tags": ["{role}"]}),
    ("list_audit_events", "curator", {"project": "acme"}),
    ("create_project", "global", {"id": "new-{role}"}),
]


@pytest.mark.anyio
async def test_mcp_role_matrix(secured: tuple[str, MemoryService, dict[str, Any]]) -> None:
    url, _, world = secured
    for role in [*ROLES, "global"]:
        async with connect(url, world["tokens"][role]) as c:
            for tool, needed, args in TOOLS:
                filled = {
                    k: v.format(memory=world["memory"], role=role) if isinstance(v, str) else v
                    for k, v in args.items()
                }
                if isinstance(filled.get("tags"), list):
                    filled["tags"] = [role]
                result = await c.call_tool(tool, filled)
                allowed = RANK[role] >= RANK[needed]
                assert result.is_error != allowed, (role, tool, result.content)
                if not allowed:
                    assert "PermissionDenied" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_mcp_writes_record_the_token_principal(
    secured: tuple[str, MemoryService, dict[str, Any]],
) -> None:
    url, _, world = secured
    async with connect(url, world["tokens"]["writer"]) as c:
        result = await c.call_tool(
            "add_memory", {"project": "acme", "kind": "fact", "content": "hi"}
        )
    assert not result.is_error
    provenance = (result.structured_content or {})["memory"]["provenance"]
    assert provenance["principal"] == "writer-bot" and provenance["channel"] == "mcp"
