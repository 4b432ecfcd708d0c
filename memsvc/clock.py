"""Time in one convention: timezone-aware UTC everywhere (SQLModel stores it as such)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A caller's datetime as aware UTC; a naive one is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
