"""Every caller has an agent identity, and "my last project" and "since you were last
here" are kept per identity: two agents in two projects and a human browsing a third."""

from __future__ import annotations

import pytest
from mcp.client import Client
from mcp_types import Implementation

from mcp_server import create_mcp_server
from memsvc import Actor, Channel, MemoryDraft, MemoryService
from memsvc.domain import Kind, ProjectCreate
from tests.fleet.conftest import Fleet, ok
from tests.mcp_server.conftest import call, roots_callback, structured, text

pytestmark = pytest.mark.anyio


async def test_each_agent_opens_its_own_last_project_and_sees_the_others_changes(
    fleet: Fleet,
) -> None:
    human = fleet.human()
    for pid in ("alpha", "beta", "gamma"):
        ok(human.post("/projects", json={"id": pid}), 201)
    async with fleet.mcp_http("claude-code") as claude, fleet.mcp_memory("cursor") as cursor:
        await call(claude, "add_memory", project="alpha", kind="fact", content="Alpha bills in EUR")
        await call(cursor, "write_handoff", project="beta", summary="beta: wired the queue")
        # the human browses (and even writes in) gamma afterwards, in the inspector
        ok(human.get("/projects/gamma"))
        ok(human.post("/projects/gamma/context", json={}))
        ok(
            human.post("/projects/gamma/memories", json={"kind": "fact", "content": "Gamma note"}),
            201,
        )

        mine = structured(await call(claude, "open_last_project"))
        theirs = structured(await call(cursor, "open_last_project"))
        assert (mine["project"]["id"], mine["agent"]) == ("alpha", "claude-code")
        assert (theirs["project"]["id"], theirs["agent"]) == ("beta", "cursor")

        # cursor changes alpha: claude sees it with its content, cursor's own view does not
        first = await call(cursor, "add_memory", project="alpha", kind="fact", content="EUR only")
        old_id = structured(first)["memory"]["id"]
        await call(
            cursor,
            "supersede_memory",
            project="alpha",
            memory_id=old_id,
            kind="fact",
            content="Alpha bills in integer cents of EUR",
        )
        again = await call(claude, "open_last_project")
    since = structured(again)["since"]
    newest = next(c for c in since if c["supersedes"])
    assert newest["kind"] == "fact" and newest["change"] == "create"
    assert newest["summary"] == "Alpha bills in integer cents of EUR"
    assert newest["supersedes"] == old_id and newest["supersedes_summary"] == "EUR only"
    assert "cursor" in newest["by"]
    assert all("claude-code" not in c["by"] for c in since)  # its own changes are not news
    assert "Alpha bills in integer cents of EUR" in text(again)  # the model reads it too
    assert structured(again)["project"]["id"] == "alpha"


def test_rest_agent_header_is_the_identity_and_the_inspector_never_counts(fleet: Fleet) -> None:
    human, codex, other = fleet.human(), fleet.rest("codex"), fleet.rest("aider")
    for pid in ("one", "two"):
        ok(human.post("/projects", json={"id": pid}), 201)
    ok(codex.post("/projects/one/memories", json={"kind": "fact", "content": "one fact"}), 201)
    ok(other.post("/projects/two/context", json={}))  # a context load counts as work
    ok(human.get("/projects/one/memories"))
    ok(human.post("/projects/two/memories", json={"kind": "fact", "content": "human"}), 201)
    assert ok(codex.post("/open-last-project", json={}))["project"]["id"] == "one"
    assert ok(other.post("/open-last-project", json={}))["project"]["id"] == "two"
    opened = ok(codex.post("/open-last-project", json={}))
    assert opened["agent"] == "codex"
    events = ok(codex.get("/projects/one/audit", params={"action": "add_memory"}))["events"]
    assert events and events[0]["principal"] == "local"


def test_search_does_not_move_an_agents_place(service: MemoryService) -> None:
    admin = Actor.local(Channel.REST)
    for pid in ("home", "away"):
        service.create_project(admin, ProjectCreate(id=pid))
    bot = Actor.local(Channel.MCP, client="bot")
    service.add_memory(bot, "home", MemoryDraft(kind=Kind.FACT, content="home fact"))
    from memsvc.domain import SearchQuery

    service.search_memories(bot, "away", SearchQuery(query="anything"))
    assert service.open_last_project(bot).project.id == "home"


def test_explicit_agent_wins_over_client_name(service: MemoryService) -> None:
    assert Actor.local(Channel.MCP, client="cursor", agent="reviewer").identity == "reviewer"
    assert Actor.local(Channel.MCP, client="cursor").identity == "cursor"
    assert Actor.local(Channel.WEB, client="firefox", agent="x").identity == ""
    assert Actor.local(Channel.REST, client="python-httpx/0.28").identity == ""


def test_a_fresh_agent_falls_back_to_its_principals_agents_not_the_inspector(
    service: MemoryService,
) -> None:
    admin = Actor.local(Channel.REST)
    for pid in ("worked", "browsed"):
        service.create_project(admin, ProjectCreate(id=pid))
    service.add_memory(admin, "worked", MemoryDraft(kind=Kind.FACT, content="work"))
    web = Actor.local(Channel.WEB)
    service.get_project(web, "browsed")
    service.list_memories(web, "browsed")
    fresh = Actor.local(Channel.MCP, client="new-agent")
    assert service.open_last_project(fresh).project.id == "worked"


async def test_open_last_project_offers_the_project_of_the_workspace_roots(
    fleet: Fleet,
) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "api", "root_paths": ["/src/api"]}), 201)
    ok(human.post("/projects", json={"id": "web", "root_paths": ["/src/web"]}), 201)
    server = create_mcp_server(fleet.service, fleet.settings)
    async with Client(
        server,
        list_roots_callback=roots_callback("/src/web/app"),
        client_info=Implementation(name="codex", version="1"),
    ) as c:
        await call(c, "add_memory", project="api", kind="fact", content="api fact", agent="sub-1")
        opened = await call(c, "open_last_project", agent="sub-1")
    data = structured(opened)
    assert (data["project"]["id"], data["agent"], data["workspace_project"]) == (
        "api",
        "sub-1",
        "web",
    )
    assert "Your workspace matches project web" in text(opened)
