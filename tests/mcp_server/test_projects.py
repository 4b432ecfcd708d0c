"""Which project a call acts on: argument, else the client's roots, else the default, else
an error naming the known projects. Checked on both protocol eras (legacy handshake with
a server-to-client roots/list request, and 2026-07-28 input_required rounds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server import create_mcp_server
from memsvc import Actor, Channel, MemoryService, ProjectCreate, Settings
from tests.conftest import make_settings
from tests.mcp_server.conftest import call, client, fail, structured, text

pytestmark = pytest.mark.anyio
MODES = ["legacy", "auto"]


@pytest.fixture
def two_projects(service: MemoryService) -> None:
    local = Actor.local(Channel.CLI)
    service.create_project(local, ProjectCreate(id="acme", root_paths=["/src/acme"]))
    service.create_project(local, ProjectCreate(id="shop", root_paths=["/src/shop"]))


@pytest.mark.parametrize("mode", MODES)
async def test_roots_inside_a_project_path_choose_it(
    service: MemoryService, settings: Settings, two_projects: None, mode: str
) -> None:
    mcp = create_mcp_server(service, settings)
    async with client(mcp, "/src/shop/services/api", mode=mode) as c:
        added = await call(c, "add_memory", kind="fact", content="shop uses stripe")
    assert structured(added)["memory"]["project"] == "shop"
    assert structured(added)["project_source"] == "workspace roots"
    assert "Project shop (chosen by workspace roots)" in text(added)


@pytest.mark.parametrize("mode", MODES)
async def test_the_argument_beats_the_roots(
    service: MemoryService, settings: Settings, two_projects: None, mode: str
) -> None:
    mcp = create_mcp_server(service, settings)
    async with client(mcp, "/src/shop", mode=mode) as c:
        added = await call(c, "add_memory", project="acme", kind="fact", content="x")
    assert structured(added)["memory"]["project"] == "acme"
    assert structured(added)["project_source"] == "argument"


@pytest.mark.parametrize("mode", MODES)
async def test_unmatched_roots_fall_back_to_the_default_project(
    service: MemoryService, tmp_path: Path, two_projects: None, mode: str
) -> None:
    settings = make_settings(tmp_path / "data", project="acme")
    mcp = create_mcp_server(service, settings)
    async with client(mcp, "/elsewhere", mode=mode) as c:
        ctx = await call(c, "get_context")
    assert structured(ctx)["project"] == "acme"
    assert structured(ctx)["project_source"] == "server default"


@pytest.mark.parametrize("mode", MODES)
async def test_no_argument_roots_or_default_is_an_error_listing_projects(
    service: MemoryService, settings: Settings, two_projects: None, mode: str
) -> None:
    mcp = create_mcp_server(service, settings)
    async with client(mcp, "/elsewhere", mode=mode) as c:
        error = await fail(c, "search_memories", query="stripe")
    assert "acme, shop" in error and "project=" in error and "/elsewhere" in error


async def test_a_client_without_roots_gets_the_default_or_an_error(
    service: MemoryService, settings: Settings, two_projects: None
) -> None:
    mcp = create_mcp_server(service, settings)
    async with client(mcp) as c:
        error = await fail(c, "list_memories")
    assert "sent no workspace roots" in error and "acme, shop" in error


async def test_no_projects_at_all_says_to_create_one(mcp: object) -> None:
    async with client(mcp, "/src/new") as c:
        error = await fail(c, "get_context")
    assert "create_project" in error


async def test_the_server_cwd_alone_never_picks_a_project(
    service: MemoryService, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service.create_project(
        Actor.local(Channel.CLI), ProjectCreate(id="here", root_paths=[str(tmp_path)])
    )
    monkeypatch.chdir(tmp_path)
    async with client(create_mcp_server(service, settings)) as c:
        error = await fail(c, "get_context")
    assert "No project chosen" in error
