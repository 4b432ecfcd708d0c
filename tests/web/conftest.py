"""Browser fixtures: Debian's Chromium driven headless by Playwright against a live server
seeded with demo data. Skipped only when /usr/bin/chromium is absent (`make test`
installs it with apt)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memsvc import MemoryService, build_service
from memsvc.api import create_app
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import LiveServer, free_port, make_settings
from tests.web.seed import Seeded, seed_demo

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/web" in str(item.path):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason="/usr/bin/chromium is not installed"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Inspector:
    url: str
    service: MemoryService
    seeded: Seeded
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def memory_url(self, key: str) -> str:
        return f"{self.url}/ui/#/p/{self.seeded.project}/m/{self.seeded.ids[key]}"


def serve(tmp_path: Path, authenticate: Any = None, wrap: Any = None) -> Iterator[Inspector]:
    """A live server over the demo data; ``wrap`` may wrap the ASGI app (e.g. to slow it)."""
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        seeded = seed_demo(svc)
        app = create_app(svc, settings, authenticate=authenticate)
        with LiveServer(wrap(app) if wrap else app, port) as server:
            yield Inspector(server.url, svc, seeded)


@pytest.fixture
def inspector(tmp_path: Path) -> Iterator[Inspector]:
    yield from serve(tmp_path)


@pytest.fixture
def page(browser: Any, inspector: Inspector) -> Iterator[Any]:
    yield from open_page(browser, inspector)


def open_page(browser: Any, inspector: Inspector) -> Iterator[Any]:
    """A fresh tab that records script errors, CSP violations and JS dialogs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)  # a loaded 2-core machine can take seconds per page
    page.on("pageerror", lambda exc: inspector.errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: inspector.errors.append(msg.text) if msg.type == "error" else None,
    )

    def on_dialog(dialog: Any) -> None:
        inspector.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    context.close()
    assert inspector.errors == [], f"browser errors: {inspector.errors}"
