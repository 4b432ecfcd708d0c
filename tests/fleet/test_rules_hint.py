"""The "rules changed since your last context" hint: a tool result tells an agent identity
that its project's rules changed after it last loaded context, until it loads it again."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.client import Client

from mcp_server.caller import RULES_HINT
from tests.fleet.conftest import Fleet, ok
from tests.mcp_server.conftest import text

pytestmark = pytest.mark.anyio

RULE = {"kind": "rule", "content": "Amounts are integer cents, never floats.", "pinned": True}


async def call(agent: Client, tool: str, **arguments: Any) -> str:
    result = await agent.call_tool(tool, {"project": "shop", **arguments})
    assert not result.is_error, text(result)
    return text(result)


async def rest(fn: Any) -> Any:
    return await anyio.to_thread.run_sync(fn)


async def test_a_rule_pinned_over_rest_reaches_the_agents_next_result_until_it_reloads(
    fleet: Fleet,
) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "shop"}), 201)
    async with fleet.mcp_http("agent-a") as a, fleet.mcp_http("agent-b") as b:
        assert RULES_HINT not in await call(a, "get_context")
        assert RULES_HINT not in await call(a, "search_memories", query="cents")
        await rest(lambda: ok(human.post("/projects/shop/memories", json=RULE), 201))
        assert RULES_HINT in await call(a, "search_memories", query="cents")
        added = await call(a, "add_memory", kind="fact", content="The cart lives in Redis.")
        assert RULES_HINT in added  # a write is not a context load
        # b never loaded context here: nothing to compare against, no hint
        assert RULES_HINT not in await call(b, "search_memories", query="cents")
        assert RULES_HINT not in await call(a, "get_context")
        assert RULES_HINT not in await call(a, "search_memories", query="cents")


async def test_only_rule_changes_count_and_each_identity_has_its_own_mark(fleet: Fleet) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "shop"}), 201)
    async with fleet.mcp_http("agent-a") as a, fleet.mcp_http("agent-b") as b:
        await call(a, "get_context")
        fact = {"kind": "fact", "content": "Deploys happen on Tuesdays.", "pinned": True}
        await rest(lambda: ok(human.post("/projects/shop/memories", json=fact), 201))
        assert RULES_HINT not in await call(a, "search_memories", query="deploys")
        await call(b, "get_context")
        made = await rest(lambda: ok(human.post("/projects/shop/memories", json=RULE), 201))
        assert RULES_HINT in await call(b, "search_memories", query="cents")
        await call(b, "get_context")
        assert RULES_HINT not in await call(b, "search_memories", query="cents")
        assert RULES_HINT in await call(a, "search_memories", query="cents")
        await call(a, "get_context")
        # a quarantine that hides a rule is a rule change too
        body = {"principal": made["provenance"]["principal"]}
        await rest(lambda: ok(human.post("/projects/shop/quarantines", json=body), 201))
        assert RULES_HINT in await call(a, "search_memories", query="cents")
        assert RULES_HINT in await call(b, "search_memories", query="cents")


def test_a_rest_agent_sees_rules_changed_on_its_search_results(fleet: Fleet) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "shop"}), 201)
    agent = fleet.rest(agent="script-bot")

    def stale() -> bool:
        found = ok(agent.post("/projects/shop/search", json={"query": "cents"}))
        return bool(found["rules_changed"])

    ok(agent.post("/projects/shop/context", json={}))
    assert not stale()
    ok(human.post("/projects/shop/memories", json=RULE), 201)
    assert stale()
    assert not ok(human.post("/projects/shop/search", json={"query": "cents"}))["rules_changed"]
    ok(agent.post("/projects/shop/context", json={}))
    assert not stale()
