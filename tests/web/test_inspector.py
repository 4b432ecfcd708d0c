"""The inspector in a real browser: what a curator sees and does, and what must never run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request

from memsvc import Actor, Channel, MemoryDraft, Role, Status
from memsvc.api.web import CSP
from memsvc.errors import Unauthenticated
from tests.web.conftest import Inspector, open_page, serve

Page = Any


def expect(page: Page) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(page)


def test_browse_projects_then_project_then_memory(page: Page, inspector: Inspector) -> None:
    response = page.goto(inspector.url + "/ui/")
    assert response.headers["content-security-policy"] == CSP
    cards = page.get_by_test_id("project-card")
    expect(cards).to_have_count(3)
    expect(cards.first).to_contain_text("Acme API")  # most recently active first
    expect(cards.first).to_contain_text("/src/acme-api")
    cards.first.click()
    expect(page.locator("h1")).to_have_text("Acme API")
    first_row = page.get_by_test_id("memory-row").first
    expect(first_row).to_contain_text("No direct commits to main")  # pinned first
    expect(first_row).to_contain_text("pinned")
    page.get_by_test_id("tab-fact").click()
    expect(page.get_by_test_id("memory-row")).to_have_count(3)
    page.get_by_role("link", name="Where migrations live").click()
    expect(page.get_by_test_id("memory-content")).to_have_text(
        "Migrations live in migrations/versions and run with alembic upgrade head on deploy."
    )
    expect(page.get_by_text("claude-code 1.4.2")).to_be_visible()
    expect(page.get_by_test_id("prov-principal")).to_have_text("local")


def test_search_ranks_and_shows_score_parts(page: Page, inspector: Inspector) -> None:
    page.goto(f"{inspector.url}/ui/#/p/acme-api")
    page.get_by_test_id("search-input").fill("PostgreSQL datastore")
    page.get_by_test_id("search-button").click()
    top = page.get_by_test_id("memory-row").first
    expect(top).to_contain_text("PostgreSQL as primary datastore")
    expect(top.get_by_test_id("score-parts")).to_be_hidden()
    top.get_by_test_id("why").click()
    parts = top.get_by_test_id("score-parts")
    expect(parts).to_be_visible()
    expect(parts).to_contain_text("semantic similarity")
    expect(parts).to_contain_text("final score")


def test_edit_a_fact_makes_a_new_version_with_a_diff(page: Page, inspector: Inspector) -> None:
    page.goto(inspector.memory_url("fact_landmine"))
    expect(page.get_by_test_id("version")).to_have_text("v1")
    page.get_by_test_id("edit").click()
    content = page.get_by_test_id("field-content")
    content.fill(
        "The orders table has a trigger that rewrites updated_at and version; never set them."
    )
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("version")).to_have_text("v2")
    diff = page.get_by_test_id("diff")
    expect(diff.locator("ins").first).to_be_visible()
    added = "".join(diff.locator("ins").all_inner_texts())
    removed = "".join(diff.locator("del").all_inner_texts())
    assert "and version;" in added and "never" in added and "them." in added
    assert "do not" in removed and "by hand." in removed
    assert "The orders table has a trigger" not in added + removed
    svc, ids = inspector.service, inspector.seeded.ids
    history = svc.memory_history(Actor.local(Channel.REST), "acme-api", ids["fact_landmine"])
    assert [v.change for v in history] == ["create", "update"]
    assert history[-1].changed_by.channel == Channel.WEB


def test_pin_and_unpin(page: Page, inspector: Inspector) -> None:
    page.goto(inspector.memory_url("fact_rate"))
    page.get_by_test_id("pin").click()
    expect(page.get_by_test_id("pin")).to_have_text("Unpin")
    local = Actor.local(Channel.REST)
    assert inspector.service.get_memory(local, "acme-api", inspector.seeded.ids["fact_rate"]).pinned
    page.get_by_role("link", name="Acme API").click()
    pinned = page.get_by_test_id("memory-row").filter(has_text="pinned")
    expect(pinned).to_have_count(2)
    page.goto(inspector.memory_url("fact_rate"))
    page.get_by_test_id("pin").click()
    expect(page.get_by_test_id("pin")).to_have_text("Pin")


def test_supersede_a_decision(page: Page, inspector: Inspector) -> None:
    page.goto(inspector.memory_url("decision_db"))
    page.get_by_test_id("supersede").click()
    page.get_by_test_id("field-content").fill(
        "Use PostgreSQL 17 as the primary datastore; upgraded for incremental backups."
    )
    page.get_by_test_id("field-title").fill("PostgreSQL 17 as primary datastore")
    page.get_by_test_id("save").click()
    expect(page.locator("h1")).to_have_text("PostgreSQL 17 as primary datastore")
    chain = page.get_by_test_id("chain")
    expect(chain).to_contain_text("PostgreSQL as primary datastore")
    expect(chain).to_contain_text("superseded")
    old = inspector.service.get_memory(
        Actor.local(Channel.REST), "acme-api", inspector.seeded.ids["decision_db"]
    )
    assert old.status == Status.SUPERSEDED and old.superseded_by is not None


def test_delete_asks_for_confirmation(page: Page, inspector: Inspector) -> None:
    page.goto(inspector.memory_url("pref_types"))
    page.get_by_test_id("delete").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Delete this preference?")
    expect(dialog).to_contain_text("mypy --strict")
    dialog.get_by_test_id("cancel").click()
    memory_id = inspector.seeded.ids["pref_types"]
    local = Actor.local(Channel.REST)
    assert inspector.service.get_memory(local, "acme-api", memory_id).status == Status.ACTIVE
    page.get_by_test_id("delete").click()
    page.locator("dialog[open]").get_by_test_id("confirm").click()
    expect(page.locator("h1")).to_have_text("Acme API")
    versions = inspector.service.memory_history(local, "acme-api", memory_id)
    assert versions[-1].memory.status == Status.DELETED
    assert versions[-1].changed_by.channel == Channel.WEB


def test_resolve_a_review_queue_item(page: Page, inspector: Inspector) -> None:
    page.goto(f"{inspector.url}/ui/#/p/acme-api")
    page.get_by_test_id("review-link").click()
    items = page.get_by_test_id("review-item")
    expect(items).to_have_count(2)
    dup = items.filter(has_text="Possible duplicate")
    expect(dup).to_contain_text("fixtures over setUp!")
    expect(dup).to_contain_text("fixtures over setUp.")
    dup.get_by_test_id("resolve-merge").click()
    page.locator("dialog[open]").get_by_test_id("confirm").click()
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Possible conflict")
    local = Actor.local(Channel.REST)
    queue = inspector.service.list_review_queue(local, "acme-api").items
    assert [i.memory.id for i in queue] == [inspector.seeded.ids["conflict"]]


def test_a_memory_shows_the_audit_events_that_touched_it(page: Page, inspector: Inspector) -> None:
    page.goto(inspector.memory_url("fact_rate"))
    audit = page.get_by_test_id("memory-audit")
    expect(audit.locator("tbody tr").first).to_be_visible()
    expect(audit).to_contain_text("update_memory")
    expect(audit).to_contain_text("add_memory")
    rows = audit.locator("tbody tr")
    assert any("\tmcp\t" in t for t in rows.all_inner_texts())
    assert not any("\tweb\t" in t for t in rows.all_inner_texts())  # the inspector's reads
    page.get_by_test_id("memory-audit-show-web-reads").check()
    expect(rows.filter(has_text="get_memory").filter(has_text="web").first).to_be_visible()


def test_audit_log_filters_by_action(page: Page, inspector: Inspector) -> None:
    page.goto(f"{inspector.url}/ui/#/p/acme-api/audit")
    table = page.get_by_test_id("audit-table")
    expect(table).to_contain_text("add_memory")
    page.get_by_test_id("audit-action").select_option("supersede_memory")
    page.get_by_test_id("audit-filter").click()
    expect(table.locator("tbody tr:not(.event-detail)")).to_have_count(1)
    expect(table).to_contain_text("supersede_memory")


def test_export_downloads_memories_and_audit(page: Page, inspector: Inspector) -> None:
    page.goto(f"{inspector.url}/ui/#/p/acme-api")
    with page.expect_download() as info:
        page.get_by_test_id("export").click()
    download = info.value
    assert re.match(r"memsvc-acme-api-\d{8}T\d{6}Z\.json", download.suggested_filename)
    data = Path(download.path()).read_text()
    assert '"memories"' in data and '"audit"' in data


HOSTILE = [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "<script>window.__pwned=2;alert(2)</script>",
    '"><svg onload=alert(3)>',
    "javascript:alert(4)",
]


def test_hostile_memory_text_stays_inert(page: Page, inspector: Inspector) -> None:
    local = Actor.local(Channel.MCP)
    created = inspector.service.add_memory(
        local,
        "acme-api",
        MemoryDraft(
            kind="fact",  # type: ignore[arg-type]
            content="\n".join(HOSTILE),
            title='<b onmouseover="alert(5)">hostile</b>',
            tags=["<i>x</i>"],
        ),
    ).memory
    page.goto(f"{inspector.url}/ui/#/p/acme-api")
    row = page.get_by_test_id("memory-row").filter(has_text="hostile")
    expect(row).to_contain_text('<b onmouseover="alert(5)">hostile</b>')
    row.hover()
    page.goto(f"{inspector.url}/ui/#/p/acme-api/m/{created.id}")
    expect(page.get_by_test_id("memory-content")).to_have_text("\n".join(HOSTILE))
    page.goto(f"{inspector.url}/ui/#/p/acme-api?q=pwned")
    expect(page.get_by_test_id("memory-row").first).to_contain_text("hostile")
    page.goto(f"{inspector.url}/ui/#/p/acme-api/audit")
    expect(page.get_by_test_id("audit-table")).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x], script:not([src]), svg[onload], b[onmouseover]").count() == 0
    assert inspector.dialogs == []


def test_inner_html_is_blocked_by_trusted_types(page: Page, inspector: Inspector) -> None:
    page.goto(inspector.url + "/ui/")
    expect(page.get_by_test_id("project-card").first).to_be_visible()
    refused = page.evaluate(
        """() => { try { document.body.innerHTML = '<img src=x>'; return false; }
                   catch (e) { return e instanceof TypeError; } }"""
    )
    assert refused
    inspector.errors.clear()  # the refused assignment is reported as a CSP violation


def test_a_cross_origin_post_is_refused(page: Page, inspector: Inspector) -> None:
    target = f"{inspector.url}/api/v1/projects/acme-api/memories"
    evil = f"""<!doctype html><form method="post" action="{target}">
      <input name="kind" value="fact"><input name="content" value="planted by evil">
    </form><script>
      fetch("{target}", {{method: "POST", mode: "no-cors",
        body: '{{"kind":"fact","content":"planted by fetch"}}',
        headers: {{"Content-Type": "text/plain"}}}}).finally(() => document.forms[0].submit());
    </script>"""
    page.route(
        "https://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=evil),
    )
    with page.expect_response(target) as info:
        page.goto("https://evil.example/attack")
    assert info.value.status == 403  # the fetch: foreign Origin
    page.wait_for_url(target)  # the form posted and the browser shows the refusal
    expect(page.locator("body")).to_contain_text("OriginNotAllowed")
    local = Actor.local(Channel.REST)
    contents = [
        m.content for m in inspector.service.list_memories(local, "acme-api", limit=500).memories
    ]
    assert not [c for c in contents if "planted" in c]
    inspector.errors.clear()  # the refused requests are logged as failed loads


def test_no_framing_by_other_sites(inspector: Inspector) -> None:
    r = httpx.get(inspector.url + "/ui/")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def _token_auth(request: Request, channel: Channel) -> Actor:
    tokens = {"Bearer reader-token": Role.READER}
    role = tokens.get(request.headers.get("authorization", ""))
    if role is None:
        raise Unauthenticated("a token is required; pass Authorization: Bearer <token>")
    return Actor(principal="rita", channel=channel, grants={"*": role})


@pytest.fixture
def token_inspector(tmp_path: Path) -> Iterator[Inspector]:
    yield from serve(tmp_path, authenticate=_token_auth)


def test_a_reader_enters_a_token_and_sees_no_edit_buttons(
    browser: Any, token_inspector: Inspector
) -> None:
    for page in open_page(browser, token_inspector):
        page.goto(token_inspector.url + "/ui/")
        dialog = page.locator("dialog[open]")
        expect(dialog).to_contain_text("needs an access token")
        dialog.get_by_label("Access token").fill("reader-token")
        dialog.get_by_role("button", name="Use token").click()
        expect(page.get_by_test_id("principal")).to_have_text("rita")
        expect(page.get_by_test_id("new-project")).to_have_count(0)
        page.goto(token_inspector.memory_url("fact_rate"))
        expect(page.get_by_test_id("memory-content")).to_be_visible()
        for action in ("edit", "pin", "delete", "archive", "new-memory"):
            expect(page.get_by_test_id(action)).to_have_count(0)
        assert page.evaluate("sessionStorage.getItem('memsvc.token')") == "reader-token"
        token_inspector.errors.clear()  # the first, tokenless calls failed with 401
