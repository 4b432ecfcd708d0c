"""Durability: restarts, a crash between SQL and the index, ghosts, reindex, compaction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, MemoryDraft, ProjectCreate, SearchQuery
from memsvc.bootstrap import build_components
from memsvc.domain import Kind
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.index import IndexRow
from tests.conftest import make_settings

FAKE_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _ids(service: object, actor: Actor, text: str) -> list[str]:
    hits = service.search_memories(actor, "acme", SearchQuery(query=text, limit=20))  # type: ignore[attr-defined]
    return [h.memory.id for h in hits]


def test_everything_survives_a_restart(tmp_path: Path, actor: Actor) -> None:
    settings = make_settings(tmp_path / "d")
    with build_components(settings, embedder=HashEmbedder()) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        m = svc.add_memory(
            actor, "acme", MemoryDraft(kind=Kind.FACT, content="queue is rabbitmq")
        ).memory
    with build_components(settings, embedder=HashEmbedder()) as parts:
        svc = parts.service
        assert svc.get_memory(actor, "acme", m.id).content == "queue is rabbitmq"
        assert _ids(svc, actor, "rabbitmq queue") == [m.id]
        assert svc.verify_audit()[1] is None


def test_index_failure_loses_no_acknowledged_write(
    tmp_path: Path, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "d")
    with build_components(settings, embedder=HashEmbedder()) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))

        def broken(*_: object, **__: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(parts.sync.index, "upsert", broken)
        monkeypatch.setattr(parts.sync.index, "append", broken)  # a new memory's write
        m = svc.add_memory(
            actor, "acme", MemoryDraft(kind=Kind.FACT, content="cron runs at 2am")
        ).memory
        assert parts.sync.pending_count() == 1
        monkeypatch.undo()
    # "crash": the process ends with the outbox row pending; start-up reconciles it.
    with build_components(settings, embedder=HashEmbedder()) as parts:
        svc = parts.service
        assert parts.sync.pending_count() == 0
        assert _ids(svc, actor, "cron 2am") == [m.id]


def test_background_retry_applies_pending_writes(
    tmp_path: Path, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "d")
    with build_components(settings, embedder=HashEmbedder()) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        failing = lambda *a, **k: (_ for _ in ()).throw(OSError("x"))  # noqa: E731
        monkeypatch.setattr(parts.sync.index, "upsert", failing)
        monkeypatch.setattr(parts.sync.index, "append", failing)  # a new memory's write
        m = svc.add_memory(
            actor, "acme", MemoryDraft(kind=Kind.FACT, content="backups are nightly")
        ).memory
        assert _ids(svc, actor, "nightly backups") == []
        monkeypatch.undo()
        assert parts.sync.apply() == 1
        assert _ids(svc, actor, "nightly backups") == [m.id]


def test_ghost_index_rows_are_never_returned_and_reconciled_away(
    tmp_path: Path, actor: Actor
) -> None:
    settings = make_settings(tmp_path / "d")
    emb = HashEmbedder()
    with build_components(settings, embedder=emb) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        svc.add_memory(
            actor, "acme", MemoryDraft(kind=Kind.FACT, content="real memory about kafka")
        )
        ghost = IndexRow(
            FAKE_ID, "fact", "active", "ghost about kafka", "h", emb.embed(["ghost about kafka"])[0]
        )
        parts.sync.index.upsert("acme", [ghost])
        parts.sync.cache.forget("acme")
        assert FAKE_ID not in _ids(svc, actor, "ghost kafka")
    with build_components(settings, embedder=emb) as parts:
        svc = parts.service
        snapshot = parts.sync.index.snapshot("acme")
        assert FAKE_ID not in snapshot.ids and len(snapshot.ids) == 1


def test_reindex_rebuilds_from_sql(tmp_path: Path, actor: Actor) -> None:
    settings = make_settings(tmp_path / "d")
    with build_components(settings, embedder=HashEmbedder()) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        drafts = [
            MemoryDraft(kind=Kind.FACT, content=f"service {i} owns topic {i}") for i in range(10)
        ]
        svc.add_memories(actor, "acme", drafts)
        parts.sync.index.drop("acme")
        report = parts.sync.reindex("acme")
        assert report.embedded == 10
        assert len(_ids(svc, actor, "service owns topic")) == 10


def test_compaction_keeps_results(tmp_path: Path, actor: Actor) -> None:
    settings = make_settings(tmp_path / "d", compact_every_writes=5, compact_min_fragments=8)
    with build_components(settings, embedder=HashEmbedder()) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        for i in range(12):
            svc.add_memory(
                actor, "acme", MemoryDraft(kind=Kind.FACT, content=f"note {i} about grpc")
            )
        table = parts.sync.index._table("acme", create=False)
        assert table.stats()["fragment_stats"]["num_fragments"] >= 12
        parts.sync.compact_due()
        assert table.stats()["fragment_stats"]["num_fragments"] <= 2
        assert len(_ids(svc, actor, "grpc note")) == 12


def test_switching_embedders_rebuilds_a_separate_table(tmp_path: Path, actor: Actor) -> None:
    settings = make_settings(tmp_path / "d")
    with build_components(settings, embedder=HashEmbedder(64)) as parts:
        svc = parts.service
        svc.create_project(actor, ProjectCreate(id="acme"))
        m = svc.add_memory(
            actor, "acme", MemoryDraft(kind=Kind.FACT, content="dns is on route53")
        ).memory
    with build_components(settings, embedder=HashEmbedder(32)) as parts:
        svc = parts.service
        assert _ids(svc, actor, "dns route53") == [m.id]
        vectors = parts.sync.index.snapshot("acme").vectors
        assert vectors.shape == (1, 32) and np.isclose(np.linalg.norm(vectors[0]), 1.0)
