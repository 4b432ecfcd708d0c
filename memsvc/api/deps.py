"""Request-scoped dependencies: the service, the calling actor and a page of a list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from memsvc.domain import Actor, Channel
from memsvc.service import MemoryService

__all__ = [
    "ActorDep",
    "Authenticate",
    "Page",
    "ServiceDep",
    "bearer_actor",
    "bearer_token",
    "local_actor",
    "paging",
]

Authenticate = Callable[[Request, Channel], Actor]


def local_actor(request: Request, channel: Channel) -> Actor:
    """Local single-user mode: loopback without tokens runs as the implicit local user."""
    return Actor.local(
        channel,
        request_id=request.scope.get("state", {}).get("request_id"),
        client=(request.headers.get("user-agent") or "")[:100] or None,
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header value; any other scheme is kept as an
    unknown token so it is refused rather than silently ignored."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else "(not a bearer token)"


def bearer_actor(request: Request, channel: Channel) -> Actor:
    """``Authorization: Bearer`` when tokens exist or the bind is not loopback; otherwise
    the implicit local user. The service decides, and audits refusals."""
    service: MemoryService = request.app.state.service
    return service.authenticate(
        bearer_token(request.headers.get("authorization")),
        channel,
        allow_local=request.app.state.allow_local,
        client=(request.headers.get("user-agent") or "")[:100] or None,
        request_id=request.scope.get("state", {}).get("request_id"),
    )


async def _service(request: Request) -> MemoryService:
    # async: a sync dependency would cost a worker-thread round trip per request
    service: MemoryService = request.app.state.service
    return service


def _actor(request: Request) -> Actor:
    authenticate: Authenticate = request.app.state.authenticate
    channel = Channel.WEB if request.headers.get("x-memsvc-ui") == "1" else Channel.REST
    agent = (request.headers.get("x-memsvc-agent") or "")[:200] or None  # the agent identity
    return authenticate(request, channel).model_copy(update={"agent": agent})


ServiceDep = Annotated[MemoryService, Depends(_service)]
ActorDep = Annotated[Actor, Depends(_actor)]


@dataclass(frozen=True)
class Page:
    """``limit`` and ``cursor`` of a paged list request."""

    limit: int
    cursor: str | None


def paging(default: int, most: int | None = None) -> Any:
    """A dependency reading ``?limit=`` (1..``most``, default ``default``) and ``?cursor=``;
    without ``most`` the maximum is a setting the service checks (``memsvc/api/limits.py``
    writes it into the document)."""

    def page(limit: int = default, cursor: str | None = None) -> Page:
        """The page the request asks for."""
        return Page(limit, cursor)

    # Under PEP 563 the annotations are strings FastAPI resolves in module globals, where
    # this call's bounds do not exist: hand it the evaluated ones.
    bounded = Annotated[int, Query(ge=1, le=most)] if most else Annotated[int, Query(ge=1)]
    page.__annotations__ = {"limit": bounded, "cursor": str | None, "return": Page}
    return Depends(page)
