"""Reconciliation is streamed: per batch of ids, comparing (id, hash, kind, status) alone,
reading whole rows only of the memories it re-embeds, and still repairing every kind of
drift (missing, changed, doubled, wrong status, orphan) across batch and status borders.
On SQLite and PostgreSQL (the keyset walk is SQL)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from memsvc import Actor, MemoryDraft, MemoryPatch, ProjectCreate, Settings
from memsvc.bootstrap import build_components
from memsvc.domain import Kind
from memsvc.retrieval import indexing
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store import outbox

ORPHAN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _sql_truth(parts: object) -> dict[str, tuple[str, str, str]]:
    with parts.db.read() as s:  # type: ignore[attr-defined]
        rows = outbox.live_rows(s, "acme")
    return {i: (m.content_hash, m.kind, m.status) for i, m in rows.items()}


def _table(parts: object) -> list[tuple[str, str, str, str]]:
    snap = parts.index.snapshot("acme")  # type: ignore[attr-defined]
    return sorted(zip(snap.ids, snap.hashes, snap.kinds, snap.statuses, strict=True))


@pytest.mark.parametrize(
    "keys_scan_rows", [20_000, 0], ids=["keys asked by id", "keys in one scan"]
)
def test_streamed_reconcile_repairs_every_drift_across_batches(
    settings: Settings, actor: Actor, monkeypatch: pytest.MonkeyPatch, keys_scan_rows: int
) -> None:
    monkeypatch.setattr(indexing, "RECONCILE_BATCH", 3)  # 12 memories: several batches
    monkeypatch.setattr(indexing, "KEYS_SCAN_ROWS", keys_scan_rows)  # a large table's path
    emb = HashEmbedder(32)
    with build_components(settings, embedder=emb) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        drafts = [MemoryDraft(kind=Kind.FACT, content=f"note {i} on topic {i}") for i in range(12)]
        ids = [r.memory.id for r in svc.add_memories(actor, "acme", drafts)]
        svc.update_memory(actor, "acme", ids[11], MemoryPatch(status="archived"))  # 2nd status
        snap = parts.index.snapshot("acme")
        by_id = {r: i for i, r in enumerate(snap.ids)}
        row = parts.index.rows_of("acme", [ids[0]])[ids[0]]
        # drift of every kind, written behind SQL's back
        parts.index.delete("acme", [ids[1]])  # missing
        parts.index.upsert(
            "acme", [replace(parts.index.rows_of("acme", [ids[2]])[ids[2]], content_hash="x")]
        )
        parts.index.set_meta("acme", ids[3], "fact", "archived")  # wrong status
        parts.index.set_meta("acme", ids[11], "fact", "active")  # wrong status, other side
        table = parts.index._table("acme", create=False)
        table.add([parts.index.rows_of("acme", [ids[4]])[ids[4]].record()])  # doubled
        parts.index.upsert("acme", [replace(row, id=ORPHAN)])  # orphan
        assert by_id  # the table held every memory before the drift

        report = parts.sync.reconcile("acme")

        assert (report.embedded, report.updated, report.removed) == (3, 2, 1)
        truth = _sql_truth(parts)
        assert _table(parts) == sorted((i, *v) for i, v in truth.items())
        again = parts.sync.reconcile("acme")
        assert (again.embedded, again.updated, again.removed) == (0, 0, 0)


def test_reconcile_reads_whole_rows_only_of_what_it_re_embeds(
    settings: Settings, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexing, "RECONCILE_BATCH", 4)
    emb = HashEmbedder(32)
    with build_components(settings, embedder=emb) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        drafts = [MemoryDraft(kind=Kind.FACT, content=f"fact {i} about dns") for i in range(10)]
        ids = [r.memory.id for r in svc.add_memories(actor, "acme", drafts)]
        parts.index.delete("acme", [ids[7]])
        asked: list[list[str]] = []
        real_rows = outbox.rows_by_id
        monkeypatch.setattr(
            outbox, "rows_by_id", lambda s, wanted: asked.append(wanted) or real_rows(s, wanted)
        )
        monkeypatch.setattr(
            parts.index, "snapshot", lambda project: pytest.fail("reconcile read the whole table")
        )

        report = parts.sync.reconcile("acme")

        assert report.embedded == 1 and asked == [[ids[7]]]
        monkeypatch.undo()
        assert len(parts.index.snapshot("acme").ids) == 10


def test_reconcile_of_a_project_without_a_table_builds_it(settings: Settings, actor: Actor) -> None:
    emb = HashEmbedder(32)
    with build_components(settings, embedder=emb) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        svc.add_memories(
            actor, "acme", [MemoryDraft(kind=Kind.FACT, content=f"rule {i}") for i in range(5)]
        )
        parts.index.drop("acme")

        report = parts.sync.reconcile("acme")

        assert report.embedded == 5
        assert _table(parts) == sorted((i, *v) for i, v in _sql_truth(parts).items())
