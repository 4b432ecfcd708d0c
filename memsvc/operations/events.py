"""Change events for live rules: after a call that changed a project's rules or its
newest handoff has committed, every listener hears (project, what) — ``what`` is
``"rules"`` or ``"handoff"``. Doors (MCP resource subscriptions) listen; the core knows
nothing of them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from memsvc.clock import Periodic, as_utc
from memsvc.store import projects as proj_store
from memsvc.store.database import Database

__all__ = ["Listener", "RemoteRuleChanges", "RuleEvents", "topics"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
        self._told: dict[str, datetime] = {}

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

    def will_tell(self, project: str, mark: datetime) -> None:
        """This process is committing a rules change marked ``mark`` and will publish it
        once committed: the rules watch must not tell it again in between."""
        with self._lock:
            self._told[project] = max(mark, self._told.get(project, EPOCH))

    def told_since(self, project: str, when: datetime) -> bool:
        """Whether this process told its listeners of a rules change in ``project`` at or
        after ``when`` (so a change seen in the database needs no second telling)."""
        with self._lock:
            told = self._told.get(project)
        return told is not None and told >= when


class RemoteRuleChanges:
    """Brings rules changes committed by other processes to this process's listeners: a
    rule pinned in the inspector of one ``memsvc serve`` reaches an agent subscribed over
    stdio (``memsvc mcp``, its own process) or over HTTP on another server. Every round
    (``interval_s``) it reads the projects whose ``rules_changed_at`` moved past the
    newest mark it has seen (one query over the project table) and publishes those this
    process has not told already. Marks are compared with marks (the writers' clocks),
    never with this clock."""

    def __init__(self, db: Database, events: RuleEvents, interval_s: float) -> None:
        self.db = db
        self.events = events
        self._seen: datetime | None = None
        self._runner = Periodic("memsvc-rule-watch", interval_s, self._round)

    def start(self) -> None:
        """Take the current newest mark (older changes are not news), then watch."""
        with self.db.read() as s:
            self._seen = proj_store.newest_rules_mark(s)
        self._runner.start()

    def stop(self) -> None:
        """Stop watching."""
        self._runner.stop()

    def _round(self) -> None:
        self.poll()

    def poll(self) -> list[str]:
        """One round: the projects told of a change made elsewhere."""
        with self.db.read() as s:
            marks = proj_store.rules_marks_after(s, self._seen)
        told: list[str] = []
        for project, mark in marks:
            when = as_utc(mark) or mark
            self._seen = when if self._seen is None else max(self._seen, when)
            if not self.events.told_since(project, when):
                self.events.publish(project, ["rule"])
                told.append(project)
        return told
