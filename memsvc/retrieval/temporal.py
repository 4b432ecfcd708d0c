"""Dates named in a query as time spans, and which memories' times fall in them.

Absolute dates ("on 9 November, 2022", "the 3rd of May 2023", "May 3-5, 2023", "in August
2023", "in the summer of 2023", "in 2022"; a day without a year takes the year named after
it, as in "August 11 and August 15, 2023") and relative ones read against the query's
reference time (``as_of`` when given, else now): "today", "yesterday", "3 days ago", "last
week", "two weeks ago", "last month", "last year", "last Tuesday", "last weekend", "in
March" / "on May 3rd" / "last summer" (the latest one not after the reference), "the past
10 days", "the week of <a day>" (the week holding it), "since <any of these>" (from it to
the reference); a relative date followed by "before <an absolute date>" is read against
that date. ``time_spans`` also reads events as anchors: "since the migration", "after our
Postgres upgrade", "before the launch" (the time of the earliest memory holding the
event's words, see there). Weeks start on Monday; seasons are the northern meteorological ones
(spring March-May, summer June-August, autumn September-November, winter December-February;
"the winter of 2023" is that year's January, February and December); all calendar
arithmetic is in UTC. A memory's time is when what it says happened (``valid_from``) or
else when it was written."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.analysis import STOP_WORDS, analyze

__all__ = ["TIME_TOLERANCE", "Span", "date_phrases", "in_spans", "query_spans", "time_spans"]

TIME_TOLERANCE = timedelta(days=7)
"""A named day or month also matches memories up to a week either side of it (people
write about an event in the days after it)."""

Span = tuple[datetime, datetime]

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MON = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_DAY2 = r"(?P<day2>\d{1,2})(?:st|nd|rd|th)?"
_TO = r"\s*(?:-|\u2013|to|through|until|and|&)\s*"
_OF = r"(?:the\s+)?" + _DAY + r"\s+of\s+" + _MON
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_SEASON = r"(?P<season>spring|summer|autumn|fall|winter)"
_PATTERNS = [
    re.compile(rf"\b{_MON}\s+{_DAY}{_TO}{_DAY2},?\s+{_YEAR}\b", re.I),  # May 3-5, 2023
    re.compile(rf"\b{_DAY}{_TO}{_DAY2}\s+{_MON},?\s+{_YEAR}\b", re.I),  # 3 to 5 May 2023
    re.compile(rf"\b{_OF},?\s+{_YEAR}\b", re.I),  # the 3rd of May, 2023
    re.compile(rf"\b{_DAY}\s+{_MON},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_MON}\s+{_DAY},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_YEAR}-(?P<monn>\d\d)-(?P<day>\d\d)\b"),
    re.compile(rf"\b{_MON},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b(?:the\s+)?{_SEASON}\s+(?:of\s+)?{_YEAR}\b", re.I),
    re.compile(rf"\b{_YEAR}\b"),
]
# A day with no year ("August 11", "the 3rd of May"): the year named after it in the query
# ("August 11 and August 15, 2023"), else, against a reference, the latest such day not
# after it. Not "may 3" in lower case (the verb), nor a day followed by a time or number.
_YEARLESS = [
    re.compile(rf"\b{_MON}\s+{_DAY}{_TO}{_DAY2}\b(?![:\d])", re.I),
    re.compile(rf"\b{_OF}\b", re.I),
    re.compile(rf"\b{_MON}\s+{_DAY}\b(?![:.,]?\d)", re.I),
    re.compile(rf"\b{_DAY}\s+{_MON}\b", re.I),
]
_A_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_WEEK_OF = re.compile(r"\bweek\s+of\s+(?:the\s+)?$", re.I)


def _season(year: int, season: str) -> list[Span]:
    start = _SEASONS[season.lower()]
    if start == 12:  # the calendar year's winter months: January, February and December
        return [
            (datetime(year, 1, 1, tzinfo=UTC), datetime(year, 3, 1, tzinfo=UTC)),
            (datetime(year, 12, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)),
        ]
    return [(datetime(year, start, 1, tzinfo=UTC), datetime(year, start + 3, 1, tzinfo=UTC))]


def _span(fields: dict[str, str | None]) -> list[Span]:
    """The spans of an absolute date's fields ([] for one that is no date: "31 February")."""
    year = int(fields["year"] or 0)
    mon_name, mon_num, day = fields.get("mon"), fields.get("monn"), fields.get("day")
    month = _MONTHS[mon_name.lower()] if mon_name else int(mon_num) if mon_num else None
    if fields.get("season"):
        return _season(year, str(fields["season"]))
    try:
        if month and day:
            first, last = int(day), int(fields.get("day2") or day)
            if last < first:  # "May 5-3": not a range
                return []
            start = datetime(year, month, first, tzinfo=UTC)
            return [(start, datetime(year, month, last, tzinfo=UTC) + timedelta(days=1))]
        if month:
            start = datetime(year, month, 1, tzinfo=UTC)
            return [(start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC))]
        return [(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))]
    except ValueError:  # "31 February"
        return []


def _yearless(m: re.Match[str], text: str, ref: datetime | None) -> list[Span]:
    """A day with no year: in the year named after it in ``text``, else the latest such
    day not after ``ref`` (none without one)."""
    if m.group("mon") == "may":
        return []  # "we may 2x it": the verb, not the month
    fields = m.groupdict()
    later = _A_YEAR.search(text, m.end())
    if later is not None:
        return _span({**fields, "year": later.group(0)})
    if ref is None:
        return []
    spans = _span({**fields, "year": str(ref.year)})
    if spans and spans[0][0] > ref:
        spans = _span({**fields, "year": str(ref.year - 1)})
    return spans


_Reader = Callable[[re.Match[str], str, datetime | None], list[Span]]


def _readings(text: str, at: datetime | None) -> list[tuple[int, int, list[Span], bool]]:
    """(start, end, spans, absolute) of each date in ``text``, in the order of the
    patterns (most specific first), none overlapping an earlier one; relative readings
    only against ``at``. A day with no year is absolute when a year follows it."""
    readers: list[tuple[re.Pattern[str], _Reader]] = [
        (p, lambda m, _t, _r: _span(m.groupdict())) for p in _PATTERNS
    ]
    readers += [(p, _yearless) for p in _YEARLESS]
    ref = at.astimezone(UTC) if at is not None else None
    if ref is not None:
        readers += [(p, _relative(f)) for p, f in _RELATIVE]
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, list[Span], bool]] = []
    for pattern, read in readers:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            spans = read(m, text, _anchor(text, m.end(), found) or ref)
            if spans:
                absolute = pattern in _PATTERNS or (
                    pattern in _YEARLESS and _A_YEAR.search(text, m.end()) is not None
                )
                taken.append((m.start(), m.end()))
                found.append((m.start(), m.end(), spans, absolute))
    return found


_BEFORE = re.compile(r"\s+(?:before|prior\s+to)\s+", re.I)


def _anchor(text: str, end: int, found: list[tuple[int, int, list[Span], bool]]) -> datetime | None:
    """The reference of a relative date followed by "before <an absolute date>" ("last
    weekend before April 10, 2023"): that date's start."""
    after = _BEFORE.match(text, end)
    if after is None:
        return None
    return next((spans[0][0] for a, _, spans, _ in found if a == after.end()), None)


def _relative(
    read: Callable[[re.Match[str], datetime], Span | list[Span] | None],
) -> _Reader:
    def reader(m: re.Match[str], _text: str, ref: datetime | None) -> list[Span]:
        assert ref is not None
        got = read(m, ref)
        return [] if got is None else got if isinstance(got, list) else [got]

    return reader


def date_phrases(text: str) -> list[str]:
    """The absolute dates named in ``text`` as written ("9 November, 2022", "August 2023",
    "2022", "August 11" before a year): the parts of it that ``query_spans`` reads
    without a reference time."""
    return [text[a:b] for a, b, _, absolute in sorted(_readings(text, None)) if absolute]


def query_spans(text: str, at: datetime | None = None) -> list[Span]:
    """Every date in ``text``, most specific reading first. Relative dates are read
    against ``at``; without it, only absolute dates are read (a month with no year is
    then left out as ambiguous)."""
    return _spans(text, at, _readings(text, at))


def _spans(
    text: str, at: datetime | None, readings: list[tuple[int, int, list[Span], bool]]
) -> list[Span]:
    """``query_spans`` from ``text``'s ``_readings``."""
    spans: list[Span] = []
    for start, end, found, _ in readings:
        before = text[max(0, start - 16) : start]
        if _WEEK_OF.search(before):  # "the week of June 5th": the week holding that day
            found = [
                (_day(s) - timedelta(days=s.weekday()), _day(s) + timedelta(days=7 - s.weekday()))
                for s, _ in found
            ]
        since = _SINCE.search(before) or _SINCE_IN.match(text[start:end])
        if since is not None and at is not None:
            found = [(found[0][0], max(found[-1][1], at.astimezone(UTC)))]
        spans.extend(found)
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


def _weekend(m: re.Match[str], ref: datetime) -> Span:
    """The latest weekend (Saturday and Sunday) begun by the reference day; "last weekend"
    said on a weekend is the one before."""
    back = (ref.weekday() - 5) % 7
    if m.group("which").lower() == "last" and back <= 1:
        back += 7
    start = _day(ref) - timedelta(days=back)
    return start, start + timedelta(days=2)


def _bare_season(m: re.Match[str], ref: datetime) -> list[Span]:
    """A season with no year: the latest one begun by the reference ("last summer" said
    in summer is the one before)."""
    first = _SEASONS[m.group("season").lower()]
    year = ref.year if (first, 1) <= (ref.month, ref.day) else ref.year - 1
    if first == 12 and ref.month <= 2:
        year = ref.year - 1
    start = datetime(year, first, 1, tzinfo=UTC)
    end = _month_start(year, first + 3)
    if m.group("which").lower() == "last" and start <= ref < end:
        start, end = start.replace(year=year - 1), end.replace(year=end.year - 1)
    return [(start, end)]


_UNIT = r"(?P<unit>days?|weeks?|months?|years?)"
_RELATIVE: list[
    tuple[re.Pattern[str], Callable[[re.Match[str], datetime], Span | list[Span] | None]]
] = [
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
    (re.compile(r"\b(?P<which>last|this|over\s+the|the)\s+weekend\b", re.I), _weekend),
    # "last summer", "in the spring", but not "Spring Boot" nor "the fall of Rome"
    (
        re.compile(
            r"\b(?P<which>in|during|over|last|this|since|through|until|before|after)\s+"
            rf"(?:the\s+)?{_SEASON}\b(?!\s+(?:of\s+)?(?:19|20)\d\d)",
            re.I,
        ),
        _bare_season,
    ),
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


_ANCHOR = re.compile(
    r"\b(?P<dir>since|after|before)\s+(?:the|our|my|their|his|her|its|that|this)\s+"
    r"(?P<words>[^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*){0,2})",
    re.I,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Rows = npt.NDArray[np.int64]


def time_spans(
    text: str,
    at: datetime | None,
    holding: Callable[[list[str]], Rows],
    times: npt.NDArray[np.float64],
    mask: npt.NDArray[np.bool_],
) -> list[Span]:
    """``query_spans`` plus events named as anchors, read against ``at``: "since / after
    the <event>" is from the event to ``at``, "before the <event>" up to it. The event is
    the words after the determiner up to the first stop word (at most three, "the Postgres
    migration"); its time is the earliest time of the ``mask``-ed rows holding all of them
    (``holding``: a keyword index's rows for analysed terms), dropping its last word until
    some row holds them. Not read without ``at`` or when no row holds even the first word."""
    readings = _readings(text, at)
    spans = _spans(text, at, readings)
    if at is None or not _ANCHOR.search(text):
        return spans
    dated = [(a, b) for a, b, _, _ in readings]
    for m in _ANCHOR.finditer(text):
        if any(a < m.end() and m.start("words") < b for a, b in dated):
            continue  # "since the summer", "after the 3rd of May": dates, read above
        words: list[str] = []
        for word in m.group("words").split():
            if word.lower() in STOP_WORDS:
                break
            words.append(word)
        terms = analyze(" ".join(words))
        rows = np.zeros(0, dtype=np.int64)
        while terms:
            rows = holding(terms)
            rows = rows[rows < mask.size]
            rows = rows[mask[rows]]
            if rows.size:
                break
            terms = terms[:-1]
        if not rows.size:
            continue
        event = datetime.fromtimestamp(float(times[rows].min()), UTC)
        ref = at.astimezone(UTC)
        if m.group("dir").lower() == "before":
            spans.append((_EPOCH, event))
        else:
            spans.append((event, max(event, ref)))
    return spans
