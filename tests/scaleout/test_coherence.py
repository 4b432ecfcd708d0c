"""Cache coherence between servers, in process: two services on one database (SQLite or
PostgreSQL) and one LanceDB directory, as two ``memsvc serve`` processes would share them.

The bound stated and tested here: a write acknowledged by server A is found by the very
next search on server B, and B gets there by fetching only the changed rows (no reload of
the project's table) unless the gap cannot be read incrementally.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, MemoryDraft, MemoryPatch, ProjectCreate, SearchQuery
from memsvc.bootstrap import Components, build_components
from memsvc.domain import Kind
from memsvc.retrieval import cache as cache_module
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import make_settings

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def pair(tmp_path: Path, database_url: str | None) -> Iterator[tuple[Components, Components]]:
    """Servers A and B over one database and one LanceDB dir, each with its own cache."""
    settings = make_settings(tmp_path / "shared", database_url=database_url)
    with ExitStack() as stack:
        a = stack.enter_context(build_components(settings, embedder=HashEmbedder()))
        b = stack.enter_context(build_components(settings, embedder=HashEmbedder()))
        yield a, b


def _hits(parts: Components, actor: Actor, text: str) -> list[str]:
    """The ids of the hits that contain the query's word (hash-embedder neighbours aside)."""
    query = SearchQuery(query=text, limit=20, min_relevance=0.0)
    hits = parts.service.search_memories(actor, "acme", query)
    return [h.memory.id for h in hits if text in h.memory.content]


def _add(parts: Components, actor: Actor, content: str) -> str:
    draft = MemoryDraft(kind=Kind.FACT, content=content)
    return parts.service.add_memory(actor, "acme", draft).memory.id


def _state(parts: Components) -> dict[str, tuple[str, str, bytes]]:
    """B's cached rows as (kind, status, vector bytes) by id, the deleted left out."""
    entry = parts.cache.current("acme")
    with entry.lock:
        return {
            entry.ids[i]: (entry.kinds[i], entry.statuses[i], entry.matrix[i].tobytes())
            for i in range(entry.n)
            if entry.statuses[i] != "deleted"
        }


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_write_on_one_server_is_searchable_on_the_other_at_the_next_request(
    pair: tuple[Components, Components], actor: Actor
) -> None:
    a, b = pair
    a.service.create_project(actor, ProjectCreate(id="acme"))
    first = _add(a, actor, "the deploy pipeline uses zqalpha runners")
    assert _hits(b, actor, "zqalpha") == [first]
    loads = b.cache.loads
    assert loads == 1

    # A adds, edits, archives and deletes; each is found (or gone) at B's next search
    second = _add(a, actor, "backups go to zqbravo storage")
    assert _hits(b, actor, "zqbravo") == [second]
    a.service.update_memory(
        actor, "acme", second, MemoryPatch(content="backups go to zqcharlie storage")
    )
    assert _hits(b, actor, "zqcharlie") == [second]
    assert _hits(b, actor, "zqbravo") == []  # the old words left B's keyword index
    a.service.update_memory(actor, "acme", first, MemoryPatch(status="archived"))
    assert _hits(b, actor, "zqalpha") == []
    a.service.delete_memory(actor, "acme", second)
    assert _hits(b, actor, "zqcharlie") == []

    # B writes while behind A: its own write does not reload either
    third = _add(a, actor, "the cache is zqdelta")
    fourth = _add(b, actor, "the queue is zqecho")
    assert _hits(b, actor, "zqdelta") == [third]
    assert _hits(b, actor, "zqecho") == [fourth]
    assert _hits(a, actor, "zqecho") == [fourth]
    assert b.cache.loads == loads, "B reloaded the whole table instead of catching up"
    assert b.cache.catch_ups >= 5

    # what B caught up to is exactly what a fresh load of the table holds
    caught_up = _state(b)
    b.cache.forget("acme")
    _hits(b, actor, "zqdelta")
    assert _state(b) == caught_up
    assert set(caught_up) == {first, third, fourth}
    assert caught_up[first][1] == "archived"


def test_a_gap_that_cannot_be_read_falls_back_to_a_full_reload(
    pair: tuple[Components, Components], actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    a.service.create_project(actor, ProjectCreate(id="acme"))
    one = _add(a, actor, "zqfoxtrot one")
    assert _hits(b, actor, "zqfoxtrot") == [one]
    assert b.cache.loads == 1

    # a reindex bumps the generation without outbox entries: B cannot know what changed
    a.service.reindex("acme")
    assert _hits(b, actor, "zqfoxtrot") == [one]
    assert b.cache.loads == 2

    # more changed memories than a catch-up fetches by id: a full reload too
    monkeypatch.setattr(cache_module, "CATCH_UP_MAX_ROWS", 2)
    many = [_add(a, actor, f"zqgolf number {n}") for n in range(3)]
    assert sorted(_hits(b, actor, "zqgolf")) == sorted(many)
    assert b.cache.loads == 3
    one_more = _add(a, actor, "zqhotel")
    assert _hits(b, actor, "zqhotel") == [one_more]
    assert b.cache.loads == 3  # a small gap again: caught up


def test_catching_up_reads_vectors_from_the_index_not_the_model(
    pair: tuple[Components, Components], actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    a.service.create_project(actor, ProjectCreate(id="acme"))
    _add(a, actor, "zqindia")
    _hits(b, actor, "zqindia")
    new = _add(a, actor, "zqjuliet runs nightly")

    def no_model(texts: list[str]) -> np.ndarray:
        raise AssertionError(f"B embedded memory text to catch up: {texts}")

    b.source.embed_query("zqjuliet")  # the query's own vector, cached before the model goes
    monkeypatch.setattr(b.sync.embedder, "embed", no_model)
    assert _hits(b, actor, "zqjuliet") == [new]
