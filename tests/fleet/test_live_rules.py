"""Live rules: a project's rules and newest handoff are MCP resources, and a subscribed
session hears ``resources/updated`` when a human pins a rule over REST."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import Implementation, ResourceUpdatedNotification

from mcp_server import create_mcp_server
from mcp_server.resources import resource_uri
from memsvc import Actor, Channel, MemoryDraft, MemoryService, ProjectCreate, build_service
from memsvc.domain import Kind, QuarantineCreate
from tests.conftest import make_settings
from tests.fleet.conftest import Fleet, ok

pytestmark = pytest.mark.anyio

RULE = {"kind": "rule", "content": "Amounts are integer cents, never floats.", "pinned": True}


async def test_a_listening_session_hears_a_rule_pinned_over_rest(fleet: Fleet) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "shop"}), 201)
    uri = resource_uri("shop", "rules")
    async with fleet.mcp_http("claude-code") as agent:
        before = await agent.read_resource(uri)
        assert "no active rules" in before.contents[0].text  # type: ignore[union-attr]
        async with agent.listen(resource_subscriptions=[uri]) as sub:
            made = await anyio.to_thread.run_sync(
                lambda: ok(human.post("/projects/shop/memories", json=RULE), 201)
            )
            with anyio.fail_after(20):
                event = await sub.__anext__()
        assert getattr(event, "uri", None) == uri
        after = await agent.read_resource(uri)
    body = after.contents[0].text  # type: ignore[union-attr]
    assert made["id"] in body and "integer cents" in body


async def test_a_legacy_subscriber_hears_quarantine_and_not_other_projects(
    service: MemoryService, settings: Any
) -> None:
    admin = Actor.local(Channel.REST)
    for pid in ("shop", "blog"):
        service.create_project(admin, ProjectCreate(id=pid))
    heard: list[str] = []
    got = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))
            got.set()

    server = create_mcp_server(service, settings)
    uri = resource_uri("shop", "rules")
    async with Client(
        server,
        mode="legacy",
        message_handler=on_message,
        client_info=Implementation(name="cursor", version="1"),
    ) as agent:
        with pytest.warns(MCPDeprecationWarning):  # the SDK marks the 2025-era method
            await agent.subscribe_resource(uri)
        bot = Actor.local(Channel.REST, agent="bot")
        await anyio.to_thread.run_sync(
            lambda: service.add_memory(bot, "blog", MemoryDraft(kind=Kind.RULE, content="x"))
        )
        await anyio.to_thread.run_sync(
            lambda: service.add_memory(bot, "shop", MemoryDraft(kind=Kind.RULE, content="cents"))
        )
        with anyio.fail_after(20):
            await got.wait()
        got = anyio.Event()
        await anyio.to_thread.run_sync(
            lambda: service.quarantine_memories(admin, "shop", QuarantineCreate(agent="bot"))
        )
        with anyio.fail_after(20):
            await got.wait()
        rules = await agent.read_resource(uri)
    assert heard == [uri, uri]
    assert "no active rules" in rules.contents[0].text  # type: ignore[union-attr]


def test_a_rule_written_by_another_process_reaches_this_process_listeners(
    tmp_path: Path,
) -> None:
    """Two services on one database stand for two processes (an inspector's ``serve`` and
    an agent's ``memsvc mcp``): B's listeners hear A's rule from B's rules watch, and B's
    own rule once, not again from the watch."""
    admin = Actor.local(Channel.REST)
    watching = make_settings(
        tmp_path / "d", background=True, rules_watch_interval_s=0.05, maintenance_interval_s=3600
    )
    with build_service(make_settings(tmp_path / "d")) as a, build_service(watching) as b:
        a.create_project(admin, ProjectCreate(id="shop"))
        heard: list[tuple[str, str]] = []
        got = threading.Event()

        def listener(project: str, what: str) -> None:
            heard.append((project, what))
            got.set()

        b.on_memory_changes(listener)
        a.add_memory(admin, "shop", MemoryDraft(kind=Kind.FACT, content="The shop sells tea."))
        time.sleep(0.3)
        assert heard == []  # a fact is no rules change
        a.add_memory(admin, "shop", MemoryDraft(kind=Kind.RULE, content="Amounts are cents."))
        assert got.wait(10)
        assert heard == [("shop", "rules")]
        heard.clear()
        b.add_memory(admin, "shop", MemoryDraft(kind=Kind.RULE, content="Never log card data."))
        time.sleep(0.3)  # several rounds of the watch
        assert heard == [("shop", "rules")]
