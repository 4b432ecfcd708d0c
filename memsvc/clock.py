"""Time in one convention (timezone-aware UTC everywhere; SQLModel stores it as such), and
the one runner for periodic background work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime

from memsvc.errors import InvalidInput

__all__ = ["Periodic", "as_utc", "utcnow"]

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A caller's datetime as aware UTC; a naive one is taken to be UTC already. One that
    has no UTC form (the last day of year 9999 in a zone west of UTC) is ``InvalidInput``."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{value.isoformat()} is out of range once converted to UTC") from None


class Periodic:
    """Runs ``work`` every ``interval_s`` (or sooner when woken) on a daemon thread until
    stopped; an exception is logged and the next round runs as planned."""

    def __init__(self, name: str, interval_s: float, work: Callable[[], None]) -> None:
        self.name = name
        self.interval_s = interval_s
        self.work = work
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Run the next round now rather than at the end of the interval."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the round under way, waiting up to ``timeout_s`` for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            with suppress(RuntimeError):
                self._thread.join(timeout=timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.work()
            except Exception:
                log.exception("background round %s failed", self.name)
