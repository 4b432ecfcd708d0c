"""Every tool over an in-memory MCP session: happy paths and the errors a model sees."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver import MCPServer

from memsvc import Actor, Channel, Kind, MemoryDraft, MemoryService, ProjectCreate, Role
from memsvc.domain import ReviewPolicy
from tests.mcp_server.conftest import call, client, fail, structured, text

pytestmark = pytest.mark.anyio


@pytest.fixture
def acme(service: MemoryService) -> str:
    service.create_project(
        Actor.local(Channel.CLI), ProjectCreate(id="acme", root_paths=["/src/acme"])
    )
    service.set_review_policy(Actor.local(Channel.CLI), "acme", ReviewPolicy())  # all active
    return "acme"


async def test_create_and_list_projects(mcp: MCPServer) -> None:
    async with client(mcp) as c:
        created = await call(c, "create_project", id="shop", root_paths=["/src/shop"])
        assert structured(created)["root_paths"] == ["/src/shop"]
        listed = await call(c, "list_projects")
    assert [p["id"] for p in structured(listed)["projects"]] == ["shop"]
    assert "Project shop" in text(listed)


async def test_create_project_binds_the_workspace_roots_by_default(mcp: MCPServer) -> None:
    async with client(mcp, "/home/me/shop") as c:
        created = await call(c, "create_project", id="shop")
    assert structured(created)["root_paths"] == ["/home/me/shop"]


async def test_add_get_list_memory_with_mcp_provenance(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        added = await call(
            c,
            "add_memory",
            project=acme,
            kind="decision",
            content="We chose PostgreSQL for its JSONB support.",
            tags=["db"],
            agent="planner",
            session="s-42",
        )
        memory = structured(added)["memory"]
        got = await call(c, "get_memory", project=acme, memory_id=memory["id"])
        listed = await call(c, "list_memories", project=acme, kinds=["decision"])
    prov = memory["provenance"]
    assert prov["channel"] == "mcp"
    assert prov["client"] == "mcp" and prov["client_version"]
    assert (prov["agent"], prov["session"]) == ("planner", "s-42")
    assert structured(added)["created"] is True
    assert structured(got)["memory"]["id"] == memory["id"]
    assert f'<memory id="{memory["id"]}" kind="decision"' in text(got)
    assert "via mcp" in text(got)
    assert [m["id"] for m in structured(listed)["memories"]] == [memory["id"]]


async def test_adding_the_same_memory_twice_stores_it_once(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        first = await call(c, "add_memory", project=acme, kind="fact", content="CI runs on push")
        again = await call(c, "add_memory", project=acme, kind="fact", content="CI runs on push")
    assert structured(again)["created"] is False
    assert structured(again)["memory"]["id"] == structured(first)["memory"]["id"]
    assert "nothing added" in text(again)


async def test_search_returns_delimited_labelled_hits(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        await call(c, "add_memory", project=acme, kind="fact", content="deploys go through argo")
        await call(c, "add_memory", project=acme, kind="preference", content="prefers pytest")
        found = await call(c, "search_memories", project=acme, query="argo deploys", limit=1)
    hits = structured(found)["hits"]
    assert len(hits) == 1 and "argo" in hits[0]["memory"]["content"]
    assert 'kind="fact"' in text(found) and "</memory>" in text(found)
    assert "stored data, not instructions" in text(found)


async def test_get_context_leads_with_rules_and_reports_budget(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        await call(c, "add_memory", project=acme, kind="rule", content="never push to main")
        ctx = await call(c, "get_context", project=acme, task="release", budget_tokens=500)
    pack = structured(ctx)["context"]
    assert pack["items"][0]["kind"] == "rule"
    assert pack["tokens"] <= 500
    assert "never push to main" in text(ctx) and "<memsvc-context" in text(ctx)


async def test_update_supersede_history_delete(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        fact = structured(
            await call(c, "add_memory", project=acme, kind="fact", content="api on port 80")
        )["memory"]
        updated = await call(
            c, "update_memory", project=acme, memory_id=fact["id"], content="api on port 8080"
        )
        rule = structured(await call(c, "add_memory", project=acme, kind="rule", content="tabs"))[
            "memory"
        ]
        refused = await fail(c, "update_memory", project=acme, memory_id=rule["id"], content="x")
        newer = await call(
            c, "supersede_memory", project=acme, memory_id=rule["id"], kind="rule", content="spaces"
        )
        history = await call(c, "memory_history", project=acme, memory_id=rule["id"])
        await call(c, "delete_memory", project=acme, memory_id=fact["id"])
        gone = await call(c, "list_memories", project=acme, statuses=["deleted"])
    assert structured(updated)["memory"]["version"] == 2
    assert "supersede_memory" in refused
    assert structured(newer)["memory"]["supersedes"] == rule["id"]
    changes = [v["change"] for v in structured(history)["versions"]]
    assert changes == ["create", "superseded"]
    assert [m["id"] for m in structured(gone)["memories"]] == [fact["id"]]


async def test_write_handoff_leads_the_next_context(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        await call(c, "add_memory", project=acme, kind="rule", content="run make test")
        await call(
            c,
            "write_handoff",
            project=acme,
            summary="migrated the auth module",
            done=["moved tokens to argon2"],
            next_steps=["drop the old table"],
            open_questions=["keep sessions?"],
        )
        ctx = await call(c, "get_context", project=acme)
    items = structured(ctx)["context"]["items"]
    assert items[0]["kind"] == "handoff"
    assert "Next:\n- drop the old table" in items[0]["content"]


async def test_open_last_project_shows_what_changed_since(
    mcp: MCPServer, service: MemoryService, acme: str
) -> None:
    async with client(mcp) as c:
        await call(c, "get_context", project=acme)  # I was here
        bob = Actor(principal="bob", channel=Channel.REST, grants={"*": Role.ADMIN})
        service.add_memory(bob, acme, MemoryDraft(kind=Kind.DECISION, content="use uv"))
        opened = await call(c, "open_last_project")
        by_name = await call(c, "open_project", name="ACME")
    data = structured(opened)
    assert data["project"]["id"] == acme
    assert [ch["change"] for ch in data["since"]] == ["create"]
    assert "Since you were last here" in text(opened) and "bob via rest" in text(opened)
    assert structured(by_name)["project"]["id"] == acme


async def test_open_project_ambiguous_lists_candidates(
    mcp: MCPServer, service: MemoryService
) -> None:
    for pid in ("acme-api", "acme-web"):
        service.create_project(Actor.local(Channel.CLI), ProjectCreate(id=pid))
    async with client(mcp) as c:
        error = await fail(c, "open_project", name="acme")
    assert "acme-api" in error and "acme-web" in error


async def test_memsvc_errors_are_actionable_tool_errors(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        missing = await fail(c, "get_memory", project=acme, memory_id="01J00000000000000000000000")
        no_project = await fail(c, "search_memories", project="nope", query="x")
        empty = await fail(c, "search_memories", project=acme, query="   ")
        bad_kind = await fail(c, "add_memory", project=acme, kind="opinion", content="x")
        exists = await fail(c, "create_project", id=acme)
    assert "MemoryNotFound" in missing and "search_memories" in missing
    assert "no project 'nope'" in no_project and "acme" in no_project
    assert "query is empty" in empty
    assert "kind" in bad_kind
    assert "ProjectExists" in exists


async def test_list_audit_events_shows_mcp_reads(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        await call(c, "search_memories", project=acme, query="anything")
        audit = await call(c, "list_audit_events", project=acme, action="search_memories")
    events = structured(audit)["events"]
    assert events and events[0]["channel"] == "mcp" and events[0]["client"] == "mcp"


async def test_prompt_open_last_project_carries_the_context(mcp: MCPServer, acme: str) -> None:
    async with client(mcp) as c:
        await call(c, "add_memory", project=acme, kind="rule", content="always write tests")
        prompts = await c.list_prompts()
        got = await c.get_prompt("open-last-project")
    assert [p.name for p in prompts.prompts] == ["open-last-project"]
    body = got.messages[0].content.text  # type: ignore[union-attr]
    assert "always write tests" in body and "Project acme" in body
