"""What a person reads in the inspector: headings, flags in every row, nothing capped,
deleted memories shown as deleted, and an audit log that shows what agents did."""

from __future__ import annotations

from typing import Any

from memsvc import Actor, Channel, Kind, MemoryDraft, ProjectCreate
from memsvc.domain import AuditQuery
from tests.web.conftest import Inspector

Page = Any


def expect(page: Page) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(page)


def test_a_memory_without_a_title_is_headed_by_its_first_line(
    page: Page, inspector: Inspector
) -> None:
    local = Actor.local(Channel.MCP, agent="claude")
    created = inspector.service.add_memory(
        local,
        "acme-api",
        MemoryDraft(
            kind=Kind.FACT,
            content="\nStaging resets every Sunday at 03:00 UTC.\nData there is not kept.",
        ),
    ).memory
    page.goto(f"{inspector.url}/ui/#/p/acme-api?kind=fact")
    row = page.locator(f"[data-testid=memory-row][data-id='{created.id}']")
    expect(row.locator(".mem-link")).to_have_text("Staging resets every Sunday at 03:00 UTC.")
    expect(row.locator(".mem-content")).to_have_text("Data there is not kept.")
    row.locator(".mem-link").click()
    expect(page.locator("h1")).to_have_text("Staging resets every Sunday at 03:00 UTC.")
    expect(page.locator("body")).not_to_contain_text("Untitled")


def test_every_row_shows_status_and_the_pin_and_review_flags(
    page: Page, inspector: Inspector
) -> None:
    ids = inspector.seeded.ids
    page.goto(f"{inspector.url}/ui/#/p/acme-api")
    rows = page.get_by_test_id("memory-row")
    expect(rows.first).to_be_visible()
    for i in range(rows.count()):
        expect(rows.nth(i).locator(".badge.status")).to_have_text("active")
        expect(rows.nth(i).locator(".badge.kind")).to_have_count(1)
    pinned = page.locator(f"[data-testid=memory-row][data-id='{ids['rule_main']}']")
    expect(pinned).to_contain_text("pinned")
    for flagged in ("dup", "conflict"):
        row = page.locator(f"[data-testid=memory-row][data-id='{ids[flagged]}']")
        expect(row.get_by_test_id("review-flag")).to_be_visible()
    plain = page.locator(f"[data-testid=memory-row][data-id='{ids['fact_migrations']}']")
    expect(plain.get_by_test_id("review-flag")).to_have_count(0)
    page.get_by_test_id("filter-status").select_option("superseded")
    row = page.locator(f"[data-testid=memory-row][data-id='{ids['decision_queue']}']")
    expect(row.locator(".badge.status")).to_have_text("superseded")


def test_pinned_memories_are_paged_not_capped(page: Page, inspector: Inspector) -> None:
    local = Actor.local(Channel.MCP, agent="claude")
    inspector.service.create_project(Actor.local(Channel.CLI), ProjectCreate(id="pins"))
    drafts = [
        MemoryDraft(kind=Kind.FACT, content=f"Pinned fact {i:03d}: {'x' * (i % 7)} q{i * 7919}")
        for i in range(120)
    ]
    for draft in drafts:
        draft.pinned = True
    inspector.service.add_memories(local, "pins", drafts)
    page.goto(f"{inspector.url}/ui/#/p/pins")
    pinned = page.get_by_test_id("pinned-list").get_by_test_id("memory-row")
    expect(pinned).to_have_count(50)
    page.get_by_test_id("more-pinned").click()
    expect(pinned).to_have_count(100)
    page.get_by_test_id("more-pinned").click()
    expect(pinned).to_have_count(120)
    expect(page.get_by_test_id("more-pinned")).to_be_hidden()
    shown = {pinned.nth(i).get_attribute("data-id") for i in range(pinned.count())}
    assert len(shown) == 120


def test_a_deleted_memory_page_says_deleted_and_restores_it(
    page: Page, inspector: Inspector
) -> None:
    memory_id = inspector.seeded.ids["fact_rate"]
    inspector.service.delete_memory(Actor.local(Channel.CLI), "acme-api", memory_id)
    page.goto(inspector.memory_url("fact_rate"))
    expect(page.locator("h1")).to_have_text("Rate limit")
    expect(page.get_by_test_id("deleted-notice")).to_contain_text("This memory is deleted")
    expect(page.locator(".page-header .badge.status")).to_have_text("deleted")
    for action in ("edit", "pin", "delete", "archive"):
        expect(page.get_by_test_id(action)).to_have_count(0)
    expect(page.get_by_test_id("versions")).to_contain_text("delete")
    page.get_by_test_id("restore").click()
    expect(page.get_by_test_id("deleted-notice")).to_have_count(0)
    expect(page.locator(".page-header .badge.status")).not_to_have_text("deleted")
    restored = inspector.service.get_memory(Actor.local(Channel.CLI), "acme-api", memory_id)
    assert restored.status == "active"


def test_the_memory_page_loads_in_one_api_call(page: Page, inspector: Inspector) -> None:
    page.goto(f"{inspector.url}/ui/#/p/acme-api")
    expect(page.get_by_test_id("memory-row").first).to_be_visible()
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/v1/" in r.url else None)
    page.evaluate(
        "hash => { location.hash = hash; }",
        f"#/p/acme-api/m/{inspector.seeded.ids['decision_queue_v2']}",
    )
    expect(page.get_by_test_id("chain")).to_contain_text("Celery + Redis for background jobs")
    expect(page.get_by_test_id("memory-audit").locator("tbody tr").first).to_be_visible()
    assert [u.split("/api/v1")[1] for u in calls] == [
        f"/projects/acme-api/memories/{inspector.seeded.ids['decision_queue_v2']}/details"
        "?audit_hide_reads_from=web"
    ]


def test_the_audit_log_hides_the_inspectors_own_reads_until_asked(
    page: Page, inspector: Inspector
) -> None:
    page.goto(inspector.memory_url("fact_landmine"))  # web reads: details, history, audit
    page.get_by_test_id("pin").click()  # a web write
    expect(page.get_by_test_id("pin")).to_have_text("Unpin")
    page.goto(f"{inspector.url}/ui/#/p/acme-api/audit")
    table = page.get_by_test_id("audit-table")
    rows = table.locator("tbody tr:not(.event-detail)")
    expect(rows.first).to_be_visible()
    expect(page.get_by_test_id("audit-show-web-reads")).not_to_be_checked()
    texts = rows.all_inner_texts()
    web_rows = [t for t in texts if "\tweb\t" in t]
    assert web_rows and all("update_memory" in t for t in web_rows), web_rows
    local = Actor.local(Channel.CLI)
    expected = inspector.service.list_audit_events(
        local, "acme-api", AuditQuery(hide_reads_from=[Channel.WEB], limit=100)
    )
    assert len(texts) == len(expected.events)
    page.get_by_test_id("audit-show-web-reads").check()
    expect(rows.filter(has_text="get_memory").filter(has_text="web").first).to_be_visible()
    assert "web_reads=show" in page.url


def test_the_audit_log_filters_by_channel_principal_and_client(
    page: Page, inspector: Inspector
) -> None:
    page.goto(f"{inspector.url}/ui/#/p/acme-api/audit")
    table = page.get_by_test_id("audit-table")
    rows = table.locator("tbody tr:not(.event-detail)")
    expect(rows.first).to_be_visible()
    page.get_by_test_id("audit-client").fill("codex-cli")
    page.get_by_test_id("audit-filter").click()
    expect(rows.filter(has_not_text="codex-cli")).to_have_count(0)
    expect(rows.first).to_contain_text("codex-cli")
    page.get_by_test_id("audit-client").fill("")
    page.get_by_test_id("audit-channel").select_option("rest")
    page.get_by_test_id("audit-filter").click()
    expect(rows.filter(has_not_text="curl/8.5")).to_have_count(0)
    expect(rows.first).to_contain_text("rest")
    page.get_by_test_id("audit-principal").fill("nobody-here")
    page.get_by_test_id("audit-filter").click()
    expect(rows).to_have_count(0)
    expect(page.get_by_test_id("audit-status")).to_contain_text("No events match")


def test_the_audit_log_groups_events_by_who_and_a_click_narrows_to_one(
    page: Page, inspector: Inspector
) -> None:
    page.goto(f"{inspector.url}/ui/#/p/acme-api/audit")
    rows = page.get_by_test_id("audit-table").locator("tbody tr:not(.event-detail)")
    expect(rows.first).to_be_visible()
    texts = rows.all_inner_texts()
    groups = page.get_by_test_id("audit-groups")
    codex = groups.locator("[data-testid=group-client][data-value=codex-cli]")
    expect(codex.locator("b")).to_have_text(str(sum("\tcodex-cli\t" in t for t in texts)))
    expect(groups.locator("[data-testid=group-channel][data-value=mcp] b")).to_have_text(
        str(sum("\tmcp\t" in t for t in texts))
    )
    codex.click()
    expect(page.get_by_test_id("audit-client")).to_have_value("codex-cli")
    expect(rows.filter(has_not_text="codex-cli")).to_have_count(0)
    expect(groups.locator("[data-testid=group-client]")).to_have_count(1)
    assert "client=codex-cli" in page.url
