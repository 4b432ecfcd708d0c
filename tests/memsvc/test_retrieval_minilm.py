"""The hybrid retriever with the real bundled all-MiniLM-L6-v2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memsvc import (
    Actor,
    Kind,
    MemoryDraft,
    MemoryService,
    ProjectCreate,
    SearchQuery,
    build_service,
)
from memsvc.retrieval.embedder import MiniLMEmbedder
from tests.conftest import make_settings


@pytest.fixture
def real(tmp_path: Path, minilm: MiniLMEmbedder) -> Iterator[MemoryService]:
    with build_service(make_settings(tmp_path / "data"), embedder=minilm) as svc:
        yield svc


@pytest.mark.slow
def test_paraphrase_and_context_reach_the_right_session(real: MemoryService, actor: Actor) -> None:
    real.create_project(actor, ProjectCreate(id="p"))
    sessions = {
        datetime(2023, 5, 8, tzinfo=UTC): [
            "Jo: I finally started learning the violin.",
            "Al: How is it going?",
            "Jo: Slowly! My fingers hurt after practice.",
        ],
        datetime(2023, 7, 2, tzinfo=UTC): [
            "Al: We moved to a bigger apartment downtown.",
            "Jo: Congrats! Is it near the river?",
            "Al: Yes, five minutes away.",
        ],
    }
    for when, texts in sessions.items():
        drafts = [MemoryDraft(kind=Kind.FACT, content=t, valid_from=when) for t in texts]
        real.add_memories(actor, "p", drafts)
    hits = real.search_memories(
        actor,
        "p",
        # the ranking is under test: keep every ranked hit, however weak
        SearchQuery(query="Which musical instrument is Jo studying?", limit=3, min_relevance=0),
    )
    assert hits[0].memory.content == "Jo: I finally started learning the violin."
    # the episode signal lifts the rest of that session over the other one
    assert hits[0].parts["episode"] == hits[1].parts["episode"]
    assert hits[1].memory.valid_from == datetime(2023, 5, 8, tzinfo=UTC)
    house = real.search_memories(
        actor, "p", SearchQuery(query="Is their new home by water?", min_relevance=0)
    )
    assert house[0].memory.valid_from == datetime(2023, 7, 2, tzinfo=UTC)


@pytest.mark.slow
def test_unrelated_query_finds_nothing_while_a_related_one_finds_its_memory(
    real: MemoryService, actor: Actor
) -> None:
    real.create_project(actor, ProjectCreate(id="shop"))
    notes = [
        ("decision", "Orders are stored in PostgreSQL; the cart lives in Redis with a 7 day TTL."),
        ("rule", "Every money amount is an integer number of cents, never a float."),
        ("fact", "The checkout endpoint is idempotent by its Idempotency-Key header."),
        ("fact", "Product images are resized by a worker into three sizes and kept in S3."),
        ("decision", "Refunds are only issued from the support dashboard, not the public API."),
        ("preference", "Prefer small pull requests under 300 lines."),
        ("fact", "Discount codes are case-insensitive and can be used once per customer."),
        ("fact", "Inventory is decremented when the payment succeeds, not when ordering."),
    ]
    drafts = [MemoryDraft(kind=Kind(k), content=t) for k, t in notes]
    real.add_memories(actor, "shop", drafts)
    unrelated = SearchQuery(query="kubernetes helm chart values")
    assert real.search_memories(actor, "shop", unrelated) == []
    weak = real.search_memories(actor, "shop", unrelated.model_copy(update={"min_relevance": 0}))
    assert weak and max(h.relevance for h in weak) < 0.5
    hits = real.search_memories(actor, "shop", SearchQuery(query="where is the shopping cart kept"))
    assert hits and hits[0].memory.content.startswith("Orders are stored in PostgreSQL")
    assert hits[0].relevance >= 0.5
