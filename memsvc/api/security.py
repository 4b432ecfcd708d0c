"""Transport guards as plain ASGI middleware: request ids, body size limit, Host and Origin
checks against DNS rebinding and cross-site requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ulid import ULID

from memsvc.api.errors import error_response

__all__ = ["GuardMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """Request ids, Host/Origin checks, JSON-only mutations on /api and the body limit,
    in front of everything the app serves (REST, /mcp, /ui)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: set[str],
        allowed_origins: set[str],
        max_body: int,
        check_host: bool = True,
    ) -> None:
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.allowed_origins = {o.lower().rstrip("/") for o in allowed_origins}
        self.max_body = max_body
        self.check_host = check_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry: refuse what the guards forbid, tag every response with its id."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id", "")[:100] or str(ULID())
        scope.setdefault("state", {})["request_id"] = rid
        refused = self._refusal(scope, headers)
        if refused is not None:
            await _reply(scope, receive, send, *refused, rid)
            return
        seen = 0

        async def limited() -> Message:
            """The request body, refused once it grows past the limit."""
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        started = False

        async def tagged(message: Message) -> None:
            """Send, adding the request id and nosniff to the response start."""
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                out = message.setdefault("headers", [])
                out.append((b"x-request-id", rid.encode()))
                if not any(k.lower() == b"x-content-type-options" for k, _ in out):
                    out.append((b"x-content-type-options", b"nosniff"))
            await send(message)

        try:
            await self.app(scope, limited, tagged)
        except _TooLarge:
            if not started:
                await _reply(scope, receive, send, 413, "PayloadTooLarge", self._too_large(), rid)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        """Why the guards refuse this request before it reaches the app, or None."""
        host = headers.get("host", "").lower()
        if self.check_host and host not in self.allowed_hosts:
            return 403, "HostNotAllowed", f"Host {host[:100]!r} is not served here"
        origin = headers.get("origin")
        if origin is not None and origin.lower().rstrip("/") not in self._origins(host):
            return 403, "OriginNotAllowed", f"Origin {origin[:100]!r} is not allowed"
        if scope.get("method") in _UNSAFE and scope.get("path", "").startswith("/api/"):
            refused = _cross_site_refusal(headers)
            if refused is not None:
                return refused
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, "PayloadTooLarge", self._too_large()
        return None

    def _origins(self, host: str) -> set[str]:
        own = {f"http://{host}", f"https://{host}"} if host in self.allowed_hosts else set()
        return own | self.allowed_origins

    def _too_large(self) -> str:
        return f"request body over {self.max_body} bytes; send fewer memories per request"


NDJSON = "application/x-ndjson"


def _cross_site_refusal(headers: dict[str, str]) -> tuple[int, str, str] | None:
    """Why a state-changing API request cannot be trusted as same-site, or None.

    An HTML form can post cross-site without a CORS preflight only as urlencoded,
    multipart or text/plain: requiring JSON closes that door for every client, and the
    Origin check (above) covers fetch. The inspector marks its calls ``X-Memsvc-Ui: 1``;
    such a call without an Origin header did not come from the page.
    """
    ctype = headers.get("content-type")
    if ctype is not None:
        media = ctype.split(";", 1)[0].strip().lower()
        # x-ndjson (imports) is no form encoding either: a browser preflights it
        if media not in ("application/json", NDJSON) and not media.endswith("+json"):
            return 415, "UnsupportedMediaType", "send the request body as application/json"
    elif headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        return 415, "UnsupportedMediaType", "send the request body as application/json"
    if headers.get("x-memsvc-ui") and "origin" not in headers:
        return 403, "OriginRequired", "requests from the inspector must carry an Origin header"
    return None


async def _reply(
    scope: Scope, receive: Receive, send: Send, status: int, error: str, detail: str, rid: str
) -> None:
    response = error_response(status, error, detail, {"x-request-id": rid})
    await response(scope, receive, send)
