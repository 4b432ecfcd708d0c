"""Regenerate docs/screenshots/ from the demo data: ``python -m tests.web.screenshots``."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.web.conftest import ARGS, CHROMIUM, serve

SHOTS = [
    ("projects", "/ui/#/", False),
    ("project", "/ui/#/p/acme-api", True),
    ("search", "/ui/#/p/acme-api?q=postgres%20datastore&min=0", False),
    ("memory", "/ui/#/p/acme-api/m/{fact_rate}", True),
    ("review", "/ui/#/p/acme-api/review", True),
    ("audit", "/ui/#/p/acme-api/audit", False),
    ("fleet", "/ui/#/fleet", True),
    ("trust", "/ui/#/p/acme-api/trust", True),
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for inspector in serve(Path(tmp)):
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            for name, path, full in SHOTS:
                page.goto(inspector.url + path.format(**inspector.seeded.ids))
                page.wait_for_load_state("networkidle")
                if name == "search":
                    page.get_by_test_id("why").first.click()
                page.mouse.move(0, 0)
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / f"{name}.png"), full_page=full)
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
