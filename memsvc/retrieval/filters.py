"""Predicates a memory row must pass to be returned: status, kind, tags, paths and the
validity window (as of now or of a past moment)."""

from __future__ import annotations

import fnmatch
from datetime import datetime

from memsvc.clock import as_utc
from memsvc.domain import SearchQuery, Status
from memsvc.store.models import MemoryRow

__all__ = ["paths_match", "valid_between", "visible"]


def paths_match(globs: list[str], paths: list[str]) -> bool:
    """Whether any of ``paths`` falls under one of ``globs`` (no globs: applies everywhere)."""
    if not globs:
        return True
    return any(
        fnmatch.fnmatch(p, g) or p.startswith(g.rstrip("/") + "/") for g in globs for p in paths
    )


def valid_between(start: datetime | None, end: datetime | None, at: datetime) -> bool:
    """Whether a validity window [start, end) holds at ``at`` (open ends always hold)."""
    start, end = as_utc(start), as_utc(end)
    return not ((start and start > at) or (end and end <= at))


def visible(row: MemoryRow, query: SearchQuery, statuses: list[str], at: datetime) -> bool:
    """Whether a search may return ``row``: its filters, and its state as of ``at``."""
    if row.status not in statuses:
        return False
    if query.kinds and row.kind not in {k.value for k in query.kinds}:
        return False
    if query.tags and not set(query.tags) & set(row.tags):
        return False
    if query.paths and not paths_match(row.paths, query.paths):
        return False
    if not valid_between(row.valid_from, row.valid_until, at):
        return False
    if query.as_of is not None:
        created = as_utc(row.created_at)
        if created and created > at:
            return False
        if row.status != Status.ACTIVE and (as_utc(row.status_changed_at) or at) <= at:
            return row.status in (query.status or [])
    return True
