"""The fleet dashboard in Chromium against a live server over a seeded fleet: two agent
identities of two principals in two projects, a proposed rule and a quarantined agent.
Every number on the page is checked against the other REST endpoints (stats, quarantines,
audit log, memories), never against constants."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request

from memsvc import Actor, Channel, Kind, MemoryDraft, MemoryService, ProjectCreate, build_service
from memsvc.api import create_app
from memsvc.domain import READ_ACTIONS, ContextRequest, QuarantineCreate, Role
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import LiveServer, free_port, make_settings
from tests.web.conftest import Inspector, open_page
from tests.web.seed import Seeded

PROJECTS = ("alpha", "beta")
CLAUDE = Actor(
    principal="alice", channel=Channel.MCP, grants={"*": Role.WRITER}, agent="claude",
    client="claude-code",
)  # fmt: skip
CODEX = Actor(
    principal="bob", channel=Channel.MCP, grants={"*": Role.WRITER}, agent="codex",
    client="codex-cli",
)  # fmt: skip
FLEET_READS = READ_ACTIONS


def seed_fleet(service: MemoryService) -> None:
    """Two projects; claude proposes a rule (MCP rules wait for review by default) and
    writes facts in both; codex writes in both and is then quarantined in beta."""
    admin = Actor.local(Channel.CLI)
    for pid in PROJECTS:
        service.create_project(admin, ProjectCreate(id=pid, name=pid.title()))

    def add(actor: Actor, pid: str, kind: Kind, text: str) -> None:
        service.add_memory(actor, pid, MemoryDraft(kind=kind, content=text))

    add(CLAUDE, "alpha", Kind.RULE, "Never deploy on a Friday afternoon.")
    add(CLAUDE, "alpha", Kind.FACT, "The staging database is rebuilt every night.")
    add(CLAUDE, "beta", Kind.FACT, "The beta service listens on port 8081.")
    add(CODEX, "alpha", Kind.PREFERENCE, "Prefer small pull requests.")
    add(CODEX, "beta", Kind.FACT, "Beta's queue is RabbitMQ.")
    add(CODEX, "beta", Kind.FACT, "Beta's cache is Redis with a one hour TTL.")
    service.get_context(CLAUDE, "alpha", ContextRequest(task="deploy"))
    service.quarantine_memories(
        admin, "beta", QuarantineCreate(agent="codex", reason="wrote from a leaked branch")
    )


def _serve(tmp_path: Path, authenticate: Any = None) -> Iterator[Inspector]:
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        seed_fleet(svc)
        app = create_app(svc, settings, authenticate=authenticate)
        with LiveServer(app, port) as server:
            yield Inspector(server.url, svc, Seeded(project="alpha"))


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Inspector]:
    yield from _serve(tmp_path)


@pytest.fixture
def fleet_page(browser: Any, fleet: Inspector) -> Iterator[Any]:
    yield from open_page(browser, fleet)


def _audit_totals(client: httpx.Client, pid: str) -> tuple[int, int]:
    """Successful reads and writes in the project's audit log, as the audit API lists them."""
    events = client.get(f"/api/v1/projects/{pid}/audit", params={"limit": 1000}).json()["events"]
    ok = [e for e in events if e["outcome"] == "ok"]
    reads = sum(1 for e in ok if e["action"] in FLEET_READS)
    return reads, len(ok) - reads


def _identity(prov: dict[str, Any]) -> str:
    return str(prov.get("agent") or (prov.get("client") if prov["channel"] == "mcp" else "") or "")


def test_fleet_dashboard_numbers_match_the_api_for_a_seeded_fleet(
    fleet: Inspector, fleet_page: Any
) -> None:
    page = fleet_page
    with httpx.Client(base_url=fleet.url) as client:
        # Listing the audit log is itself one read of that project, recorded after it
        # answers: the dashboard (loaded next) counts it too.
        totals = {pid: _audit_totals(client, pid) for pid in PROJECTS}
        page.goto(f"{fleet.url}/ui/#/fleet")
        panels = page.get_by_test_id("fleet-project")
        panels.first.wait_for()
        assert panels.count() == 2
        for pid in PROJECTS:
            panel = page.locator(f'[data-testid="fleet-project"][data-project="{pid}"]')
            reads, writes = totals[pid]
            assert panel.get_by_test_id("fleet-reads").inner_text() == str(reads + 1)
            assert panel.get_by_test_id("fleet-writes").inner_text() == str(writes)
            bars = panel.locator("rect.chart-writes")
            assert sum(int(v) for v in bars.evaluate_all("rs => rs.map(r => r.dataset.value)")) == (
                writes
            )
            stats = client.get(f"/api/v1/projects/{pid}/stats").json()
            assert panel.get_by_test_id("fleet-review").inner_text() == str(stats["review"])
            proposed = sum(stats["counts"].get("proposed", {}).values())
            assert panel.get_by_test_id("fleet-proposed").inner_text() == str(proposed)
            for status, by_kind in stats["counts"].items():
                for kind, n in by_kind.items():
                    cell = panel.locator(f'tr[data-status="{status}"] td[data-kind="{kind}"]')
                    assert cell.inner_text() == str(n), (pid, status, kind)
            held = client.get(f"/api/v1/projects/{pid}/quarantines").json()["quarantines"]
            open_ = [q for q in held if q["restored_at"] is None]
            assert panel.get_by_test_id("fleet-quarantines").inner_text() == str(len(open_))
            listed = client.get(
                f"/api/v1/projects/{pid}/memories",
                params={"status": ["active", "proposed", "quarantined"], "limit": 500},
            ).json()["memories"]
            by_agent = Counter((m["provenance"]["principal"], _identity(m["provenance"]))
                               for m in listed)  # fmt: skip
            # Every identity seen working is listed (the admin who created the project too,
            # with no memories); every writer of a memory is among them.
            rows = panel.get_by_test_id("fleet-agent")
            seen = set()
            for i in range(rows.count()):
                row = rows.nth(i)
                key = (row.get_attribute("data-principal"), row.get_attribute("data-agent"))
                seen.add(key)
                memories = row.get_by_test_id("agent-memories").inner_text()
                assert memories == str(by_agent.get(key, 0)), (pid, key)
                quarantined = any(q["field"] == "agent" and q["value"] == key[1] for q in open_)
                assert (row.get_by_test_id("agent-quarantined").count() == 1) is quarantined
            assert set(by_agent) <= seen
    beta = page.locator('[data-testid="fleet-project"][data-project="beta"]')
    assert beta.get_by_test_id("fleet-quarantine").inner_text().count("codex") == 1
    alpha = page.locator('[data-testid="fleet-project"][data-project="alpha"]')
    assert alpha.get_by_test_id("fleet-proposed").inner_text() == "1"


def test_clicking_an_agent_leads_to_its_memories_and_audit_trail(
    fleet: Inspector, fleet_page: Any
) -> None:
    page = fleet_page
    page.goto(f"{fleet.url}/ui/#/")
    page.get_by_test_id("fleet-home").click()
    beta = page.locator('[data-testid="fleet-project"][data-project="beta"]')
    beta.locator('[data-testid="fleet-agent"][data-agent="codex"]').get_by_test_id(
        "agent-link"
    ).click()
    page.wait_for_url("**/p/beta/agent?**")
    rows = page.get_by_test_id("memory-row")
    page.get_by_test_id("agent-memory-count").wait_for()
    assert rows.count() == 2
    texts = " ".join(rows.all_inner_texts())
    assert "RabbitMQ" in texts and "Redis" in texts and "8081" not in texts
    page.get_by_test_id("agent-audit").click()
    page.wait_for_url("**/p/beta/audit?principal=bob")
    page.locator("tbody tr td:nth-child(3)").first.wait_for()
    principals = set(page.locator("tbody tr td:nth-child(3)").all_inner_texts())
    assert principals == {"bob"}


def _reader_of_alpha(request: Request, channel: Channel) -> Actor:
    return Actor(principal="carol", channel=channel, grants={"alpha": Role.READER})


def test_fleet_dashboard_never_shows_projects_the_caller_may_not_read(
    browser: Any, tmp_path: Path
) -> None:
    for inspector in _serve(tmp_path, authenticate=_reader_of_alpha):
        with httpx.Client(base_url=inspector.url) as client:
            body = client.get("/api/v1/fleet/dashboard").json()
        assert [p["project"] for p in body["projects"]] == ["alpha"]
        for page in open_page(browser, inspector):
            page.goto(f"{inspector.url}/ui/#/fleet")
            page.get_by_test_id("fleet-project").first.wait_for()
            assert page.get_by_test_id("fleet-project").count() == 1
            assert page.locator('[data-project="beta"]').count() == 0
            assert "beta" not in page.locator("main").inner_text().lower()


def test_fleet_dashboard_call_leaves_one_audit_event(fleet: Inspector) -> None:
    with httpx.Client(base_url=fleet.url) as client:
        assert client.get("/api/v1/fleet/dashboard", params={"days": 3}).status_code == 200
        bad = client.get("/api/v1/fleet/dashboard", params={"days": 0})
    assert bad.status_code == 422 and "Traceback" not in bad.text
    # The event has no project, so no project's audit API lists it: read the ledger table.
    url = fleet.service.settings.sqlalchemy_url
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        rows = db.execute(
            "SELECT outcome, detail FROM audit_event WHERE action = 'fleet_dashboard' ORDER BY seq"
        ).fetchall()
    details = [json.loads(d) for _o, d in rows]
    assert [(o, d.get("days")) for (o, _), d in zip(rows, details, strict=True)] == [
        ("ok", 3),
        ("error", 0),
    ]
    assert set(details[0]["projects"]) == {"alpha", "beta"}
