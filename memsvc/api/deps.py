"""Request-scoped dependencies: the service and the calling actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from memsvc.domain import Actor, Channel
from memsvc.service import MemoryService

__all__ = ["ActorDep", "Authenticate", "ServiceDep", "bearer_actor", "local_actor"]

Authenticate = Callable[[Request, Channel], Actor]


def local_actor(request: Request, channel: Channel) -> Actor:
    """Local single-user mode: loopback without tokens runs as the implicit local user."""
    return Actor.local(
        channel,
        request_id=request.scope.get("state", {}).get("request_id"),
        client=(request.headers.get("user-agent") or "")[:100] or None,
    )


def bearer_actor(request: Request, channel: Channel) -> Actor:
    """``Authorization: Bearer`` when tokens exist or the bind is not loopback; otherwise
    the implicit local user. The service decides, and audits refusals."""
    service: MemoryService = request.app.state.service
    return service.authenticate(
        service.bearer_token(request.headers.get("authorization")),
        channel,
        allow_local=request.app.state.allow_local,
        client=(request.headers.get("user-agent") or "")[:100] or None,
        request_id=request.scope.get("state", {}).get("request_id"),
    )


def _service(request: Request) -> MemoryService:
    service: MemoryService = request.app.state.service
    return service


def _actor(request: Request) -> Actor:
    authenticate: Authenticate = request.app.state.authenticate
    channel = Channel.WEB if request.headers.get("x-memsvc-ui") == "1" else Channel.REST
    agent = (request.headers.get("x-memsvc-agent") or "")[:200] or None  # the agent identity
    return authenticate(request, channel).model_copy(update={"agent": agent})


ServiceDep = Annotated[MemoryService, Depends(_service)]
ActorDep = Annotated[Actor, Depends(_actor)]
