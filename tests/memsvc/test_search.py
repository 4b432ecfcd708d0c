"""Hybrid search: ranking, filters, explanations, isolation, supersession visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memsvc import Actor, MemoryDraft, MemoryPatch, MemoryService, ProjectCreate, SearchQuery
from memsvc.domain import Kind, ProvenanceIn, Status
from memsvc.errors import InvalidInput, ProjectNotFound
from memsvc.retrieval import hybrid
from memsvc.settings import Settings


@pytest.fixture
def two(service: MemoryService, actor: Actor) -> MemoryService:
    service.create_project(actor, ProjectCreate(id="acme"))
    service.create_project(actor, ProjectCreate(id="globex"))
    facts = [
        ("acme", "fact", "the billing service stores invoices in postgres"),
        ("acme", "decision", "we chose redis for the session cache"),
        ("acme", "rule", "never deploy billing on fridays"),
        ("acme", "preference", "prefers small pull requests"),
        ("globex", "fact", "globex billing runs on oracle invoices"),
    ]
    for project, kind, content in facts:
        service.add_memory(actor, project, MemoryDraft(kind=Kind(kind), content=content))
    return service


def q(text: str, **kw: object) -> SearchQuery:
    return SearchQuery(query=text, **kw)  # type: ignore[arg-type]


def test_search_ranks_the_matching_memory_first_with_score_parts(
    two: MemoryService, actor: Actor
) -> None:
    hits = two.search_memories(actor, "acme", q("where are invoices stored"))
    assert hits[0].memory.content.startswith("the billing service stores invoices")
    parts = hits[0].parts
    assert parts["lexical_scaled"] == 1.0  # the best lexical match of the query
    assert {"dense_score", "lexical_score", "episode", "fused", "recency"} <= set(parts)
    assert None not in parts.values()
    assert parts["final"] == pytest.approx(hits[0].score, abs=1e-6)
    assert "local via rest" in hits[0].provenance_line


def test_search_never_returns_other_projects(two: MemoryService, actor: Actor) -> None:
    for project, other in (("acme", "globex"), ("globex", "acme")):
        # every ranked hit, not only the relevant ones: isolation must hold for all of them
        query = q("billing invoices oracle postgres", limit=50, min_relevance=0)
        hits = two.search_memories(actor, project, query)
        assert hits and all(h.memory.project == project for h in hits), other


def test_unknown_project_search_fails_closed(two: MemoryService, actor: Actor) -> None:
    with pytest.raises(ProjectNotFound):
        two.search_memories(actor, "initech", q("billing"))


def test_kind_and_tag_filters(two: MemoryService, actor: Actor) -> None:
    hits = two.search_memories(actor, "acme", q("billing", kinds=[Kind.RULE]))
    assert [h.memory.kind for h in hits] == [Kind.RULE]
    tagged = two.add_memory(
        actor, "acme", MemoryDraft(kind=Kind.FACT, content="billing uses stripe", tags=["payments"])
    ).memory
    hits = two.search_memories(actor, "acme", q("billing", tags=["payments"]))
    assert [h.memory.id for h in hits] == [tagged.id]


def test_superseded_and_archived_are_hidden_by_default(two: MemoryService, actor: Actor) -> None:
    old = two.search_memories(actor, "acme", q("session cache redis"))[0].memory
    new = two.supersede_memory(
        actor,
        "acme",
        old.id,
        MemoryDraft(kind=Kind.DECISION, content="session cache moves to memcached"),
    )
    ids = [h.memory.id for h in two.search_memories(actor, "acme", q("session cache", limit=20))]
    assert new.id in ids and old.id not in ids
    with_old = two.search_memories(
        actor, "acme", q("session cache", status=[Status.ACTIVE, Status.SUPERSEDED])
    )
    assert old.id in [h.memory.id for h in with_old]
    two.update_memory(actor, "acme", new.id, MemoryPatch(status="archived"))
    ids = [h.memory.id for h in two.search_memories(actor, "acme", q("session cache", limit=20))]
    assert new.id not in ids


def test_as_of_sees_what_was_true_then(two: MemoryService, actor: Actor) -> None:
    before = datetime.now(UTC)
    old = two.search_memories(actor, "acme", q("session cache redis"))[0].memory
    two.supersede_memory(
        actor,
        "acme",
        old.id,
        MemoryDraft(kind=Kind.DECISION, content="session cache moves to memcached"),
    )
    then = [
        h.memory.id for h in two.search_memories(actor, "acme", q("session cache", as_of=before))
    ]
    assert old.id in then
    future = datetime.now(UTC) + timedelta(days=1)
    now_ids = [
        h.memory.id for h in two.search_memories(actor, "acme", q("session cache", as_of=future))
    ]
    assert old.id not in now_ids


def test_validity_window_is_respected(two: MemoryService, actor: Actor) -> None:
    past = datetime.now(UTC) - timedelta(days=3)
    expired = two.add_memory(
        actor,
        "acme",
        MemoryDraft(
            kind=Kind.FACT,
            content="freeze until launch",
            valid_from=past - timedelta(days=1),
            valid_until=past,
        ),
    ).memory
    ids = [h.memory.id for h in two.search_memories(actor, "acme", q("freeze launch"))]
    assert expired.id not in ids


def test_deleted_memories_never_come_back(two: MemoryService, actor: Actor) -> None:
    target = two.search_memories(actor, "acme", q("small pull requests"))[0].memory
    two.delete_memory(actor, "acme", target.id)
    ids = [
        h.memory.id for h in two.search_memories(actor, "acme", q("small pull requests", limit=50))
    ]
    assert target.id not in ids


def test_search_is_deterministic(two: MemoryService, actor: Actor) -> None:
    runs = [two.search_memories(actor, "acme", q("billing")) for _ in range(3)]
    ids = [[h.memory.id for h in run] for run in runs]
    assert ids[0] == ids[1] == ids[2]
    # recency reads the clock, so a score may move in its last rounded digit between runs
    for run in runs[1:]:
        assert [h.score for h in run] == pytest.approx([h.score for h in runs[0]], abs=1e-5)


def test_query_syntax_is_plain_text(two: MemoryService, actor: Actor) -> None:
    for text in ['billing" OR 1=1 --', "status = 'deleted'", "(((", "*", "NOT billing AND"]:
        hits = two.search_memories(actor, "acme", q(text))
        assert all(h.memory.project == "acme" and h.memory.status == Status.ACTIVE for h in hits)


def test_bad_queries_are_refused(two: MemoryService, actor: Actor) -> None:
    with pytest.raises(InvalidInput):
        two.search_memories(actor, "acme", q("   "))
    with pytest.raises(InvalidInput):
        two.search_memories(actor, "acme", q("x", limit=0))
    with pytest.raises(InvalidInput):
        two.search_memories(actor, "acme", q("x" * 5000))


def test_near_duplicates_are_collapsed_in_results(service: MemoryService, actor: Actor) -> None:
    service.create_project(actor, ProjectCreate(id="dup"))
    a = service.add_memory(
        actor, "dup", MemoryDraft(kind=Kind.FACT, content="cache ttl is ten minutes")
    ).memory
    b = service.add_memory(
        actor, "dup", MemoryDraft(kind=Kind.FACT, content="Cache TTL is ten minutes.")
    ).memory
    assert b.duplicate_of == a.id
    ids = [h.memory.id for h in service.search_memories(actor, "dup", q("cache ttl"))]
    assert len({a.id, b.id} & set(ids)) == 1


def test_ranking_columns_read_as_the_whole_rows_give_them(settings: Settings, actor: Actor) -> None:
    """A search ranks from a narrow read of each candidate (decoded by hand, not by the
    ORM): every field must equal the whole row's, on SQLite and on PostgreSQL."""
    from memsvc.bootstrap import build_components
    from memsvc.retrieval.embedder import HashEmbedder
    from memsvc.store import memories as mem_store

    with build_components(settings, embedder=HashEmbedder(64)) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        svc.create_project(actor, ProjectCreate(id="globex"))
        start = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
        drafts = [
            MemoryDraft(kind=Kind.FACT, content="plain fact"),
            MemoryDraft(
                kind=Kind.DECISION,
                content="dated decision",
                tags=["billing", "db"],
                paths=["src/billing/"],
                pinned=True,
                importance=0.9,
                valid_from=start,
                valid_until=start + timedelta(days=30, microseconds=1),
            ),
            MemoryDraft(kind=Kind.RULE, content="a rule", valid_from=start),
        ]
        ids = [svc.add_memory(actor, "acme", d).memory.id for d in drafts]
        svc.delete_memory(actor, "acme", ids[0])
        foreign = svc.add_memory(actor, "globex", MemoryDraft(kind=Kind.FACT, content="x"))
        with parts.db.read() as s:
            asked = [*ids, foreign.memory.id, "01UNKNOWN"]
            narrow = mem_store.get_rank_fields(s, "acme", asked)
            whole = mem_store.get_rows(s, "acme", asked)
        assert set(narrow) == set(whole) == set(ids)  # the foreign and unknown ids left out
        for mid in ids:
            for name in mem_store.RANK_COLUMNS:
                have, want = getattr(narrow[mid], name), getattr(whole[mid], name)
                assert have == want and type(have) is type(want), (name, have, want)
        assert narrow[ids[1]].valid_from == start and narrow[ids[1]].pinned is True


GREYHOUND = datetime(2023, 5, 8, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("replier", "joined"),
    [
        (ProvenanceIn(agent="ann-agent", session="s1"), True),  # the asker's own writer
        (ProvenanceIn(agent="bo-agent", session="s1"), False),  # another agent
        (ProvenanceIn(agent="ann-agent", session="s2"), False),  # another session of it
    ],
)
def test_a_short_memory_is_lifted_by_its_own_writers_episode_only(
    service: MemoryService, actor: Actor, replier: ProvenanceIn, joined: bool
) -> None:
    """A fleet writing in the same hour: a reply written right after a relevant memory
    rides on its episode (the neighbour field and the episode signal) only when the same
    writer stream (agent and session) wrote both."""
    service.create_project(actor, ProjectCreate(id="p"))
    asker = ProvenanceIn(agent="ann-agent", session="s1")

    def add(text: str, when: datetime, by: ProvenanceIn) -> str:
        draft = MemoryDraft(kind=Kind.FACT, content=text, valid_from=when, provenance=by)
        return service.add_memory(actor, "p", draft).memory.id

    add("Ann: Did you ever adopt the greyhound?", GREYHOUND, asker)
    reply = add("Bo: Yes, last May!", GREYHOUND + timedelta(minutes=1), replier)
    # memories holding one query term each, each in an episode of its own
    add("Cy: We adopt tools slowly", GREYHOUND + timedelta(days=30), asker)
    bus = add("Di: The greyhound bus was late", GREYHOUND + timedelta(days=60), asker)
    hits = service.search_memories(actor, "p", q("greyhound adopt", limit=5, min_relevance=0))
    ranked = [h.memory.id for h in hits]
    parts = hits[ranked.index(reply)].parts
    if joined:  # above a memory holding a query term of its own
        assert ranked.index(reply) < ranked.index(bus)
        assert parts["lexical_score"] and parts["lexical_score"] > 0  # the neighbour field
        assert parts["episode"] and parts["episode"] > parts["fused"] / (1 + hybrid.W_EPISODE)
    else:
        assert ranked.index(reply) == len(ranked) - 1  # below every memory holding a term
        assert not parts["lexical_score"]
        # alone in its episode: the episode part is its own base score, nothing lent
        assert parts["episode"] == pytest.approx(parts["fused"] / (1 + hybrid.W_EPISODE), abs=1e-5)
