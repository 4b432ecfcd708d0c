"""LanceDB compaction on a size policy: many small writes leave a bounded number of
fragments and versions and a data dir within twice a freshly built one, with every memory
still found; a few rows added to a large table never make it rewrite the table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, MemoryDraft, MemoryPatch, ProjectCreate, SearchQuery
from memsvc.bootstrap import build_components
from memsvc.domain import Kind
from memsvc.retrieval.compaction import CompactionPolicy
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.index import IndexRow, LanceIndex, TableShape
from tests.conftest import make_settings

MAX_FRAGMENTS = 24


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _table_dir(lance: Path) -> Path:
    (found,) = [d for d in lance.iterdir() if d.name.startswith("acme__")]
    return found


def test_the_policy_waits_for_a_share_of_a_large_table_and_caps_fragments() -> None:
    policy = CompactionPolicy(min_fragments=16, growth=0.2, max_fragments=128, max_versions=512)
    small = TableShape(rows=300, fragments=16, largest_fragment=200, versions=40)
    assert policy.due(small)  # cheap to rewrite: at min_fragments
    assert not policy.due(TableShape(300, 15, 200, 40))
    big = TableShape(rows=100_000 + 40, fragments=41, largest_fragment=100_000, versions=90)
    assert not policy.due(big)  # 40 rows never rewrite 100k
    assert policy.due(TableShape(120_000, 41, 100_000, 90))  # 20% grown
    assert policy.due(TableShape(100_128, 128, 100_000, 300))  # the fragment cap
    assert policy.due(TableShape(100_000, 2, 99_000, 512))  # the version cap (deletes)
    assert not policy.due(TableShape(100_000, 1, 100_000, 1))


def test_a_few_rows_on_a_large_table_leave_it_alone(tmp_path: Path) -> None:
    index = LanceIndex(str(tmp_path / "lance"), "hash-8", 8)
    vec = np.ones(8, dtype=np.float32)

    def rows(start: int, n: int) -> list[IndexRow]:
        ids = [f"01J{i:023d}" for i in range(start, start + n)]
        return [IndexRow(i, "fact", "active", f"t {i}", "h", vec) for i in ids]

    index.upsert("acme", rows(0, 20_000))
    for i in range(20):
        index.upsert("acme", rows(30_000 + i, 1))
    shape = index.shape("acme")
    assert shape is not None and shape.fragments == 21 and shape.largest_fragment == 20_000
    assert not CompactionPolicy().due(shape)


def test_many_small_writes_stay_bounded_and_searchable(tmp_path: Path, actor: Actor) -> None:
    settings = make_settings(
        tmp_path / "d",
        compact_min_fragments=8,
        compact_max_fragments=MAX_FRAGMENTS,
        index_cleanup_grace_s=0.001,  # this test is the only reader
    )
    with build_components(settings, embedder=HashEmbedder(64)) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        ids = []
        for i in range(150):
            draft = MemoryDraft(kind=Kind.FACT, content=f"word{i} is noted in entry {i}")
            ids.append(svc.add_memory(actor, "acme", draft).memory.id)
            if i % 5 == 4:  # metadata changes rewrite rows into fresh fragments too
                svc.update_memory(actor, "acme", ids[i - 2], MemoryPatch(importance=0.9))
            if i % 25 == 24:
                svc.delete_memory(actor, "acme", ids[i - 10])
            parts.sync.compact_due()  # a background round after each write
            shape = parts.index.shape("acme")
            assert shape is not None and shape.fragments <= MAX_FRAGMENTS
            assert shape.versions <= 3 * MAX_FRAGMENTS + 8
        deleted = {ids[i - 10] for i in range(24, 150, 25)}
        live = [m for m in ids if m not in deleted]
        snap = parts.index.snapshot("acme")
        assert sorted(snap.ids) == sorted(live)  # each once, none lost, the deleted gone
        for i in (0, 37, 99, 149):
            if ids[i] in deleted:
                continue
            hits = svc.search_memories(
                actor, "acme", SearchQuery(query=f"word{i}", min_relevance=0)
            )
            assert hits[0].memory.id == ids[i]
    fresh = LanceIndex(str(tmp_path / "fresh"), "hash-64", 64)
    with build_components(settings, embedder=HashEmbedder(64)) as parts:
        rows = parts.index.snapshot("acme")
        fresh.upsert(
            "acme",
            [
                IndexRow(i, k, s, t, h, v)
                for i, k, s, h, v, t in zip(
                    rows.ids,
                    rows.kinds,
                    rows.statuses,
                    rows.hashes,
                    rows.vectors,
                    rows.texts,
                    strict=True,
                )
            ],
        )
    grown = _bytes(_table_dir(tmp_path / "d" / "lance"))
    built = _bytes(_table_dir(tmp_path / "fresh"))
    assert grown <= 2 * built, (grown, built)


def test_old_versions_outlive_a_compaction_by_the_grace(tmp_path: Path, actor: Actor) -> None:
    settings = make_settings(tmp_path / "d", compact_min_fragments=4, index_cleanup_grace_s=600)
    with build_components(settings, embedder=HashEmbedder(64)) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        for i in range(6):
            svc.add_memory(actor, "acme", MemoryDraft(kind=Kind.FACT, content=f"note {i}"))
        before = parts.index.shape("acme")
        assert parts.sync.compact_due() == ["acme"]
        after = parts.index.shape("acme")
        assert before is not None and after is not None
        assert after.fragments < before.fragments and after.versions > before.versions  # kept
        assert parts.sync.compact_due() == []  # nothing written, grace not over


def test_a_failed_compaction_is_retried_at_the_next_round(
    tmp_path: Path, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "d", compact_min_fragments=4)
    with build_components(settings, embedder=HashEmbedder(64)) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        for i in range(6):
            svc.add_memory(actor, "acme", MemoryDraft(kind=Kind.FACT, content=f"note {i}"))
        real = parts.index.optimize
        monkeypatch.setattr(parts.index, "optimize", lambda *a, **k: 1 / 0)
        assert parts.sync.compact_due() == []
        monkeypatch.setattr(parts.index, "optimize", real)
        assert parts.sync.compact_due() == ["acme"]
