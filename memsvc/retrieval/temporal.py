"""Dates named in a query as time spans, and which memories' times fall in them.

Absolute dates ("on 9 November, 2022", "in August 2023", "in 2022") and relative ones
read against the query's reference time (``as_of`` when given, else now): "today",
"yesterday", "3 days ago", "last week", "two weeks ago", "last month", "last year",
"last Tuesday", "in March" (the latest March not after the reference), "the past 10
days", "since <any of these>" (from it to the reference). Weeks start on Monday; all
calendar arithmetic is in UTC. A memory's time is when what it says happened
(``valid_from``) or else when it was written."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

__all__ = ["TIME_TOLERANCE", "Span", "date_phrases", "in_spans", "query_spans"]

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


def _against(
    read: Callable[[re.Match[str], datetime], Span | None], ref: datetime
) -> Callable[[re.Match[str]], Span | None]:
    return lambda m: read(m, ref)


def date_phrases(text: str) -> list[str]:
    """The absolute dates named in ``text`` as written ("9 November, 2022", "August 2023",
    "2022"): the parts of it that ``query_spans`` reads without a reference time."""
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            if _span(m.groupdict()) is not None:
                taken.append((m.start(), m.end()))
    return [text[a:b] for a, b in sorted(taken)]


def query_spans(text: str, at: datetime | None = None) -> list[Span]:
    """Every date in ``text``, most specific reading first. Relative dates are read
    against ``at``; without it, only absolute dates are read (a month with no year is
    then left out as ambiguous)."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, Span]] = []
    patterns: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Span | None]]] = [
        (p, lambda m: _span(m.groupdict())) for p in _PATTERNS
    ]
    if at is not None:
        ref = at.astimezone(UTC)
        patterns += [(p, _against(f, ref)) for p, f in _RELATIVE]
    for pattern, read in patterns:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            span = read(m)
            if span is not None:
                taken.append((m.start(), m.end()))
                found.append((m.start(), m.end(), span))
    for start, end, span in found:
        since = _SINCE.search(text[max(0, start - 12) : start]) or _SINCE_IN.match(text[start:end])
        if since is not None and at is not None:
            span = (span[0], max(span[1], at.astimezone(UTC)))
        spans.append(span)
    return spans


_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a few": 3,
}
_N = r"(?P<n>\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_WD = r"(?P<wd>" + "|".join(_WEEKDAYS) + r")"
_SINCE = re.compile(r"\b(?:since|from|after)\s+(?:the\s+)?$", re.I)
_SINCE_IN = re.compile(r"(?:since|from|after)\b", re.I)
_BARE_MON = r"(?P<mon>" + "|".join(m.lower() for m in calendar.month_name if m) + r")"


def _count(m: re.Match[str]) -> int:
    raw = (m.group("n") or "1").lower()
    return int(raw) if raw.isdigit() else _NUMBERS[raw]


def _day(ref: datetime) -> datetime:
    return ref.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    return datetime(year, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def _unit_back(unit: str, back: int, ref: datetime) -> Span:
    """The calendar day, week, month or year ``back`` units before the reference's."""
    if unit == "day":
        start = _day(ref) - timedelta(days=back)
        return start, start + timedelta(days=1)
    if unit == "week":
        start = _day(ref) - timedelta(days=ref.weekday(), weeks=back)
        return start, start + timedelta(weeks=1)
    if unit == "month":
        start = _month_start(ref.year, ref.month - back)
        return start, _month_start(start.year, start.month + 1)
    year = ref.year - back
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _ago(m: re.Match[str], ref: datetime) -> Span:
    """ "3 days ago", "two weeks ago": the calendar unit that many units back."""
    return _unit_back(m.group("unit").lower().rstrip("s"), _count(m), ref)


def _named(unit: str, back: int) -> Callable[[re.Match[str], datetime], Span]:
    """ "yesterday", "last week", "this month", ...: ``back`` units before the current one."""
    return lambda _m, ref: _unit_back(unit, back, ref)


def _past(m: re.Match[str], ref: datetime) -> Span:
    """ "the past 10 days", "the last two weeks": a window ending at the reference."""
    days = {"day": 1, "week": 7, "month": 30, "year": 365}[m.group("unit").lower().rstrip("s")]
    return ref - timedelta(days=days * _count(m)), ref


def _weekday(m: re.Match[str], ref: datetime) -> Span:
    """The latest such weekday before the reference day ("last Tuesday" on a Tuesday is a
    week ago)."""
    back = (ref.weekday() - _WEEKDAYS[m.group("wd").lower()] - 1) % 7 + 1
    start = _day(ref) - timedelta(days=back)
    return start, start + timedelta(days=1)


def _bare_month(m: re.Match[str], ref: datetime) -> Span:
    """A month with no year: the latest one not after the reference month."""
    month = _MONTHS[m.group("mon").lower()]
    year = ref.year if month <= ref.month else ref.year - 1
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, _month_start(year, month + 1)


_UNIT = r"(?P<unit>days?|weeks?|months?|years?)"
_RELATIVE: list[tuple[re.Pattern[str], Callable[[re.Match[str], datetime], Span | None]]] = [
    (re.compile(rf"\b{_N}\s+{_UNIT}\s+ago\b", re.I), _ago),
    # "the past week", "the last 3 days" (but "last week" is the calendar week before)
    (
        re.compile(
            rf"\b(?:past|last(?=\s+\w+\s+(?:days?|weeks?|months?|years?)))\s+(?:{_N}\s+)?"
            rf"{_UNIT}\b",
            re.I,
        ),
        _past,
    ),
    (re.compile(rf"\b(?:last|this\s+past|on)\s+{_WD}\b", re.I), _weekday),
    (re.compile(r"\btoday\b", re.I), _named("day", 0)),
    (re.compile(r"\byesterday\b", re.I), _named("day", 1)),
    (re.compile(r"\bthis\s+week\b", re.I), _named("week", 0)),
    (re.compile(r"\blast\s+week\b", re.I), _named("week", 1)),
    (re.compile(r"\bthis\s+month\b", re.I), _named("month", 0)),
    (re.compile(r"\blast\s+month\b", re.I), _named("month", 1)),
    (re.compile(r"\bthis\s+year\b", re.I), _named("year", 0)),
    (re.compile(r"\blast\s+year\b", re.I), _named("year", 1)),
    # "in March" but not "in March 2023" (an absolute pattern reads that) nor "march on"
    (
        re.compile(
            rf"\b(?:in|during|since|of|from|after|before|until)\s+(?:early\s+|late\s+|mid-?)?"
            rf"{_BARE_MON}\b(?!,?\s*(?:19|20)\d\d)",
            re.I,
        ),
        _bare_month,
    ),
]


def in_spans(times: npt.NDArray[np.float64], spans: list[Span]) -> npt.NDArray[np.bool_]:
    """Which epoch-second ``times`` fall in a span widened by ``TIME_TOLERANCE``."""
    hit = np.zeros(times.shape, dtype=bool)
    pad = TIME_TOLERANCE.total_seconds()
    for start, end in spans:
        hit |= (times >= start.timestamp() - pad) & (times < end.timestamp() + pad)
    return hit
