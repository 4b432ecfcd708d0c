"""The MCP tools over the real bundled MiniLM model: recall by meaning, not shared words."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server import create_mcp_server
from memsvc import build_service
from memsvc.retrieval.embedder import MiniLMEmbedder
from tests.conftest import make_settings
from tests.mcp_server.conftest import call, client, structured

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_search_by_meaning_over_mcp(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    settings = make_settings(tmp_path / "data", embedder="minilm")
    with build_service(settings, embedder=minilm) as service:
        async with client(create_mcp_server(service, settings), "/src/acme") as c:
            await call(c, "create_project", id="acme", root_paths=["/src/acme"])
            for kind, content in [
                ("fact", "We store orders in PostgreSQL because we need transactions."),
                ("preference", "The team likes short pull requests."),
                ("fact", "The office dog is called Biscuit."),
            ]:
                await call(c, "add_memory", kind=kind, content=content)
            found = await call(
                c, "search_memories", query="which database engine stores orders?", limit=1
            )
            ctx = await call(
                c,
                "get_context",
                task="write a SQL migration for the orders table",
                budget_tokens=120,
            )
    assert "PostgreSQL" in structured(found)["hits"][0]["memory"]["content"]
    items = structured(ctx)["context"]["items"]
    assert items and "PostgreSQL" in items[0]["content"]
