"""Which projects' indexes cannot serve right now, and their repair off the request path.

A project's LanceDB table can disagree with SQL (a fragment file deleted or corrupt, rows
missing after a crash) or be under reconciliation after a restart. Such a project answers
``IndexRebuilding`` (503) to searches until it is whole again, while every other project
keeps serving; the repair runs in a background thread (``IndexSync.heal``: reconcile, or
rebuild from SQL when the table cannot even be read), never on a request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from memsvc.errors import IndexRebuilding, MemsvcError

__all__ = ["REBUILDING", "RECONCILING", "IndexHealth", "is_index_damage"]

log = logging.getLogger(__name__)

REBUILDING = "being rebuilt from the database after a read error"
RECONCILING = "being reconciled with the database after a restart"
REPAIR_ATTEMPTS = 3
REPAIR_RETRY_S = 5.0


def is_index_damage(error: BaseException) -> bool:
    """Whether an exception from reading the index means the table itself is unreadable (a
    missing or corrupt fragment, manifest or index file) rather than a bug of ours."""
    if isinstance(error, MemsvcError):
        return False
    if isinstance(error, OSError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError | ValueError) and (
        "lance" in text or "not found" in text or "corrupt" in text
    )


class IndexHealth:
    """The projects whose index is held back from serving, each with the reason, and the
    background repairs that release them."""

    def __init__(self) -> None:
        self._held: dict[str, str] = {}
        self._guard = threading.Lock()
        self.repair: Callable[[str], object] | None = None
        """Makes one project's index whole (``IndexSync.heal``); wired by the bootstrap."""
        self.started = threading.Event()
        """Set once the start-up reconciliation has finished (readiness waits for it)."""
        self.repairs = 0
        """Background repairs finished."""

    def held(self) -> dict[str, str]:
        """Every held-back project and why."""
        with self._guard:
            return dict(self._held)

    def hold(self, projects: list[str], reason: str) -> None:
        """Hold these projects back from serving searches (until ``release``)."""
        with self._guard:
            for project in projects:
                self._held.setdefault(project, reason)

    def release(self, project: str) -> None:
        """Let the project's searches through again."""
        with self._guard:
            self._held.pop(project, None)

    def check(self, project: str) -> None:
        """Raise ``IndexRebuilding`` if the project is held back."""
        with self._guard:
            reason = self._held.get(project)
        if reason is not None:
            raise IndexRebuilding(project, reason)

    @contextlib.contextmanager
    def guard(self, project: str) -> Iterator[None]:
        """Run an index read of the project: refused while it is held back, and an
        unreadable table starts its repair and answers ``IndexRebuilding``."""
        self.check(project)
        try:
            yield
        except Exception as exc:
            if not is_index_damage(exc):
                raise
            log.warning(
                "index repair of %s: a read of its table failed (%s: %s)",
                project,
                type(exc).__name__,
                exc,
                extra={"project": project, "repair": "read_failed", "error": str(exc)},
            )
            self.repair_in_background(project, REBUILDING)
            raise IndexRebuilding(project, REBUILDING) from exc

    def repair_in_background(self, project: str, reason: str) -> bool:
        """Hold the project back and repair it in a thread of its own; False when a
        repair of it is already under way (or no repair is wired)."""
        with self._guard:
            if self.repair is None or project in self._held:
                return False
            self._held[project] = reason
        worker = threading.Thread(
            target=self._repair, args=(project,), name=f"memsvc-heal-{project}", daemon=True
        )
        worker.start()
        return True

    def _repair(self, project: str) -> None:
        assert self.repair is not None
        try:
            for attempt in range(1, REPAIR_ATTEMPTS + 1):
                try:
                    done = self.repair(project)
                    log.info("the index of %s is whole again (%s)", project, done)
                    return
                except Exception:
                    log.exception("repair %d of the index of %s failed", attempt, project)
                    time.sleep(REPAIR_RETRY_S)
        finally:  # a failed repair releases too: the next read that fails starts another
            self.repairs += 1
            self.release(project)
