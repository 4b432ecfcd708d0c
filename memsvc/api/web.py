"""The inspector: static files from ``web/`` at ``/ui`` under a strict Content-Security-Policy.

The page is plain HTML and JavaScript modules calling the public REST API; it gets no
back door. Its security rests on: no inline script or style (CSP), no framing, all memory
text rendered as text, and the REST guards (Host, Origin, JSON-only mutations).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "mount_inspector", "web_dir"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; require-trusted-types-for 'script'; trusted-types 'none'"
)
"""``require-trusted-types-for`` makes any HTML-parsing sink (innerHTML …) throw in
Chromium, so a slip in the page's code cannot turn memory text into markup."""

_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-cache"),
]


def web_dir() -> Path | None:
    """The inspector's files: the repo's ``web/`` or the copy packed into the wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "web", here / "_web"):
        if (candidate / "index.html").is_file():
            return candidate
    return None


class _SecurityHeaders:
    """Adds the inspector's headers to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            """Replace the inspector's security headers on the response start."""
            if message["type"] == "http.response.start":
                names = {name for name, _ in _HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + _HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount_inspector(app: FastAPI, directory: Path | None = None) -> None:
    """Serve the inspector at ``/ui/`` and send ``/`` there; no-op when the files are absent."""
    directory = directory or web_dir()
    if directory is None:
        return
    static = StaticFiles(directory=directory, html=True)
    app.mount("/ui", _SecurityHeaders(static), name="ui")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """Send ``/`` to the inspector."""
        return RedirectResponse("/ui/", status_code=307)
