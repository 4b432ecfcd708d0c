"""Stale-view safety in a real browser against a throttled API: a page the user left can
neither render over the next one nor act on its memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from memsvc import Actor, Channel, Status
from memsvc.errors import MemoryNotFound
from tests.web.conftest import Inspector, open_page, serve

Page = Any


def expect(page: Page) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(page)


class Throttle:
    """Delays every API response by ``delay`` seconds (0 = off): a slow network."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.delay = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/") and self.delay:
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


@pytest.fixture
def throttled(tmp_path: Path) -> Iterator[tuple[Inspector, Throttle]]:
    holder: list[Throttle] = []

    def wrap(app: ASGIApp) -> Throttle:
        holder.append(Throttle(app))
        return holder[0]

    for inspector in serve(tmp_path, wrap=wrap):
        yield inspector, holder[0]


@pytest.fixture
def slow_page(browser: Any, throttled: tuple[Inspector, Throttle]) -> Iterator[Page]:
    yield from open_page(browser, throttled[0])


def _status(inspector: Inspector, key: str) -> Status:
    local = Actor.local(Channel.CLI)
    memory_id = inspector.seeded.ids[key]
    try:
        return inspector.service.get_memory(local, inspector.seeded.project, memory_id).status
    except MemoryNotFound:
        versions = inspector.service.memory_history(local, inspector.seeded.project, memory_id)
        return versions[-1].memory.status


def _open(page: Page, inspector: Inspector, key: str, title: str) -> None:
    page.goto(inspector.memory_url(key))
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator("#main .view")).to_have_attribute(
        "data-memory-id", inspector.seeded.ids[key]
    )


def _go(page: Page, inspector: Inspector, key: str) -> None:
    """Navigate inside the app (a hash change, like clicking a link)."""
    page.evaluate(
        "hash => { location.hash = hash; }",
        f"#/p/{inspector.seeded.project}/m/{inspector.seeded.ids[key]}",
    )


def test_delete_pressed_on_the_old_page_while_the_next_loads_deletes_nothing(
    slow_page: Page, throttled: tuple[Inspector, Throttle]
) -> None:
    inspector, throttle = throttled
    page = slow_page
    _open(page, inspector, "fact_rate", "Rate limit")
    stale_delete = page.get_by_test_id("delete").element_handle()
    throttle.delay = 0.6
    _go(page, inspector, "fact_landmine")
    # Pressed at once, while A's page is still on screen and B's data is in flight. The
    # click is dispatched straight to A's button, so even a page that failed to go inert
    # would run the handler: the navigation token must stop it from opening a dialog.
    stale_delete.dispatch_event("click")
    expect(page.locator("dialog[open]")).to_have_count(0)
    # B arrives; its own Delete opens a dialog that names B, not A.
    expect(page.locator("h1")).to_have_text("Landmine: orders.updated_at trigger")
    page.get_by_test_id("delete").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog.get_by_test_id("dialog-subject-id")).to_have_text(
        inspector.seeded.ids["fact_landmine"]
    )
    expect(dialog.get_by_test_id("dialog-subject-title")).to_have_text(
        "Landmine: orders.updated_at trigger"
    )
    expect(dialog).not_to_contain_text("Rate limit")
    dialog.get_by_test_id("confirm").click()
    expect(page.locator("h1")).to_have_text("Acme API")
    assert _status(inspector, "fact_rate") is Status.ACTIVE
    assert _status(inspector, "fact_landmine") is Status.DELETED


def test_a_delete_dialog_open_when_the_page_changes_is_cancelled(
    slow_page: Page, throttled: tuple[Inspector, Throttle]
) -> None:
    inspector, throttle = throttled
    page = slow_page
    _open(page, inspector, "fact_rate", "Rate limit")
    page.get_by_test_id("delete").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog.get_by_test_id("dialog-subject-id")).to_have_text(
        inspector.seeded.ids["fact_rate"]
    )
    throttle.delay = 0.6
    _go(page, inspector, "fact_landmine")  # e.g. the browser's Back button
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator("h1")).to_have_text("Landmine: orders.updated_at trigger")
    assert _status(inspector, "fact_rate") is Status.ACTIVE
    assert _status(inspector, "fact_landmine") is Status.ACTIVE


def test_a_slow_response_for_a_page_left_behind_never_replaces_the_newer_page(
    slow_page: Page, throttled: tuple[Inspector, Throttle]
) -> None:
    inspector, throttle = throttled
    page = slow_page
    _open(page, inspector, "fact_rate", "Rate limit")
    throttle.delay = 0.6
    _go(page, inspector, "fact_landmine")
    page.wait_for_timeout(100)  # A's successor's requests are in flight ...
    throttle.delay = 0.0
    page.evaluate("hash => { location.hash = hash; }", f"#/p/{inspector.seeded.project}/audit")
    expect(page.locator("h1")).to_have_text("Audit log")  # ... the audit page is faster
    page.wait_for_timeout(1200)  # long enough for the slow memory response to land
    expect(page.locator("h1")).to_have_text("Audit log")
    expect(page.get_by_test_id("memory-content")).to_have_count(0)
