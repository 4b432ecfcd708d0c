"""Hybrid scoring: fusion arithmetic, episode aggregation, and the service end to end
with the fake embedder (neighbours, time, explained parts, determinism)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from memsvc import Actor, Kind, MemoryDraft, MemoryService, ProjectCreate, SearchQuery
from memsvc.retrieval import hybrid
from memsvc.retrieval.timeline import build_timeline


def test_score_rows_combines_parts_and_masks() -> None:
    n = 4
    tl = build_timeline(
        np.array([0.0, 0.0, 1e6, 1e6]), np.arange(4.0), list("abcd"), np.ones(n, dtype=bool)
    )
    lex = np.array([2.0, 0.0, 1.0, 0.0])
    dense = np.array([0.1, 0.2, 0.3, 0.9])
    mask = np.array([True, True, True, False])
    s = hybrid.score_rows("plain words", lex, dense, np.zeros(n), tl, mask)
    assert s.lexical.tolist() == [1.0, 0.0, 0.5, 0.0]
    assert s.fused[3] == -np.inf
    assert s.time_match.sum() == 0
    # episode 0 = rows a, b: both get the mean of their base scores
    assert s.episode[0] == s.episode[1] > 0


def test_candidates_break_ties_by_id() -> None:
    tl = build_timeline(np.zeros(3), np.zeros(3), ["c", "a", "b"], np.ones(3, dtype=bool))
    zero = np.zeros(3)
    s = hybrid.score_rows("q", zero, zero, zero, tl, np.ones(3, dtype=bool))
    ids = [c.id for c in hybrid.candidates_from(s, ["c", "a", "b"], np.ones(3, dtype=bool), 3)]
    assert ids == ["a", "b", "c"]


def _add(service: MemoryService, actor: Actor, texts: list[str], when: datetime) -> list[str]:
    drafts = [MemoryDraft(kind=Kind.FACT, content=t, valid_from=when) for t in texts]
    return [r.memory.id for r in service.add_memories(actor, "p", drafts)]


def test_short_reply_is_found_through_its_neighbour(service: MemoryService, actor: Actor) -> None:
    service.create_project(actor, ProjectCreate(id="p"))
    first = datetime(2023, 5, 8, tzinfo=UTC)
    _add(service, actor, ["Ann: Did you ever adopt the greyhound?", "Bo: Yes, last May!"], first)
    _add(service, actor, ["Ann: The weather is grim", "Bo: Rain all week"], datetime(2023, 9, 1))
    hits = service.search_memories(actor, "p", SearchQuery(query="greyhound adopt", limit=4))
    texts = [h.memory.content for h in hits]
    assert texts[:2] == ["Ann: Did you ever adopt the greyhound?", "Bo: Yes, last May!"]
    parts = hits[1].parts
    assert parts["lexical_score"] and parts["lexical_score"] > 0  # via the neighbour field
    for key in ("dense_score", "lexical_scaled", "time_match", "episode", "fused", "final"):
        assert key in parts


def test_named_date_lifts_memories_of_that_time(service: MemoryService, actor: Actor) -> None:
    service.create_project(actor, ProjectCreate(id="p"))
    _add(service, actor, ["Cy: I baked bread today"], datetime(2022, 3, 1, tzinfo=UTC))
    _add(service, actor, ["Cy: I baked a cake today"], datetime(2022, 11, 9, tzinfo=UTC))
    # the ranking is under test here, not abstention: keep every ranked hit
    query = SearchQuery(query="What did Cy bake on 9 November, 2022?", limit=2, min_relevance=0)
    hits = service.search_memories(actor, "p", query)
    assert hits[0].memory.content == "Cy: I baked a cake today"
    assert hits[0].parts["time_match"] == 1.0 and hits[1].parts["time_match"] == 0.0


def test_search_is_deterministic(service: MemoryService, actor: Actor) -> None:
    service.create_project(actor, ProjectCreate(id="p"))
    _add(service, actor, [f"note {i} about tea" for i in range(12)], datetime(2023, 1, 1))
    q = SearchQuery(query="tea", limit=10)
    first = [(h.memory.id, h.score) for h in service.search_memories(actor, "p", q)]
    assert first == [(h.memory.id, h.score) for h in service.search_memories(actor, "p", q)]


def test_deleted_memory_leaves_lexical_index(service: MemoryService, actor: Actor) -> None:
    service.create_project(actor, ProjectCreate(id="p"))
    ids = _add(service, actor, ["zebra crossing", "lion pride"], datetime(2023, 1, 1))
    service.delete_memory(actor, "p", ids[0])
    hits = service.search_memories(actor, "p", SearchQuery(query="zebra", limit=5))
    assert ids[0] not in [h.memory.id for h in hits]
