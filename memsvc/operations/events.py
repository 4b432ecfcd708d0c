"""Change events for live rules: after a call that changed a project's rules or its
newest handoff has committed, every listener hears (project, what) — ``what`` is
``"rules"`` or ``"handoff"``. Doors (MCP resource subscriptions) listen; the core knows
nothing of them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

__all__ = ["Listener", "RuleEvents", "topics"]

log = logging.getLogger(__name__)

Listener = Callable[[str, str], None]


def topics(kinds: Iterable[str]) -> list[str]:
    """What changed for memories of these kinds: rules, the handoff, or nothing."""
    seen = set(kinds)
    return [t for t, k in (("rules", "rule"), ("handoff", "handoff")) if k in seen]


class RuleEvents:
    """A thread-safe fan-out of change events to listeners (called on the writer's thread;
    a listener must return quickly and hand the work to its own loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[object, Listener] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener``; returns an idempotent unsubscribe."""
        token = object()
        with self._lock:
            self._listeners[token] = listener

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.pop(token, None)

        return unsubscribe

    def publish(self, project: str, kinds: Iterable[str]) -> None:
        """Tell every listener what changed in ``project`` (a failing listener is logged:
        the write it reports has committed already)."""
        changed = topics(kinds)
        with self._lock:
            listeners = list(self._listeners.values())
        for what in changed:
            for listener in listeners:
                try:
                    listener(project, what)
                except Exception:
                    log.exception("change listener failed for %s/%s", project, what)
