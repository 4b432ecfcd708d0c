"""The FastAPI application: REST v1, OpenAPI at /docs, guards, and mounts for /mcp, /ui."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from memsvc import __version__
from memsvc.api import dashboard, fleet
from memsvc.api.curation_routes import curation_router
from memsvc.api.deps import Authenticate, bearer_actor
from memsvc.api.docs import mount_docs
from memsvc.api.errors import ERROR_RESPONSES, install_error_handlers
from memsvc.api.lifecycle import lifecycle_router
from memsvc.api.limits import install_limits
from memsvc.api.probes import install_probes
from memsvc.api.routes import router
from memsvc.api.security import GuardMiddleware
from memsvc.api.web import mount_inspector
from memsvc.service import MemoryService
from memsvc.settings import Settings

__all__ = ["create_app"]


def create_app(
    service: MemoryService,
    settings: Settings,
    *,
    authenticate: Authenticate | None = None,
    lifespan: Any = None,
) -> FastAPI:
    """Build the app around an existing service (the caller owns the service's lifetime)."""
    app = FastAPI(
        title="memsvc",
        version=__version__,
        description="Project-scoped memory for AI agents: REST v1.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    mount_docs(app)
    app.state.service = service
    app.state.authenticate = authenticate or bearer_actor
    app.state.allow_local = settings.loopback_only
    install_error_handlers(app)
    app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(curation_router, responses=ERROR_RESPONSES)
    app.include_router(lifecycle_router, responses=ERROR_RESPONSES)
    app.include_router(fleet.router, responses=ERROR_RESPONSES)
    app.include_router(dashboard.router, responses=ERROR_RESPONSES)
    mount_inspector(app)
    install_probes(app)
    install_limits(app, settings.limits)
    app.add_middleware(
        GuardMiddleware,
        allowed_hosts=settings.served_hosts(),
        allowed_origins=set(settings.allowed_origins),
        max_body=settings.limits.request_bytes,
    )
    return app
