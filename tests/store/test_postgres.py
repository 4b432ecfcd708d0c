"""The PostgreSQL lane of the store: URLs, migrations, append-only ledger tables, and a
database that goes away answering ``Unavailable`` (503) and coming back without a restart."""

from __future__ import annotations

import contextlib
import os
import select as select_mod
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, build_service
from memsvc.api import create_app
from memsvc.errors import Unavailable
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.database import (
    Database,
    _alembic_config,
    check,
    display_url,
    migrations_dir,
    normalise_url,
    upgrade,
)
from tests.conftest import PG, LiveServer, free_port, make_settings

CLI = Actor.local(Channel.CLI)
LEDGER = ("audit_event", "audit_ref", "audit_checkpoint")


def test_plain_postgresql_urls_mean_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_displayed_urls_never_carry_the_password() -> None:
    shown = display_url("postgresql://memsvc:hunter2secret@db.internal:5432/memsvc")
    assert "hunter2secret" not in shown
    assert shown == "postgresql+psycopg://memsvc:***@db.internal:5432/memsvc"


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """A PostgreSQL database with no schema at all."""
    if not PG.available():
        pytest.skip(str(PG.skip_reason))
    url = PG.empty_database()
    yield url
    PG.drop(url)


@pytest.mark.postgres
def test_postgresql_migrations_reach_head_match_the_models_and_go_down_and_up(
    empty_pg: str,
) -> None:
    from alembic import command

    upgrade(empty_pg)
    check(empty_pg)  # `alembic check`: nothing to autogenerate
    command.downgrade(_alembic_config(empty_pg), "0001")
    upgrade(empty_pg)
    check(empty_pg)


@pytest.mark.postgres
def test_memsvc_migrate_on_postgresql_hides_the_password(empty_pg: str, tmp_path: Path) -> None:
    # trust auth ignores the password, so a made-up one still connects
    url = make_url(empty_pg).set(drivername="postgresql", password="s3cret-pw-42")
    env = {
        **os.environ,
        "MEMSVC_DATABASE_URL": url.render_as_string(hide_password=False),
        "MEMSVC_DATA_DIR": str(tmp_path / "data"),
    }
    memsvc = Path(sys.executable).with_name("memsvc")
    done = subprocess.run(
        [str(memsvc), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "s3cret-pw-42" not in done.stdout + done.stderr
    assert "schema up to date: postgresql+psycopg://postgres:***@" in done.stdout
    engine = create_engine(normalise_url(empty_pg))
    with engine.connect() as c:
        version = c.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert version == ScriptDirectory(str(migrations_dir())).get_current_head()


def test_memsvc_migrate_against_no_server_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = {
        **os.environ,
        "MEMSVC_DATABASE_URL": f"postgresql://memsvc:s3cret-pw-42@127.0.0.1:{port}/memsvc",
        "MEMSVC_DATA_DIR": str(tmp_path / "data"),
    }
    memsvc = Path(sys.executable).with_name("memsvc")
    done = subprocess.run(
        [str(memsvc), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3
    assert "cannot be reached" in done.stderr and "Traceback" not in done.stderr
    assert "s3cret-pw-42" not in done.stdout + done.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("table", LEDGER)
def test_postgresql_refuses_update_delete_and_truncate_of_ledger_tables(
    tmp_path: Path, postgres_url: str, table: str
) -> None:
    settings = make_settings(tmp_path / "data", database_url=postgres_url)
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        svc.create_project(CLI, ProjectCreate(id="acme"))
        svc.add_memory(CLI, "acme", MemoryDraft(kind="fact", content="the api uses postgres"))
        svc.checkpoint_audit()
    engine = create_engine(normalise_url(postgres_url))
    column = {"audit_event": "detail", "audit_ref": "memory_id", "audit_checkpoint": "hash"}
    value = {"audit_event": "'{}'", "audit_ref": "'x'", "audit_checkpoint": "'0'"}
    try:
        with engine.connect() as c:
            assert c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
        for sql in (
            f"UPDATE {table} SET {column[table]} = {value[table]}",
            f"DELETE FROM {table}",
            f"TRUNCATE {table} CASCADE",
        ):
            with engine.connect() as c, pytest.raises(Exception, match="append-only"):
                c.execute(text(sql))
        with engine.connect() as c:
            assert c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_event_edited_behind_the_triggers_fails_verification(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = make_settings(tmp_path / "data", database_url=postgres_url)
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        svc.create_project(CLI, ProjectCreate(id="acme"))
        for i in range(5):
            svc.add_memory(CLI, "acme", MemoryDraft(kind="fact", content=f"fact number {i}"))
        assert svc.verify_audit()[1] is None
        engine = create_engine(normalise_url(postgres_url))
        try:
            with engine.begin() as c:  # a superuser switching the triggers off
                c.execute(text("SET LOCAL session_replication_role = replica"))
                c.execute(text("UPDATE audit_event SET principal = 'mallory' WHERE seq = 3"))
        finally:
            engine.dispose()
        _, found = svc.verify_audit()
        assert found is not None and found.seq == 3 and "altered" in found.reason


class Proxy:
    """A TCP relay on loopback to the PostgreSQL server: stopping it is a database outage
    as the service sees it (connections reset, new ones refused) without touching the
    shared server."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", self.port))
        lst.listen(16)
        lst.settimeout(0.1)
        self._listener = lst
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
        self._listener.close()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select_mod.select([a, b], [], [], 0.1)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        self._conns.clear()


@pytest.mark.postgres
def test_database_outage_answers_503_and_recovers_without_restart(
    tmp_path: Path, postgres_url: str
) -> None:
    real = make_url(postgres_url)
    proxy = Proxy(real.host or "127.0.0.1", real.port or 5432)
    proxy.start()
    via_proxy = real.set(host="127.0.0.1", port=proxy.port, query={"connect_timeout": "2"})
    port = free_port()
    settings = make_settings(
        tmp_path / "data",
        port=port,
        database_url=via_proxy.render_as_string(hide_password=False),
    )
    try:
        with (
            build_service(settings, embedder=HashEmbedder(64)) as svc,
            LiveServer(create_app(svc, settings), port) as server,
            httpx.Client(base_url=server.url + "/api/v1", timeout=30) as c,
        ):
            assert c.post("/projects", json={"id": "acme"}).status_code == 201
            draft = {"kind": "fact", "content": "written before the outage"}
            assert c.post("/projects/acme/memories", json=draft).status_code == 201

            proxy.stop()  # the database goes away mid-run
            for method, path, body in (
                ("GET", "/projects/acme/memories", None),
                ("POST", "/projects/acme/memories", {"kind": "fact", "content": "lost?"}),
                ("GET", "/projects", None),
            ):
                r = c.request(method, path, json=body)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert "Traceback" not in r.text and "Unavailable" in r.text
            with pytest.raises(Unavailable, match="cannot be reached"):
                svc.list_projects(CLI)

            proxy.start()  # it comes back: the same process serves again
            r = c.get("/projects/acme/memories")
            assert r.status_code == 200, r.text
            contents = [m["content"] for m in r.json()["memories"]]
            assert "written before the outage" in contents
            draft = {"kind": "fact", "content": "written after the outage"}
            assert c.post("/projects/acme/memories", json=draft).status_code == 201
    finally:
        proxy.stop()


@pytest.mark.postgres
def test_dropped_connections_are_replaced_transparently(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        with db.read() as s:
            pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(normalise_url(postgres_url))
        with admin.connect() as c:  # e.g. a server restart or an idle-connection reaper
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        with db.read() as s:  # pre-ping notices the dead connection and opens a new one
            assert s.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.dispose()


def test_a_database_that_is_not_there_is_unavailable_not_an_internal_error() -> None:
    port = free_port()
    db = Database(f"postgresql://memsvc:pw-not-shown@127.0.0.1:{port}/memsvc?connect_timeout=2")
    try:
        with pytest.raises(Unavailable) as err, db.read() as s:
            s.execute(text("SELECT 1"))
        assert "pw-not-shown" not in str(err.value)
        with pytest.raises(Unavailable), db.write() as s:
            s.execute(text("SELECT 1"))
    finally:
        db.dispose()
