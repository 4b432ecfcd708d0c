"""Relative time in queries, read against a fixed reference time (``as_of`` or now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from memsvc import Actor, MemoryDraft, MemoryService, ProjectCreate, SearchQuery
from memsvc.clock import utcnow
from memsvc.domain import Kind
from memsvc.retrieval.temporal import date_phrases, query_spans, time_spans

REF = datetime(2024, 3, 14, 15, 30, tzinfo=UTC)  # a Thursday


def d(y: int, m: int, day: int) -> datetime:
    return datetime(y, m, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("what did we decide yesterday", (d(2024, 3, 13), d(2024, 3, 14))),
        ("notes from today", (d(2024, 3, 14), d(2024, 3, 15))),
        ("3 days ago", (d(2024, 3, 11), d(2024, 3, 12))),
        ("the deploy last week", (d(2024, 3, 4), d(2024, 3, 11))),
        ("two weeks ago", (d(2024, 2, 26), d(2024, 3, 4))),
        ("a week ago", (d(2024, 3, 4), d(2024, 3, 11))),
        ("last Tuesday", (d(2024, 3, 12), d(2024, 3, 13))),
        ("on Thursday", (d(2024, 3, 7), d(2024, 3, 8))),  # today is Thursday: a week ago
        ("last month", (d(2024, 2, 1), d(2024, 3, 1))),
        ("three months ago", (d(2023, 12, 1), d(2024, 1, 1))),
        ("last year", (d(2023, 1, 1), d(2024, 1, 1))),
        ("in March", (d(2024, 3, 1), d(2024, 4, 1))),
        ("in May", (d(2023, 5, 1), d(2023, 6, 1))),  # May is after the reference month
        ("since 3 May 2023", (d(2023, 5, 3), REF)),
        ("since February", (d(2024, 2, 1), REF)),
        ("since last week", (d(2024, 3, 4), REF)),
        ("in the past 10 days", (REF - timedelta(days=10), REF)),
        ("the last two weeks", (REF - timedelta(days=14), REF)),
        ("on May 3rd", (d(2023, 5, 3), d(2023, 5, 4))),  # after the reference: last year's
        ("the 3rd of March", (d(2024, 3, 3), d(2024, 3, 4))),
        ("since March 3", (d(2024, 3, 3), REF)),
        ("the week of March 6th", (d(2024, 3, 4), d(2024, 3, 11))),  # Monday to Monday
        ("last weekend", (d(2024, 3, 9), d(2024, 3, 11))),
        ("over the weekend", (d(2024, 3, 9), d(2024, 3, 11))),
        ("last summer", (d(2023, 6, 1), d(2023, 9, 1))),
        ("in the spring", (d(2024, 3, 1), d(2024, 6, 1))),  # begun on 1 March
        ("last winter", (d(2023, 12, 1), d(2024, 3, 1))),  # the one that ended on 1 March
        ("last spring", (d(2023, 3, 1), d(2023, 6, 1))),  # said in spring: the one before
    ],
)
def test_relative_dates_resolve_against_the_reference(text: str, span: tuple) -> None:  # type: ignore[type-arg]
    assert query_spans(text, REF) == [span]


def test_absolute_dates_are_unchanged_and_relative_ones_need_a_reference() -> None:
    assert query_spans("in March 2023", REF) == [(d(2023, 3, 1), d(2023, 4, 1))]
    assert query_spans("on 9 November, 2022", REF) == [(d(2022, 11, 9), d(2022, 11, 10))]
    assert query_spans("what happened yesterday") == []
    assert query_spans("in March") == []  # no reference: a month alone stays ambiguous


def test_days_ranges_and_seasons_with_a_year_are_absolute() -> None:
    assert query_spans("May 3-5, 2023") == [(d(2023, 5, 3), d(2023, 5, 6))]
    assert query_spans("between 10 and 12 May 2023") == [(d(2023, 5, 10), d(2023, 5, 13))]
    assert query_spans("on the 3rd of May 2023") == [(d(2023, 5, 3), d(2023, 5, 4))]
    assert query_spans("in the summer of 2023") == [(d(2023, 6, 1), d(2023, 9, 1))]
    assert query_spans("winter 2023") == [
        (d(2023, 1, 1), d(2023, 3, 1)),
        (d(2023, 12, 1), d(2024, 1, 1)),
    ]
    # a day without a year takes the year named after it, with or without a reference
    both = [(d(2023, 8, 15), d(2023, 8, 16)), (d(2023, 8, 11), d(2023, 8, 12))]
    assert query_spans("between August 11 and August 15 2023") == both
    assert query_spans("between August 11 and August 15 2023", REF) == both
    assert date_phrases("between August 11 and August 15 2023") == ["August 11", "August 15 2023"]
    assert date_phrases("on May 3rd") == []  # needs a reference: not an absolute date
    # "before <a date>" is the reference of the relative date in front of it
    assert query_spans("last weekend before April 10, 2023", REF) == [
        (d(2023, 4, 10), d(2023, 4, 11)),
        (d(2023, 4, 8), d(2023, 4, 10)),
    ]
    # no such range, no such day: what is left of it is read
    assert (d(2023, 5, 3), d(2023, 5, 6)) not in query_spans("May 5-3, 2023")
    assert query_spans("31 February 2023") == [(d(2023, 2, 1), d(2023, 3, 1))]


def test_words_that_only_look_like_dates_are_not_read() -> None:
    for text in [
        "the last day of school",
        "march on",
        "may I deploy",
        "past tense",
        "we may 3x it",
        "Spring Boot config",
        "the fall of the database",
        "the March 10:30 call",
    ]:
        assert query_spans(text, REF) == [], text


def _week_before(ref: datetime) -> datetime:
    """A moment inside the calendar week before ``ref``'s."""
    monday = ref.replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=ref.weekday())
    return monday - timedelta(days=4)


def test_as_of_anchors_relative_time_in_search(service: MemoryService, actor: Actor) -> None:
    # as_of in the future sees every memory written now, and moves "last week" with it
    soon = utcnow() + timedelta(days=40)
    earlier = soon - timedelta(days=28)  # still after every memory was written
    service.create_project(actor, ProjectCreate(id="p"))
    for when, text in [
        (_week_before(soon), "we discussed the release plan for the mobile app"),
        (_week_before(earlier), "we discussed the release plan for the web app"),
    ]:
        service.add_memory(actor, "p", MemoryDraft(kind=Kind.FACT, content=text, valid_from=when))
    query = SearchQuery(query="release plan we discussed last week", as_of=soon, min_relevance=0)
    hits = service.search_memories(actor, "p", query)
    assert "mobile" in hits[0].memory.content
    assert hits[0].parts["time_match"] == 1.0 and hits[1].parts["time_match"] == 0.0
    moved = service.search_memories(actor, "p", query.model_copy(update={"as_of": earlier}))
    assert "web" in moved[0].memory.content and moved[0].parts["time_match"] == 1.0


def test_relative_time_without_as_of_is_read_against_now(
    service: MemoryService, actor: Actor
) -> None:
    now = utcnow()
    service.create_project(actor, ProjectCreate(id="p"))
    for when, text in [
        (now - timedelta(days=1), "the nightly import failed on the invoices table"),
        (now - timedelta(days=40), "the nightly import failed on the customers table"),
        # unrelated rows, so that the dense part's min-max scale is not set by these two
        *((now - timedelta(days=90 + i), f"lunch menu item {i} was soup") for i in range(3)),
    ]:
        service.add_memory(actor, "p", MemoryDraft(kind=Kind.FACT, content=text, valid_from=when))
    hits = service.search_memories(
        actor, "p", SearchQuery(query="which import failed yesterday", min_relevance=0)
    )
    assert "invoices" in hits[0].memory.content and hits[0].parts["time_match"] == 1.0


def test_an_event_named_after_since_or_before_anchors_a_span() -> None:
    times = np.array(
        [d(2024, 1, 5).timestamp(), d(2024, 2, 1).timestamp(), d(2024, 3, 1).timestamp()]
    )
    mask = np.ones(3, dtype=bool)
    held = {"postgr": [0, 1], "migrat": [1, 2], "launch": [2]}

    def holding(terms: list[str]) -> np.ndarray:  # type: ignore[type-arg]
        sets = [set(held.get(t, [])) for t in terms]
        return np.array(sorted(set.intersection(*sets)), dtype=np.int64)

    # the earliest row holding every word of the event; its last words dropped if none does
    assert time_spans("what broke since the Postgres migration?", REF, holding, times, mask) == [
        (d(2024, 2, 1), REF)
    ]
    assert time_spans("since the migration of the web app", REF, holding, times, mask) == [
        (d(2024, 2, 1), REF)
    ]
    assert time_spans("decisions before the launch", REF, holding, times, mask) == [
        (datetime(1970, 1, 1, tzinfo=UTC), d(2024, 3, 1))
    ]
    # masked rows do not anchor; nor do events no row holds; dates are read as dates
    assert time_spans("since the launch", REF, holding, times, np.array([1, 1, 0], bool)) == []
    assert time_spans("since the outage", REF, holding, times, mask) == []
    assert time_spans("since the summer", REF, holding, times, mask) == [(d(2023, 6, 1), REF)]
    assert time_spans("since the launch", None, holding, times, mask) == []


def test_since_an_event_ranks_what_came_after_it(service: MemoryService, actor: Actor) -> None:
    now = utcnow()
    service.create_project(actor, ProjectCreate(id="p"))
    for days, text in [
        (60, "the checkout page timed out under load"),
        (40, "we finished the Postgres migration of the orders database"),
        (10, "the checkout page timed out under load again"),
        *((200 + i, f"lunch menu item {i} was soup") for i in range(3)),
    ]:
        when = now - timedelta(days=days)
        service.add_memory(actor, "p", MemoryDraft(kind=Kind.FACT, content=text, valid_from=when))
    query = SearchQuery(
        query="checkout page timed out since the Postgres migration", min_relevance=0
    )
    hits = [h for h in service.search_memories(actor, "p", query) if "checkout" in h.memory.content]
    assert hits[0].memory.content.endswith("again") and hits[0].parts["time_match"] == 1.0
    assert hits[1].parts["time_match"] == 0.0
    # without the anchor no memory is in a named time
    plain = query.model_copy(update={"query": "checkout page timed out under load"})
    assert all(h.parts["time_match"] == 0.0 for h in service.search_memories(actor, "p", plain))
