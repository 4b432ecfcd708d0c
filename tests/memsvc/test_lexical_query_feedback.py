"""The issue-14 switches, off by default: query-side IDF weighting of the terms, weighted
extra terms, and pseudo-relevance feedback from the top episode (unit and end to end)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from memsvc import Actor, Kind, MemoryDraft, MemoryService, ProjectCreate, SearchQuery
from memsvc.retrieval import candidates, lexical
from memsvc.retrieval.lexical import LexicalIndex

TEXTS = [
    "kafka broker rotate",  # the rare word
    "deploy deploy schedule",  # the common word
    "deploy gateway",
    "deploy billing",
    "deploy invoice",
]
NO_PREV = np.full(len(TEXTS), -1, dtype=np.int64)


def _index() -> LexicalIndex:
    index = LexicalIndex()
    for row, text in enumerate(TEXTS):
        index.put(row, text)
    return index


def test_switches_are_off_by_default() -> None:
    assert lexical.QUERY_IDF_WEIGHTING is False
    assert candidates.EPISODE_FEEDBACK is False


def test_query_idf_weighting_lowers_the_common_term(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _index()
    plain = index.scores("kafka deploy", len(TEXTS), NO_PREV)
    monkeypatch.setattr(lexical, "QUERY_IDF_WEIGHTING", True)
    weighted = index.scores("kafka deploy", len(TEXTS), NO_PREV)
    assert weighted[0] == pytest.approx(plain[0])  # the rarest term keeps weight 1
    assert 0 < weighted[1] < plain[1]  # the common one counts less
    assert weighted[1] / weighted[0] < plain[1] / plain[0]


def test_extra_terms_add_their_weighted_score_only() -> None:
    index = _index()
    both = index.scores("kafka gateway", len(TEXTS), NO_PREV)
    mixed = index.scores("kafka", len(TEXTS), NO_PREV, {"gateway": 0.5, "kafka": 0.1})
    half = index.scores("kafka", len(TEXTS), NO_PREV, {"gateway": 0.5})
    assert mixed.tolist() == half.tolist()  # a query term keeps its own weight 1
    assert mixed[0] == pytest.approx(both[0])
    assert mixed[2] == pytest.approx(0.5 * both[2])  # "gateway" at half weight


def test_feedback_terms_are_the_rows_strongest_new_terms() -> None:
    index = _index()
    terms = index.feedback_terms("kafka", np.array([0, 1]))
    assert "kafka" not in terms
    assert max(terms.values()) == pytest.approx(lexical.FEEDBACK_WEIGHT)
    assert set(terms) <= {"broker", "rotat", "rotate", "deploy", "schedul", "schedule"}
    assert terms["broker"] > terms["deploy"]  # rarer, same tf
    assert len(terms) <= lexical.FEEDBACK_TERMS
    assert index.feedback_terms("kafka broker rotate", np.array([0])) == {}


def _add(service: MemoryService, actor: Actor, texts: list[str], when: datetime) -> list[str]:
    drafts = [MemoryDraft(kind=Kind.FACT, content=t, valid_from=when) for t in texts]
    return [r.memory.id for r in service.add_memories(actor, "p", drafts)]


def test_episode_feedback_lifts_a_turn_sharing_the_top_episode_words(
    service: MemoryService, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.create_project(actor, ProjectCreate(id="p"))
    _add(
        service,
        actor,
        ["Ann: my greyhound Pixel", "Bo: Pixel loves the beach", "Ann: weather"],
        datetime(2023, 5, 8, tzinfo=UTC),
    )
    far = _add(service, actor, ["Cy: Pixel again at the beach"], datetime(2023, 9, 1, tzinfo=UTC))
    query = SearchQuery(query="greyhound", limit=10, min_relevance=0.0)
    before = {h.memory.id: h for h in service.search_memories(actor, "p", query)}
    monkeypatch.setattr(candidates, "EPISODE_FEEDBACK", True)
    after = {h.memory.id: h for h in service.search_memories(actor, "p", query)}
    # the other session shares no query word, only the top episode's "pixel", "beach"
    assert not before[far[0]].parts["lexical_score"]
    assert after[far[0]].parts["lexical_score"] > 0
