"""Dates named in a query ("on 9 November, 2022", "in August 2023", "in 2022") as time
spans, and which memories' times fall in them. A memory's time is when what it says
happened (``valid_from``) or else when it was written."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

__all__ = ["TIME_TOLERANCE", "Span", "in_spans", "query_spans"]

TIME_TOLERANCE = timedelta(days=7)
"""A named day or month also matches memories up to a week either side of it (people
write about an event in the days after it)."""

Span = tuple[datetime, datetime]

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MON = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_PATTERNS = [
    re.compile(rf"\b{_DAY}\s+{_MON},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_MON}\s+{_DAY},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_YEAR}-(?P<monn>\d\d)-(?P<day>\d\d)\b"),
    re.compile(rf"\b{_MON},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_YEAR}\b"),
]


def _span(fields: dict[str, str | None]) -> Span | None:
    year = int(fields["year"] or 0)
    mon_name, mon_num, day = fields.get("mon"), fields.get("monn"), fields.get("day")
    month = _MONTHS[mon_name.lower()] if mon_name else int(mon_num) if mon_num else None
    try:
        if month and day:
            start = datetime(year, month, int(day), tzinfo=UTC)
            return start, start + timedelta(days=1)
        if month:
            start = datetime(year, month, 1, tzinfo=UTC)
            return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    except ValueError:  # "31 February"
        return None


def query_spans(text: str) -> list[Span]:
    """Every absolute date in ``text``, most specific reading first; a month with no year
    ("in June") is left out as ambiguous."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            span = _span(m.groupdict())
            if span is not None:
                taken.append((m.start(), m.end()))
                spans.append(span)
    return spans


def in_spans(times: npt.NDArray[np.float64], spans: list[Span]) -> npt.NDArray[np.bool_]:
    """Which epoch-second ``times`` fall in a span widened by ``TIME_TOLERANCE``."""
    hit = np.zeros(times.shape, dtype=bool)
    pad = TIME_TOLERANCE.total_seconds()
    for start, end in spans:
        hit |= (times >= start.timestamp() - pad) & (times < end.timestamp() + pad)
    return hit
