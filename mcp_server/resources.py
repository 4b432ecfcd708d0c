"""Live rules: a project's active rules and newest handoff as MCP resources, with
subscriptions. A subscribed session hears ``notifications/resources/updated`` when a rule
is added, superseded, approved, quarantined or restored — from any door, so a human who
pins a rule in the inspector reaches running agents without a restart.

Both protocol eras are served: ``subscriptions/listen`` streams (2026-07-28) through the
server's subscription bus, and ``resources/subscribe`` (earlier versions) per session.
Changes are announced by the service on the writer's thread; they are handed to the event
loop that serves the subscriber.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from mcp_server.caller import Caller, tool_errors
from memsvc import render_memory
from memsvc.domain import Kind

__all__ = ["HANDOFF_URI", "RULES_URI", "LiveBus", "register", "resource_uri"]

log = logging.getLogger(__name__)

RULES_URI = "memsvc://projects/{project}/rules"
HANDOFF_URI = "memsvc://projects/{project}/handoff"


def resource_uri(project: str, what: str) -> str:
    """The resource URI of a project's ``rules`` or ``handoff``."""
    return (RULES_URI if what == "rules" else HANDOFF_URI).format(project=project)


def _soon(loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    """Run a coroutine on ``loop`` from any thread, without waiting for it."""
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.create_task(make())
    else:
        asyncio.run_coroutine_threadsafe(make(), loop)


class LiveBus(InMemorySubscriptionBus):
    """The SDK's in-process bus, remembering the loop its listen streams run on so events
    published from other threads are delivered there."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        """Register a listen stream's listener (called on the server's loop)."""
        self.loop = asyncio.get_running_loop()
        return super().subscribe(listener)

    def announce(self, uri: str) -> None:
        """Publish ``resources/updated`` for ``uri`` from any thread."""
        if self.loop is not None:
            _soon(self.loop, lambda: self.publish(ResourceUpdated(uri=uri)))


class _LegacySubscribers:
    """``resources/subscribe`` sessions (protocol versions before 2026-07-28)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_uri: dict[str, dict[int, tuple[Any, asyncio.AbstractEventLoop]]] = {}

    def add(self, uri: str, session: Any) -> None:
        with self._lock:
            self._by_uri.setdefault(uri, {})[id(session)] = (session, asyncio.get_running_loop())

    def remove(self, uri: str, session: Any) -> None:
        with self._lock:
            self._by_uri.get(uri, {}).pop(id(session), None)

    def announce(self, uri: str) -> None:
        with self._lock:
            targets = list(self._by_uri.get(uri, {}).values())
        for session, loop in targets:
            _soon(loop, functools.partial(self._send, session, uri))

    async def _send(self, session: Any, uri: str) -> None:
        try:
            await session.send_resource_updated(uri)
        except Exception:  # noqa: BLE001 - a closed session just stops hearing
            log.info("dropping a closed resource subscriber of %s", uri)
            self.remove(uri, session)


def register(mcp: MCPServer, caller: Caller, bus: LiveBus) -> None:
    """The rules and handoff resources, and their subscriptions."""
    service = caller.service
    legacy = _LegacySubscribers()

    @mcp.resource(
        RULES_URI,
        name="rules",
        title="Active rules",
        description="The project's active rules, pinned first (proposed ones are not rules). "
        "Subscribe to hear when a rule is added, superseded, approved or quarantined.",
        mime_type="text/plain",
    )
    def rules(project: str, ctx: Context) -> str:
        with tool_errors():
            page = service.list_memories(caller.actor(ctx), project, kinds=[Kind.RULE], limit=500)
        ordered = sorted(page.memories, key=lambda m: (not m.pinned, -m.importance))
        if not ordered:
            return f"Project {project} has no active rules."
        return "\n".join(render_memory(m) for m in ordered)

    @mcp.resource(
        HANDOFF_URI,
        name="handoff",
        title="Newest handoff",
        description="The project's newest session handoff.",
        mime_type="text/plain",
    )
    def handoff(project: str, ctx: Context) -> str:
        with tool_errors():
            page = service.list_memories(caller.actor(ctx), project, kinds=[Kind.HANDOFF], limit=1)
        if not page.memories:
            return f"Project {project} has no handoff yet."
        return render_memory(page.memories[0])

    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        legacy.add(str(params.uri), ctx.session)
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        legacy.remove(str(params.uri), ctx.session)
        return EmptyResult()

    low = mcp._lowlevel_server
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)

    def changed(project: str, what: str) -> None:
        uri = resource_uri(project, what)
        bus.announce(uri)
        legacy.announce(uri)

    service.on_memory_changes(changed)
