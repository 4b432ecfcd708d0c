"""The write path's work per batch proportional to the batch: the coarse quantizer behind
the near-duplicate and conflict checks above ``exact_scan_max_rows``, and new memories
appended to LanceDB without a delete (idempotent again as soon as another applier has
been at their outbox entries)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, Kind, MemoryDraft, ProjectCreate
from memsvc.bootstrap import Components, build_components
from memsvc.clock import utcnow
from memsvc.retrieval.coarse import LIST_ROWS, CoarseIndex
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store import outbox
from memsvc.store.models import MemoryRow
from tests.conftest import make_settings

PROJECT = "big"
EXACT_MAX = 60


def _notes(n: int, start: int = 0) -> list[str]:
    """Distinct notes that share words the way real ones do."""
    subjects = ["billing", "auth", "search", "payments", "scheduler", "ingestion", "mobile"]
    verbs = ["caches", "retries", "shards", "logs", "exports", "validates"]
    return [
        f"the {subjects[i % 7]} service {verbs[(i // 7) % 6]} item {i} for team {i % 13}"
        for i in range(start, start + n)
    ]


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    vecs = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


# -- the coarse quantizer ---------------------------------------------------------------


def test_every_row_is_filed_exactly_once_and_lists_stay_small() -> None:
    matrix = _unit(6000, 32, seed=1)
    coarse = CoarseIndex(32)
    coarse.train(matrix[:2000])
    coarse.file(matrix)  # 4000 rows more than it was trained on: lists split as they fill
    filed = np.concatenate([coarse.members(i) for i in range(coarse.lists)])
    assert sorted(filed.tolist()) == list(range(6000))
    assert max(len(coarse.members(i)) for i in range(coarse.lists)) < 2 * LIST_ROWS
    assert coarse.lists > 2000 // LIST_ROWS


def test_rows_filed_after_training_are_found() -> None:
    matrix = HashEmbedder(64).embed(_notes(3000))
    coarse = CoarseIndex(64)
    coarse.train(matrix[:1000])
    coarse.file(matrix)
    hits = coarse.search(matrix, matrix, k=5)
    found = [i in rows for i, (rows, _) in enumerate(hits)]  # each row finds itself
    assert sum(found[:1000]) >= 990 and sum(found[1000:]) >= 1980  # approximate: >= 99%


def test_near_duplicates_are_found_as_the_exact_scan_finds_them() -> None:
    emb = HashEmbedder(64)
    matrix = emb.embed(_notes(4000))
    coarse = CoarseIndex(64)
    coarse.train(matrix)
    queries = emb.embed([t.upper() + "!" for t in _notes(200, start=1000)])  # same words
    exact = np.argmax(queries @ matrix.T, axis=1)
    hits = coarse.search(matrix, queries, k=8)
    assert [int(rows[0]) for rows, _ in hits] == exact.tolist()


def test_rows_that_will_not_split_do_not_stall_filing() -> None:
    same = np.tile(_unit(1, 16, seed=2), (5 * LIST_ROWS, 1))
    coarse = CoarseIndex(16)
    coarse.train(same[:LIST_ROWS])
    coarse.file(same)
    assert sum(len(coarse.members(i)) for i in range(coarse.lists)) == 5 * LIST_ROWS
    rows, sims = coarse.search(same, same[:1], k=3)[0]
    assert len(rows) == 3 and sims.tolist() == pytest.approx([1.0] * 3, abs=1e-5)


def test_an_empty_index_finds_nothing() -> None:
    coarse = CoarseIndex(8)
    rows, sims = coarse.search(np.zeros((0, 8), np.float32), _unit(2, 8, seed=3), k=4)[0]
    assert rows.size == 0 and sims.size == 0


# -- the write path above the exact-scan size -------------------------------------------


@pytest.fixture
def parts(tmp_path: Path, actor: Actor) -> Iterator[Components]:
    settings = make_settings(tmp_path / "data", exact_scan_max_rows=EXACT_MAX)
    with build_components(settings, embedder=HashEmbedder(64)) as built:
        built.service.create_project(actor, ProjectCreate(id=PROJECT))
        yield built


def _fill(parts: Components, actor: Actor, n: int) -> None:
    drafts = [MemoryDraft(kind=Kind.FACT, content=t) for t in _notes(n)]
    parts.service.add_memories(actor, PROJECT, drafts)


def test_checks_above_the_exact_scan_size_flag_like_the_exact_scan(
    parts: Components, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(parts, actor, 3 * EXACT_MAX)
    svc = parts.service
    rule = MemoryDraft(kind=Kind.RULE, content="Never deploy the billing service on a Friday.")
    rule_id = svc.add_memory(actor, PROJECT, rule).memory.id

    def no_scan(*_: object) -> None:
        raise AssertionError("the whole matrix was scanned")

    monkeypatch.setattr(parts.cache, "nearest", no_scan)
    batch = [
        MemoryDraft(kind=Kind.FACT, content=_notes(1, start=17)[0].upper() + "!"),
        MemoryDraft(kind=Kind.RULE, content="Never deploy the billing service on a Monday."),
        MemoryDraft(kind=Kind.FACT, content="completely unrelated words here"),
    ]
    near, conflict, alone = (r.memory for r in svc.add_memories(actor, PROJECT, batch))
    assert near.duplicate_of is not None and near.conflicts_with is None
    assert conflict.duplicate_of is None and conflict.conflicts_with == rule_id
    assert alone.duplicate_of is None and alone.conflicts_with is None


def test_a_deleted_memory_is_no_near_duplicate_above_the_exact_scan_size(
    parts: Components, actor: Actor
) -> None:
    _fill(parts, actor, 3 * EXACT_MAX)
    svc = parts.service
    first = svc.add_memory(actor, PROJECT, MemoryDraft(kind=Kind.FACT, content="zebra quokka"))
    again = MemoryDraft(kind=Kind.FACT, content="Zebra quokka!")
    assert svc.add_memory(actor, PROJECT, again).memory.duplicate_of == first.memory.id
    svc.delete_memory(actor, PROJECT, first.memory.id)
    later = svc.add_memory(actor, PROJECT, MemoryDraft(kind=Kind.FACT, content="zebra, quokka"))
    assert later.memory.duplicate_of not in (None, first.memory.id)  # the second one now


# -- appending new memories -------------------------------------------------------------


def _index_ids(parts: Components) -> list[str]:
    return parts.index.snapshot(PROJECT).ids


def test_new_memories_are_indexed_once_each(parts: Components, actor: Actor) -> None:
    _fill(parts, actor, 50)
    more = [MemoryDraft(kind=Kind.FACT, content=f"another note {i}") for i in range(30)]
    parts.service.add_memories(actor, PROJECT, more)
    ids = _index_ids(parts)
    assert len(ids) == len(set(ids)) == 80
    with parts.db.read() as s:
        assert outbox.pending_count(s) == 0


def test_entries_another_applier_has_tried_are_applied_idempotently(
    parts: Components, actor: Actor
) -> None:
    """An applier that failed after writing LanceDB leaves its entries pending with an
    attempt counted: applying them as new must not index the memories twice."""
    _fill(parts, actor, 10)
    with parts.db.read() as s:
        rows = list(outbox.live_rows(s, PROJECT).values())[:4]
    with parts.db.maintenance() as s:
        entries = outbox.queue_many(s, [(r, "upsert") for r in rows], utcnow())
    with parts.db.maintenance() as s:
        outbox.note_failure(s, [e[0] for e in entries], "failed after the write")
    detached = [MemoryRow(**r.model_dump()) for r in rows]
    assert parts.sync.apply_rows(PROJECT, entries, detached, new=True) == 4
    ids = _index_ids(parts)
    assert len(ids) == len(set(ids)) == 10


def test_entries_applied_meanwhile_by_another_applier_are_not_appended_again(
    parts: Components, actor: Actor
) -> None:
    _fill(parts, actor, 10)
    with parts.db.read() as s:
        rows = list(outbox.live_rows(s, PROJECT).values())[:3]
    with parts.db.maintenance() as s:
        entries = outbox.queue_many(s, [(r, "upsert") for r in rows], utcnow())
    assert parts.sync.apply() == 3  # the background applier got there first
    detached = [MemoryRow(**r.model_dump()) for r in rows]
    parts.sync.apply_rows(PROJECT, entries, detached, new=True)
    ids = _index_ids(parts)
    assert len(ids) == len(set(ids)) == 10
