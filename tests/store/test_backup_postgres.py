"""``memsvc backup`` / ``restore`` on PostgreSQL: one snapshot of every table into a
backend-neutral SQLite file, restored into an empty PostgreSQL database and into a plain
data dir — every row equal, the audit chain verifying, writes continuing after it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from memsvc import Actor, Channel, MemoryDraft, MemoryPatch, ProjectCreate
from memsvc.bootstrap import build_service
from memsvc.domain import Kind, QuarantineCreate, SearchQuery
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.backup import snapshot, tables
from memsvc.store.database import normalise_url
from memsvc_cli import main
from tests.conftest import PG, make_settings

pytestmark = pytest.mark.postgres

ME = Actor.local(Channel.CLI)
# What the index had applied (the outbox, each project's index generation): restore
# rebuilds the index, so these may differ; everything else must be equal.
DERIVED = {"index_outbox"}
DERIVED_COLUMNS = {"index_generation"}


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A second database, with no schema at all: the restore target."""
    if not PG.available():
        pytest.skip(str(PG.skip_reason))
    url = PG.empty_database()
    yield url
    PG.drop(url)


def _fill(data: Path, url: str | None) -> None:
    settings = make_settings(data, database_url=url, audit_checkpoint_every=5)
    agent = Actor.local(Channel.MCP, agent="bot")
    with build_service(settings, embedder=HashEmbedder()) as svc:
        svc.create_project(ME, ProjectCreate(id="acme", name="Acme", root_paths=["/src/acme"]))
        svc.create_project(ME, ProjectCreate(id="beta"))
        rule = svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.RULE, content="cents, always"))
        svc.supersede_memory(
            ME, "acme", rule.memory.id, MemoryDraft(kind=Kind.RULE, content="integer cents")
        )
        fact = svc.add_memory(
            ME, "acme", MemoryDraft(kind=Kind.FACT, content="queue is rabbitmq 🐇", tags=["q"])
        )
        svc.update_memory(ME, "acme", fact.memory.id, MemoryPatch(pinned=True))
        gone = svc.add_memory(ME, "beta", MemoryDraft(kind=Kind.FACT, content="temporary"))
        svc.delete_memory(ME, "beta", gone.memory.id)
        svc.add_memory(agent, "acme", MemoryDraft(kind=Kind.RULE, content="bots may push"))
        svc.quarantine_memories(ME, "acme", QuarantineCreate(agent="bot", reason="test"))
        svc.search_memories(ME, "acme", SearchQuery(query="rabbitmq"))


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as c:
            return {
                t.name: [
                    {k: v for k, v in r._mapping.items() if k not in DERIVED_COLUMNS}
                    for r in c.execute(select(t).order_by(*t.primary_key.columns))
                ]
                for t in tables()
                if t.name not in DERIVED
            }
    finally:
        engine.dispose()


def test_a_postgres_backup_restores_exactly_into_postgres_and_into_sqlite(
    tmp_path: Path,
    postgres_url: str,
    empty_postgres: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MEMSVC_EMBEDDER", "hash")
    source = tmp_path / "source"
    _fill(source, postgres_url)
    before = _rows(postgres_url)
    assert len(before["audit_event"]) > 10 and before["audit_checkpoint"]
    assert {m["status"] for m in before["memory"]} >= {"active", "superseded", "deleted"}

    monkeypatch.setenv("MEMSVC_DATABASE_URL", postgres_url)
    out = tmp_path / "backup"
    assert main(["backup", "--data-dir", str(source), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "postgresql"
    assert manifest["counts"]["audit_event"] == len(before["audit_event"])
    assert "audit-signing.key" not in manifest["key_files"]  # never the private half
    assert _rows(f"sqlite:///{out / 'memsvc.db'}") == before

    # into an empty PostgreSQL database, with the signing key given back
    monkeypatch.setenv("MEMSVC_DATABASE_URL", empty_postgres)
    pg_dir = tmp_path / "pg-restored"
    key = str(source / "audit-signing.key")
    assert main(["restore", "--data-dir", str(pg_dir), "--key", key, str(out)]) == 0
    assert _rows(empty_postgres) == before
    capsys.readouterr()
    assert main(["audit", "verify", "--data-dir", str(pg_dir)]) == 0, capsys.readouterr()
    # a restored database is not empty: a second restore into it is refused
    assert main(["restore", "--data-dir", str(tmp_path / "again"), str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
    # the index was rebuilt, and new writes take ids after the restored rows
    settings = make_settings(pg_dir, database_url=empty_postgres)
    with build_service(settings, embedder=HashEmbedder()) as svc:
        hits = svc.search_memories(ME, "acme", SearchQuery(query="rabbitmq queue"))
        assert hits and "rabbitmq" in hits[0].memory.content
        svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="written after restore"))
    after = _rows(empty_postgres)["audit_event"]
    assert after[: len(before["audit_event"])] == before["audit_event"]
    assert after[-1]["seq"] > before["audit_event"][-1]["seq"]
    assert main(["audit", "verify", "--data-dir", str(pg_dir)]) == 0

    # and the same backup into a plain SQLite data dir
    monkeypatch.delenv("MEMSVC_DATABASE_URL")
    lite = tmp_path / "sqlite-restored"
    assert main(["restore", "--data-dir", str(lite), "--key", key, str(out)]) == 0
    assert _rows(f"sqlite:///{lite / 'memsvc.db'}") == before
    assert main(["audit", "verify", "--data-dir", str(lite)]) == 0


def test_a_sqlite_backup_restores_into_postgres(
    tmp_path: Path, empty_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMSVC_EMBEDDER", "hash")
    source = tmp_path / "source"
    _fill(source, None)  # SQLite in the data dir
    before = _rows(f"sqlite:///{source / 'memsvc.db'}")
    out = tmp_path / "backup"
    assert main(["backup", "--data-dir", str(source), "--out", str(out)]) == 0
    monkeypatch.setenv("MEMSVC_DATABASE_URL", empty_postgres)
    target = tmp_path / "pg"
    key = str(source / "audit-signing.key")
    assert main(["restore", "--data-dir", str(target), "--key", key, str(out)]) == 0
    assert _rows(empty_postgres) == before
    assert main(["audit", "verify", "--data-dir", str(target)]) == 0


def test_a_postgres_backup_is_one_snapshot_while_writes_go_on(
    tmp_path: Path, postgres_url: str
) -> None:
    data = tmp_path / "data"
    _fill(data, postgres_url)
    settings = make_settings(data, database_url=postgres_url, audit_checkpoint_every=2)
    with build_service(settings, embedder=HashEmbedder()) as svc:
        before = _rows(postgres_url)
        written = []

        def write_meanwhile(_copied: int) -> None:  # called between the tables it copies
            n = len(written)
            draft = MemoryDraft(kind=Kind.FACT, content=f"written during the backup {n}")
            written.append(svc.add_memory(ME, "acme", draft).memory.id)

        snapshot(postgres_url, tmp_path / "snap.db", write_meanwhile)
    assert len(written) >= 5  # the copy really overlapped writes (and their audit events)
    assert _rows(f"sqlite:///{tmp_path / 'snap.db'}") == before


def test_a_backup_from_an_older_memsvc_is_migrated_as_it_is_restored(
    tmp_path: Path, empty_postgres: str
) -> None:
    from alembic import command

    from memsvc.store.backup import restore
    from memsvc.store.database import _alembic_config

    old = tmp_path / "old.db"
    command.upgrade(_alembic_config(f"sqlite:///{old}"), "0005_fleet")  # before archiving
    conn = sqlite3.connect(old)
    conn.execute(
        "INSERT INTO project (id, name, description, root_paths, created_at, last_active_at,"
        " index_generation) VALUES ('acme', 'Acme', '', '[]', '2026-11-01 10:00:00.000000',"
        " '2026-11-01 10:00:00.000000', 0)"
    )
    conn.commit()
    conn.close()
    counts = restore(old, empty_postgres)
    assert counts["project"] == 1
    restored = _rows(empty_postgres)["project"][0]
    assert restored["id"] == "acme" and restored["archived_at"] is None
    conn = sqlite3.connect(old)
    try:  # the backup itself is left as it was
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0005_fleet",)
    finally:
        conn.close()
