"""Probes for operators: ``GET /api/v1/ready`` (readiness: 200 or 503 with the failing
checks), ``GET /metrics`` (Prometheus; any authenticated caller, the local user on a
loopback server without tokens), and request counts and latency by route."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from memsvc.api.deps import ActorDep, ServiceDep
from memsvc.api.errors import ERROR_RESPONSES
from memsvc.api.security import ASGIApp, Message, Receive, Scope, Send

__all__ = ["install_probes"]

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _route_name(scope: Scope) -> str:
    """The route template (``/api/v1/projects/{project}/search``), never the raw path
    (which would hold caller data and grow without bound)."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


def install_probes(app: FastAPI) -> None:
    """Add ``/api/v1/ready``, ``/metrics`` and the request counters to ``app``."""

    # The guards (Host, body size, media type) and a crash can still answer this route.
    ready_responses: dict[int | str, dict[str, Any]] = {
        s: r for s, r in ERROR_RESPONSES.items() if s in (400, 403, 413, 415, 500)
    }
    ready_responses[503] = {"description": "Not ready; the body says which part is not."}

    @app.get("/api/v1/ready", tags=["service"], responses=ready_responses)
    def readiness(service: ServiceDep) -> JSONResponse:
        """Readiness: database reachable, migrations current, model loaded (503 if not)."""
        state = service.readiness()
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(service: ServiceDep, _actor: ActorDep) -> Response:
        return Response(service.metrics.exposition(), media_type=PROMETHEUS_TEXT)

    app.add_middleware(_RequestCounter)


class _RequestCounter:
    """Counts requests and their latency by route and status: plain ASGI (Starlette's
    ``BaseHTTPMiddleware`` runs every request through a task group and memory streams,
    about a millisecond of the event loop per request on this machine)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception before the response started: the server answers 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = _route_name(scope)
            recorder = scope["app"].state.service.metrics
            recorder.requests.labels(route, str(status)).inc()
            recorder.request_seconds.labels(route).observe(time.perf_counter() - start)
