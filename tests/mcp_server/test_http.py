"""MCP over streamable HTTP at /mcp beside REST: the SDK client end to end, and the
Host/Origin guards against DNS rebinding and cross-site browsers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memsvc import MemoryService, Settings
from memsvc.retrieval.embedder import Embedder
from memsvc_cli.main import http_app
from tests.conftest import LiveServer, free_port, make_settings
from tests.mcp_server.conftest import MEMSVC, call, client, structured, subprocess_env

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mcp_live(tmp_path: Path, embedder: Embedder) -> Iterator[str]:
    """The full `memsvc serve` app (REST + /mcp) on a real port, in this process."""
    from memsvc import build_service

    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with (
        build_service(settings, embedder=embedder) as svc,
        LiveServer(http_app(svc, settings), port) as server,
    ):
        yield server.url


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_client_places_calls_by_roots(mcp_live: str, mode: str) -> None:
    async with client(mcp_live + "/mcp", "/work/acme/src", mode=mode) as c:
        await call(c, "create_project", id="acme", root_paths=["/work/acme"])
        added = await call(c, "add_memory", kind="fact", content="no force pushes")
        found = await call(c, "search_memories", query="force pushes")
        ctx = await call(c, "get_context")
    assert structured(added)["project_source"] == "workspace roots"
    assert structured(added)["memory"]["provenance"]["channel"] == "mcp"
    assert structured(found)["hits"][0]["memory"]["id"] == structured(added)["memory"]["id"]
    assert "no force pushes" in structured(ctx)["context"]["text"]


def test_foreign_origin_on_mcp_is_403(mcp_live: str) -> None:
    headers = {**MCP_HEADERS, "Origin": "http://evil.example"}
    r = httpx.post(mcp_live + "/mcp", json=INIT, headers=headers)
    assert r.status_code == 403
    assert "Origin" in r.text


def test_foreign_host_on_mcp_is_refused(mcp_live: str) -> None:
    headers = {**MCP_HEADERS, "Host": "evil.example:80"}
    r = httpx.post(mcp_live + "/mcp", json=INIT, headers=headers)
    assert r.status_code == 403


def test_own_origin_on_mcp_is_served(mcp_live: str) -> None:
    port = mcp_live.rsplit(":", 1)[1]
    headers = {**MCP_HEADERS, "Origin": f"http://127.0.0.1:{port}"}
    r = httpx.post(mcp_live + "/mcp", json=INIT, headers=headers)
    assert r.status_code == 200, r.text
    assert "memsvc" in r.text


def test_rest_still_answers_beside_mcp(mcp_live: str) -> None:
    assert httpx.get(mcp_live + "/api/v1/health").json()["status"] == "ok"


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = subprocess_env(tmp_path / "data")
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [MEMSVC, "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "memsvc serve did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.anyio
async def test_memsvc_serve_process_speaks_mcp(serve_process: str) -> None:
    async with client(serve_process + "/mcp", "/srv/shop/app") as c:
        await call(c, "create_project", id="shop", root_paths=["/srv/shop"])
        await call(c, "write_handoff", summary="set up billing", next_steps=["add refunds"])
        opened = await call(c, "open_last_project")
    data = structured(opened)
    assert data["project"]["id"] == "shop"
    assert data["context"]["items"][0]["kind"] == "handoff"
    r = httpx.post(
        serve_process + "/mcp", json=INIT, headers={**MCP_HEADERS, "Origin": "http://evil.example"}
    )
    assert r.status_code == 403


def test_http_settings_are_consistent(settings: Settings, service: MemoryService) -> None:
    """The SDK's own check agrees with ours: configured extra hosts are served by both."""
    from mcp_server.http import allowed_hosts

    extra = make_settings(settings.data_dir, allowed_hosts=["memsvc.internal:8765"])
    assert "memsvc.internal:8765" in allowed_hosts(extra)
    assert "127.0.0.1:8765" in allowed_hosts(extra)
