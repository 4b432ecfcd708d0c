"""A full disk answers 507 ``StorageFull`` through real REST, and loses nothing that was
acknowledged: a real SQLite "database or disk is full" (``PRAGMA max_page_count``), and
ENOSPC injected where the operating system would raise it."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import event, exc

from memsvc.api import create_app
from memsvc.bootstrap import Components, build_components
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.database import disk_full
from tests.conftest import LiveServer, free_port, make_settings


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, Components]]:
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with (
        build_components(settings, embedder=HashEmbedder()) as parts,
        LiveServer(create_app(parts.service, settings), port) as server,
        httpx.Client(base_url=server.url + "/api/v1", timeout=30) as client,
    ):
        assert client.post("/projects", json={"id": "acme"}).status_code == 201
        yield client, parts


def _add(client: httpx.Client, content: str) -> httpx.Response:
    return client.post("/projects/acme/memories", json={"kind": "fact", "content": content})


def _contents(client: httpx.Client) -> list[str]:
    r = client.get("/projects/acme/memories", params={"limit": 100})
    assert r.status_code == 200, r.text
    return sorted(m["content"] for m in r.json()["memories"])


def test_a_full_sqlite_database_answers_507_and_keeps_what_was_acknowledged(
    served: tuple[httpx.Client, Components],
) -> None:
    client, parts = served
    assert _add(client, "kept one").status_code == 201
    engine = parts.db._writer  # the writer's pages are what fills up

    @event.listens_for(engine, "connect")
    def _tiny(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()

    engine.dispose()  # every new writer connection has no room to grow
    refused = _add(client, "lost? " + "filler words " * 2_000)
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"] == "StorageFull"
    assert "no space left" in refused.json()["detail"]

    event.remove(engine, "connect", _tiny)
    engine.dispose()  # space again
    assert _contents(client) == ["kept one"]  # the refused write was never stored
    assert _add(client, "kept two").status_code == 201
    assert _contents(client) == ["kept one", "kept two"]
    assert parts.service.verify_audit()[1] is None


def test_enospc_inside_a_write_answers_507_and_stores_nothing(
    served: tuple[httpx.Client, Components], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, parts = served
    assert _add(client, "kept one").status_code == 201

    def no_space(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    # the audit event is the last thing a write transaction adds: a full disk there must
    # roll the whole write back
    monkeypatch.setattr(parts.audit, "record", no_space)
    refused = _add(client, "never stored")
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"] == "StorageFull"
    monkeypatch.undo()
    assert _contents(client) == ["kept one"]


def test_a_full_index_disk_still_acknowledges_the_stored_write(
    served: tuple[httpx.Client, Components], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LanceDB is derived: a full disk under it leaves the write stored in SQL and pending
    in the outbox (201), never lost, and the retry indexes it once there is room."""
    client, parts = served

    def no_space(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(parts.index, "upsert", no_space)
    monkeypatch.setattr(parts.index, "append", no_space)  # a new memory's write
    assert _add(client, "indexed later zqkilo").status_code == 201
    assert parts.sync.pending_count() == 1
    monkeypatch.undo()
    parts.sync.apply()
    r = client.post("/projects/acme/search", json={"query": "zqkilo"})
    assert [h["memory"]["content"] for h in r.json()["hits"]] == ["indexed later zqkilo"]


def test_disk_full_is_recognised_from_each_backend_and_not_from_caller_text() -> None:
    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk_full(RuntimeError("lance error: IO: No space left on device (os error 28)"))
    sqlite_full = exc.OperationalError("INSERT", {}, Exception("database or disk is full"))
    assert disk_full(sqlite_full)
    pg_full = exc.OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend"))
    assert disk_full(pg_full)
    # a caller's memory text quoted in a statement's parameters is not a full disk
    other = exc.IntegrityError("INSERT", {"content": "database or disk is full"}, Exception("x"))
    assert not disk_full(other)
    assert not disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not disk_full(ValueError("nope"))
