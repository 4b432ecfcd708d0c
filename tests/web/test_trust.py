"""Trust buttons in Chromium: quarantine an agent from the fleet dashboard or a memory's
provenance, restore it or delete what it hides, change the review policy, settle proposals
in the review queue, and search with a ``min_relevance``. Each click's effect is checked
through REST, never through the page alone."""

from __future__ import annotations

from typing import Any

import httpx

from memsvc import Kind, MemoryDraft
from tests.web.conftest import Inspector
from tests.web.test_dashboard import CLAUDE, fleet, fleet_page  # noqa: F401 (fixtures)


def rest(inspector: Inspector) -> httpx.Client:
    return httpx.Client(base_url=inspector.url + "/api/v1", timeout=30)


def found(client: httpx.Client, pid: str, query: str) -> set[str]:
    body = {"query": query, "min_relevance": 0, "limit": 50}
    r = client.post(f"/projects/{pid}/search", json=body)
    assert r.status_code == 200, r.text
    return {h["memory"]["id"] for h in r.json()["hits"]}


def written_by(client: httpx.Client, pid: str, agent: str) -> list[str]:
    params: dict[str, Any] = {"status": ["active", "proposed", "quarantined"], "limit": 500}
    listed = client.get(f"/projects/{pid}/memories", params=params).json()["memories"]
    return [m["id"] for m in listed if m["provenance"].get("agent") == agent]


def test_quarantine_from_the_dashboard_hides_the_agent_and_restore_brings_it_back(
    fleet: Inspector,  # noqa: F811
    fleet_page: Any,  # noqa: F811
) -> None:
    page = fleet_page
    with rest(fleet) as client:
        claude = written_by(client, "alpha", "claude")
        assert len(claude) == 2
        staging = next(i for i in claude if i in found(client, "alpha", "staging database"))
        page.goto(f"{fleet.url}/ui/#/fleet")
        alpha = page.locator('[data-testid="fleet-project"][data-project="alpha"]')
        row = alpha.locator('[data-testid="fleet-agent"][data-agent="claude"]')
        row.get_by_test_id("quarantine-agent").click()
        dialog = page.get_by_test_id("quarantine-dialog")
        assert dialog.get_by_test_id("quarantine-value").input_value() == "claude"
        dialog.get_by_test_id("quarantine-reason").fill("prompt injection suspected")
        dialog.get_by_test_id("quarantine-confirm").click()
        row = page.locator(
            '[data-testid="fleet-project"][data-project="alpha"] [data-agent="claude"]'
        )
        row.get_by_test_id("agent-quarantined").wait_for()
        assert staging not in found(client, "alpha", "staging database")
        [q] = client.get("/projects/alpha/quarantines").json()["quarantines"]
        assert (q["field"], q["value"], q["reason"]) == (
            "agent",
            "claude",
            "prompt injection suspected",
        )
        assert sorted(q["memory_ids"]) == sorted(claude)

        page.locator('[data-project="alpha"]').get_by_test_id("fleet-trust-link").click()
        item = page.locator(f'[data-testid="quarantine-item"][data-id="{q["id"]}"]')
        item.get_by_test_id("quarantine-restore").click()
        page.locator(
            f'[data-testid="quarantine-item"][data-id="{q["id"]}"][data-state="restored"]'
        ).wait_for()
        assert staging in found(client, "alpha", "staging database")
        [after] = client.get("/projects/alpha/quarantines").json()["quarantines"]
        assert after["restored_at"] is not None


def test_delete_the_quarantined_memories_from_the_dashboard(
    fleet: Inspector,  # noqa: F811
    fleet_page: Any,  # noqa: F811
) -> None:
    page = fleet_page
    with rest(fleet) as client:
        codex = written_by(client, "beta", "codex")
        assert len(codex) == 2
        page.goto(f"{fleet.url}/ui/#/fleet")
        beta = page.locator('[data-testid="fleet-project"][data-project="beta"]')
        beta.get_by_test_id("fleet-quarantine").get_by_test_id("quarantine-delete").click()
        page.get_by_test_id("confirm-dialog").get_by_test_id("confirm").click()
        page.locator(
            '[data-project="beta"] [data-testid="fleet-quarantines"]:text-is("0")'
        ).wait_for()
        [q] = client.get("/projects/beta/quarantines").json()["quarantines"]
        assert q["deleted_at"] is not None and q["deleted_by"]
        for memory_id in codex:
            assert client.get(f"/projects/beta/memories/{memory_id}").status_code == 404
        assert written_by(client, "beta", "codex") == []


def test_quarantine_a_principal_from_a_memorys_provenance(
    fleet: Inspector,  # noqa: F811
    fleet_page: Any,  # noqa: F811
) -> None:
    page = fleet_page
    with rest(fleet) as client:
        [pref] = written_by(client, "alpha", "codex")
        assert pref in found(client, "alpha", "small pull requests")
        page.goto(f"{fleet.url}/ui/#/p/alpha/m/{pref}")
        page.get_by_test_id("provenance-quarantine").get_by_test_id("quarantine-principal").click()
        dialog = page.get_by_test_id("quarantine-dialog")
        assert dialog.get_by_test_id("quarantine-value").input_value() == "bob"
        dialog.get_by_test_id("quarantine-confirm").click()
        page.locator(".page-header .status-quarantined").wait_for()
        assert client.get(f"/projects/alpha/memories/{pref}").json()["status"] == "quarantined"
        assert pref not in found(client, "alpha", "small pull requests")


def test_the_review_policy_is_shown_and_changed_in_the_inspector(
    fleet: Inspector,  # noqa: F811
    fleet_page: Any,  # noqa: F811
) -> None:
    page = fleet_page
    with rest(fleet) as client:
        before = client.get("/projects/alpha/review-policy").json()
        page.goto(f"{fleet.url}/ui/#/p/alpha/trust")
        rule = page.get_by_test_id("policy-rule")
        rule.first.wait_for()
        assert rule.count() == len(before["propose"]) == 1
        kinds = rule.get_by_test_id("policy-kinds")
        checked = kinds.locator("input:checked").evaluate_all("xs => xs.map(x => x.value)")
        assert sorted(checked) == sorted(before["propose"][0]["kinds"])
        kinds.locator('input[value="fact"]').check()
        page.get_by_test_id("policy-save").click()
        page.locator('.toast:has-text("Review policy saved")').wait_for()
        after = client.get("/projects/alpha/review-policy").json()
        assert sorted(after["propose"][0]["kinds"]) == sorted([*checked, "fact"])
        assert after["propose"][0]["channels"] == before["propose"][0]["channels"]
        draft = MemoryDraft(kind=Kind.FACT, content="The CDN is Fastly.")
        made = fleet.service.add_memory(CLAUDE, "alpha", draft).memory
        assert client.get(f"/projects/alpha/memories/{made.id}").json()["status"] == "proposed"
        events = client.get("/projects/alpha/audit", params={"limit": 100}).json()["events"]
        saved = [e for e in events if e["action"] == "set_review_policy"]
        assert [(e["outcome"], e["channel"]) for e in saved] == [("ok", "web")]


def test_proposals_are_approved_edited_or_rejected_in_the_review_queue(
    fleet: Inspector,  # noqa: F811
    fleet_page: Any,  # noqa: F811
) -> None:
    page = fleet_page
    svc = fleet.service
    edited = svc.add_memory(CLAUDE, "alpha", MemoryDraft(kind=Kind.DECISION, content="Use gRPC."))
    dropped = svc.add_memory(CLAUDE, "alpha", MemoryDraft(kind=Kind.RULE, content="No tests."))
    with rest(fleet) as client:
        params = {"status": "proposed", "kind": "rule", "limit": 50}
        listed = client.get("/projects/alpha/memories", params=params).json()["memories"]
        [rule] = [m["id"] for m in listed if m["content"].startswith("Never deploy")]
        page.goto(f"{fleet.url}/ui/#/p/alpha/review")
        card = page.locator(f'[data-testid="review-item"][data-id="{rule}"]')
        assert card.get_attribute("data-reason") == "proposed"
        card.get_by_test_id("approve").click()
        card.wait_for(state="detached")
        assert client.get(f"/projects/alpha/memories/{rule}").json()["status"] == "active"

        card = page.locator(f'[data-testid="review-item"][data-id="{edited.memory.id}"]')
        card.get_by_test_id("edit-approve").click()
        dialog = page.get_by_test_id("proposal-dialog")
        dialog.get_by_test_id("proposal-content").fill("Use gRPC between internal services.")
        dialog.get_by_test_id("proposal-save").click()
        card.wait_for(state="detached")
        got = client.get(f"/projects/alpha/memories/{edited.memory.id}").json()
        assert (got["status"], got["content"]) == ("active", "Use gRPC between internal services.")

        card = page.locator(f'[data-testid="review-item"][data-id="{dropped.memory.id}"]')
        card.get_by_test_id("reject").click()
        page.get_by_test_id("confirm-dialog").get_by_test_id("confirm").click()
        card.wait_for(state="detached")
        assert client.get(f"/projects/alpha/memories/{dropped.memory.id}").status_code == 404


def test_search_has_a_min_relevance_control_and_says_plainly_when_nothing_is_relevant(
    fleet: Inspector,  # noqa: F811
    fleet_page: Any,  # noqa: F811
) -> None:
    page = fleet_page
    query = "quantum zebra violin"
    with rest(fleet) as client:
        default = client.get("/meta").json()["min_relevance"]
        strict = client.post("/projects/alpha/search", json={"query": query, "min_relevance": 1})
        assert strict.json()["hits"] == [] and strict.json()["hint"]
        everything = found(client, "alpha", query)
        assert everything  # with min_relevance 0 something is always ranked
    page.goto(f"{fleet.url}/ui/#/p/alpha")
    control = page.get_by_test_id("min-relevance")
    assert float(control.input_value()) == default
    control.fill("1")
    page.get_by_test_id("search-input").fill(query)
    page.get_by_test_id("search-button").click()
    hint = page.get_by_test_id("search-hint")
    assert hint.inner_text() == strict.json()["hint"]
    page.get_by_test_id("show-weak").click()
    page.get_by_test_id("memory-row").first.wait_for()
    assert control.input_value() == "0"
    shown = page.get_by_test_id("memory-row").evaluate_all("xs => xs.map(x => x.dataset.id)")
    assert set(shown) == everything
