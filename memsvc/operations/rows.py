"""Predicates over memory rows shared by the operation groups."""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime

from memsvc.clock import as_utc
from memsvc.store.models import MemoryRow

__all__ = ["flagged_against", "loose", "paths_match", "valid_at", "valid_between"]


def flagged_against(row: MemoryRow) -> str:
    return row.duplicate_of or row.conflicts_with or ""


def paths_match(globs: list[str], paths: list[str]) -> bool:
    if not globs:
        return True
    return any(
        fnmatch.fnmatch(p, g) or p.startswith(g.rstrip("/") + "/") for g in globs for p in paths
    )


def valid_at(row: MemoryRow, at: datetime) -> bool:
    return valid_between(row.valid_from, row.valid_until, at)


def valid_between(start: datetime | None, end: datetime | None, at: datetime) -> bool:
    """Whether a validity window [start, end) holds at ``at`` (open ends always hold)."""
    start, end = as_utc(start), as_utc(end)
    return not ((start and start > at) or (end and end <= at))


def loose(text: str) -> str:
    return re.sub(r"[\s_.-]+", "-", text.strip().lower()).strip("-")
