"""Calibrated relevance and abstention: bounds, monotonicity, empty answers with a hint,
context packs that leave out (and report) what is not relevant to the task."""

from __future__ import annotations

import itertools

import pytest

from memsvc import Actor, ContextRequest, MemoryDraft, MemoryService, ProjectCreate, SearchQuery
from memsvc.domain import DEFAULT_MIN_RELEVANCE, Kind
from memsvc.retrieval.analysis import named_terms
from memsvc.retrieval.context import LOW_RELEVANCE
from memsvc.retrieval.lexical import LexicalIndex
from memsvc.retrieval.relevance import (
    DEFAULT_CALIBRATION,
    LEXICAL_ONLY,
    NOTES_V2,
    NOTES_V3,
    WITH_MAXSIM,
    WITH_MAXSIM_V1,
    Evidence,
    calibration_for,
    coverage,
    with_maxsim,
)
from memsvc.retrieval.temporal import date_phrases

GRID = [x / 10 for x in range(-10, 11)]


@pytest.mark.parametrize("cal", [DEFAULT_CALIBRATION, NOTES_V2, WITH_MAXSIM, LEXICAL_ONLY])
def test_relevance_stays_in_bounds_and_rises_with_each_signal(cal: object) -> None:
    rel = cal.relevance  # type: ignore[attr-defined]
    for cosine, cover in itertools.product(GRID, [c / 10 for c in range(11)]):
        value = rel(cosine, cover)
        assert 0.0 <= value <= 1.0
        assert rel(cosine + 0.1, cover) >= value
        assert rel(cosine, cover + 0.1) >= value
    assert rel(1e9, 1e9) == pytest.approx(1.0) and rel(-1e9, -1e9) == pytest.approx(0.0)


def test_minilm_calibration_separates_strong_from_absent_evidence() -> None:
    rel = DEFAULT_CALIBRATION.relevance
    assert rel(0.05, 0.0) < 0.1  # unrelated text: near-orthogonal, no shared words
    assert rel(0.7, 0.8) > 0.9  # a paraphrase that shares most of the query's words
    assert calibration_for("minilm-l6-384") is DEFAULT_CALIBRATION
    assert calibration_for("hash-64") is LEXICAL_ONLY


def test_coverage_weighs_terms_by_idf_and_neighbours_at_their_weight() -> None:
    assert coverage([1.0, 3.0], [True, False], [False, False], 0.5) == pytest.approx(0.25)
    assert coverage([1.0, 3.0], [False, False], [False, True], 0.5) == pytest.approx(0.375)
    assert coverage([], [], [], 0.5) == 0.0
    index = LexicalIndex()
    for row, text in enumerate(["redis cache settings", "redis cluster", "postgres invoices"]):
        index.put(row, text)
    # "invoices" is rarer than "redis": covering it covers more of the query
    got = index.coverage("redis invoices", [0, 2], [-1, -1])
    assert 0.0 < got[0] < 0.5 < got[1] < 1.0
    assert index.coverage("kubernetes helm", [0, 1, 2], [-1, -1, -1]) == [0.0, 0.0, 0.0]


def test_optional_terms_count_only_where_a_memory_holds_them() -> None:
    # term 1 (weight 3) optional: missing, it leaves the total; held or lent, it counts
    assert coverage([1.0, 3.0], [True, False], [False, False], 0.5, [False, True]) == 1.0
    assert coverage([1.0, 3.0], [False, True], [False, False], 0.5, [False, True]) == 0.75
    assert coverage([1.0, 3.0], [True, False], [False, True], 0.5, [False, True]) == 0.625
    assert coverage([3.0], [False], [False], 0.5, [True]) == 0.0  # a date alone, not held
    # without optional terms it is the plain coverage
    assert coverage([1.0, 3.0], [True, False], [False, False], 0.5, [False, False]) == 0.25


def test_date_phrases_are_the_absolute_dates_as_written() -> None:
    text = "What did Maria plan on the evening of 7 July, 2023 and in August 2023?"
    assert date_phrases(text) == ["7 July, 2023", "August 2023"]
    assert date_phrases("What did we ship in 2022?") == ["2022"]
    # relative dates need a reference time and are words a memory may well hold
    assert date_phrases("what happened last week, in March?") == []


def test_coverage_undated_leaves_out_the_dates_a_memory_does_not_spell() -> None:
    index = LexicalIndex()
    texts = ["Maria started a pottery class", "Maria went hiking", "the pottery kiln broke"]
    for row, text in enumerate(texts):
        index.put(row, text)
    query = "What class did Maria start on 3 June, 2023?"
    covers, undated, unknown, _ = index.evidence(query, [0, 1], [-1, -1])
    assert covers == index.coverage(query, [0, 1], [-1, -1])
    # row 0 holds every undated term: the date's words, which no row holds, do not count
    assert undated[0] == pytest.approx(1.0) and covers[0] < 0.5
    assert 0.0 < undated[1] < undated[0]
    assert unknown == 0.0  # every word outside the date is known to the project
    # a memory that spells the date gets credit for it like for any other word
    index.put(3, "On 3 June 2023 Maria started a pottery class")
    _, held, _, _ = index.evidence(query, [3], [-1])
    assert held == [pytest.approx(1.0)]


def test_unknown_is_the_share_of_the_query_the_project_never_saw() -> None:
    index = LexicalIndex()
    for row, text in enumerate(["John adopted a dog", "John likes hiking", "a long walk"]):
        index.put(row, text)
    assert index.evidence("What dog did John adopt?", [0], [-1])[2] == 0.0
    _, _, unknown, _ = index.evidence("What dog did Nate adopt?", [0], [-1])
    assert 0.0 < unknown < 1.0  # "nate" (never seen: the highest IDF) of dog, nate, adopt
    assert index.evidence("kubernetes helm", [0], [-1])[2] == 1.0
    assert index.evidence("kubernetes in May 2022", [0], [-1])[2] == 1.0  # dates left out
    assert index.evidence("the", [0], [-1]) == ([0.0], [0.0], 0.0, 0.0)  # no terms at all
    index.clear(0)  # a term whose postings emptied is unknown again
    assert index.evidence("adopted", [1], [-1])[2] == 1.0


def test_unnamed_is_the_share_of_the_query_names_the_project_never_mentions() -> None:
    index = LexicalIndex()
    for row, text in enumerate(["John adopted a dog", "Maria likes hiking", "a long walk"]):
        index.put(row, text)
    unnamed = lambda q: index.evidence(q, [0], [-1])[3]  # noqa: E731
    assert unnamed("What dog did John adopt?") == 0.0
    assert unnamed("What dog did Nate adopt?") == 1.0
    assert unnamed("Did John or Nate adopt a dog?") == 0.5
    assert unnamed("what dog did nate adopt?") == 0.0  # no capitals: no names to read
    assert unnamed("What did John adopt in May 2023?") == 0.0  # months are not names
    assert unnamed("When Did Nate Adopt The Dog Of His Dreams?") == 0.0  # title case
    index.clear(0)  # a name whose postings emptied is missing again
    assert unnamed("What dog did John adopt?") == 1.0


def test_named_terms_reads_capitalised_words_that_do_not_open_a_sentence() -> None:
    assert named_terms("What is Nate's favorite genre?") == {"nate"}
    assert named_terms("Where did we put the cache? Redis holds it.") == set()
    assert named_terms("OpenSearch tuning for Nate") == {"opensearch", "nate"}
    assert named_terms("I think we moved Kafka to the EU in March") == {"kafka"}
    assert named_terms("write a SQL migration for the API") == set()  # acronyms
    assert named_terms("") == set()


def test_v4_reads_undated_coverage_and_falls_with_unknown_and_unnamed_shares() -> None:
    cal = DEFAULT_CALIBRATION
    assert cal.name == "minilm-fit-notes-v4" and cal.undated
    assert cal.w_unknown < 0.0 and cal.w_unnamed < 0.0
    ev = Evidence(cosine=0.4, coverage=0.2, coverage_undated=0.6, unknown=0.0)
    assert cal.of(ev) == cal.relevance(0.4, 0.6)
    assert cal.of(ev._replace(unknown=0.5)) < cal.of(ev)
    assert cal.of(ev._replace(unnamed=1.0)) < cal.of(ev._replace(unnamed=0.5)) < cal.of(ev)
    assert NOTES_V3.of(ev._replace(unnamed=1.0)) == NOTES_V3.of(ev)  # fitted without it
    assert NOTES_V2.of(ev) == NOTES_V2.relevance(0.4, 0.2)  # v2 reads the plain coverage
    assert WITH_MAXSIM.of(ev, 0.5) == WITH_MAXSIM.relevance(0.4, 0.6, 0.5)  # undated, as v4
    assert WITH_MAXSIM.of(ev._replace(unnamed=1.0), 0.5) < WITH_MAXSIM.of(ev, 0.5)
    assert WITH_MAXSIM_V1.of(ev, 0.5) == WITH_MAXSIM_V1.relevance(0.4, 0.2, 0.5)
    assert with_maxsim(DEFAULT_CALIBRATION) is WITH_MAXSIM and with_maxsim(LEXICAL_ONLY) is None


@pytest.fixture
def shop(service: MemoryService, actor: Actor) -> MemoryService:
    service.create_project(actor, ProjectCreate(id="shop"))
    for kind, text in [
        ("rule", "money amounts are integer cents, never floats"),
        ("decision", "orders are stored in postgres and the cart in redis"),
        ("fact", "the checkout endpoint retries payments through stripe"),
        ("preference", "prefers small pull requests"),
        ("fact", "product images are resized into three sizes in the image worker"),
    ]:
        service.add_memory(actor, "shop", MemoryDraft(kind=Kind(kind), content=text))
    service.write_handoff(actor, "shop", "wired the checkout", next_steps=["add refunds"])
    return service


def test_every_hit_carries_relevance_beside_score_and_parts(
    shop: MemoryService, actor: Actor
) -> None:
    hits = shop.search_memories(actor, "shop", SearchQuery(query="where are orders stored"))
    assert hits and hits[0].memory.content.startswith("orders are stored in postgres")
    for h in hits:
        assert 0.0 <= h.relevance <= 1.0 and h.relevance >= DEFAULT_MIN_RELEVANCE
        assert {"cosine", "coverage", "coverage_undated", "unknown", "unnamed", "final"} <= set(
            h.parts
        )
        assert h.parts["unknown"] == 0.0  # every word of the query is in the project


def test_unrelated_query_returns_nothing_at_the_default_and_everything_at_zero(
    shop: MemoryService, actor: Actor
) -> None:
    query = SearchQuery(query="kubernetes helm chart values")
    assert shop.search_memories(actor, "shop", query) == []
    hint = query.empty_hint()
    assert "min_relevance=0" in hint and "No memory" in hint
    weak = shop.search_memories(actor, "shop", query.model_copy(update={"min_relevance": 0.0}))
    assert len(weak) >= 5 and all(h.relevance < DEFAULT_MIN_RELEVANCE for h in weak)


def test_min_relevance_is_a_floor_on_every_returned_hit(shop: MemoryService, actor: Actor) -> None:
    everything = shop.search_memories(
        actor, "shop", SearchQuery(query="checkout payments stripe orders", min_relevance=0.0)
    )
    relevances = sorted(h.relevance for h in everything)
    floor = relevances[len(relevances) // 2]
    kept = shop.search_memories(
        actor, "shop", SearchQuery(query="checkout payments stripe orders", min_relevance=floor)
    )
    assert kept and all(h.relevance >= floor for h in kept)
    assert {h.memory.id for h in kept} == {h.memory.id for h in everything if h.relevance >= floor}


def test_min_relevance_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError):
        SearchQuery(query="x", min_relevance=1.5)


def test_context_for_an_unrelated_task_keeps_rules_and_handoff_and_reports_the_rest(
    shop: MemoryService, actor: Actor
) -> None:
    pack = shop.get_context(actor, "shop", ContextRequest(task="kubernetes helm chart values"))
    kinds = sorted(m.kind.value for m in pack.items)
    assert kinds == ["handoff", "rule"]
    low = [o for o in pack.omitted if o.reason == LOW_RELEVANCE]
    assert {o.kind for o in low} <= {Kind.DECISION, Kind.PREFERENCE, Kind.FACT}
    assert len(low) == 4 and all(o.relevance is not None for o in low)
    assert all(o.relevance < DEFAULT_MIN_RELEVANCE for o in low)  # type: ignore[operator]
    assert pack.min_relevance == DEFAULT_MIN_RELEVANCE


def test_context_for_a_related_task_packs_the_relevant_memory(
    shop: MemoryService, actor: Actor
) -> None:
    pack = shop.get_context(actor, "shop", ContextRequest(task="how are orders stored"))
    contents = [m.content for m in pack.items]
    assert any(c.startswith("orders are stored in postgres") for c in contents)
    packed = {m.id for m in pack.items}
    assert not packed & {o.id for o in pack.omitted}
    assert all(o.reason == LOW_RELEVANCE for o in pack.omitted)
