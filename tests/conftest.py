"""Shared fixtures: real SQLite + LanceDB in temp dirs, the fake embedder for speed, the
real MiniLM model loaded once per session, and a real uvicorn server on a free port.

The PostgreSQL lane: the tests in ``PG_TEST_PATHS`` that use the ``service``, ``settings``
or ``live`` fixtures run twice, on SQLite and on a real PostgreSQL server
(``MEMSVC_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``).
Each run migrates one fresh database of its own (``memsvc_t_<pid>_<random>_*``), empties it
before every test, and drops it at the end. With no server the PostgreSQL cases skip,
saying why, in the header, on each skipped test and again in the summary.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from memsvc import Actor, Channel, MemoryService, Settings, build_service
from memsvc.api import create_app
from memsvc.retrieval.embedder import Embedder, HashEmbedder, MiniLMEmbedder
from memsvc.store.database import upgrade

_TEMPLATE: dict[str, Path] = {}


def _migrated_template() -> Path:
    """A database migrated to head once per test session (real Alembic migrations)."""
    if "db" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="memsvc-template-"))
        upgrade(f"sqlite:///{folder / 'memsvc.db'}")
        _TEMPLATE["db"] = folder / "memsvc.db"
    return _TEMPLATE["db"]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings over a fresh data dir holding a copy of the migrated template database
    (or over ``database_url`` when one is given, e.g. from ``PG.fresh_database()``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if overrides.get("database_url") is None and not (data_dir / "memsvc.db").exists():
        shutil.copyfile(_migrated_template(), data_dir / "memsvc.db")
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "embedder": "hash",
        "background": False,
        "auto_migrate": False,
        "allowed_hosts": ["testserver"],
    }
    values.update(overrides)
    return Settings(**values)


PG_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Where SQL behaviour matters; the retrieval and real-model tests exercise LanceDB and the
# ranking, the same on either SQL backend, so they run on SQLite only to keep the suite lean.
PG_TEST_PATHS = (
    "tests/audit/",
    "tests/memsvc/test_memories.py",
    "tests/memsvc/test_search.py",
    "tests/memsvc/test_context.py",
    "tests/memsvc/test_review.py",
    "tests/memsvc/test_reconcile_streamed.py",
)


class PostgresLane:
    """The PostgreSQL server the suite may use: probed once, databases made and dropped."""

    def __init__(self) -> None:
        self.server_url = os.environ.get("MEMSVC_TEST_POSTGRES_URL") or PG_DEFAULT_URL
        self.prefix = f"memsvc_t_{os.getpid()}_{secrets.token_hex(3)}"
        self._probed = False
        self.skip_reason: str | None = None
        self._template: str | None = None
        self._shared: str | None = None
        self._shared_ok = True
        self._count = 0
        self._lock = threading.RLock()

    def _url(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.server_url).set(drivername=driver, database=database)
        return url.render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        admin_db = make_url(self.server_url).database or "postgres"
        with psycopg.connect(self._url(admin_db, driver="postgresql"), autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]  # DDL built from our own names

    def available(self) -> bool:
        """Whether a server answers; else ``skip_reason`` says why."""
        with self._lock:
            if not self._probed:
                self._probed = True
                try:
                    self._admin("SELECT 1")
                except Exception as exc:  # any failure (no driver, no server) means "no lane"
                    from memsvc.store.database import display_url

                    lines = str(exc).strip().splitlines()
                    self.skip_reason = (
                        "PostgreSQL lane skipped: no server at "
                        f"{display_url(self.server_url)} "
                        f"({type(exc).__name__}: {lines[0] if lines else ''}); "
                        "set MEMSVC_TEST_POSTGRES_URL to point at one"
                    )
        return self.skip_reason is None

    def template(self) -> str:
        """The migrated template database's name (made on first use)."""
        with self._lock:
            if self._template is None:
                name = f"{self.prefix}_tmpl"
                self._admin(f'CREATE DATABASE "{name}"')
                upgrade(self._url(name))
                self._template = name
            return self._template

    def fresh_database(self) -> str:
        """A new database migrated to head (a copy of the template); returns its URL."""
        template = self.template()
        with self._lock:
            self._count += 1
            name = f"{self.prefix}_{self._count}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        # test data need not survive a server crash: no WAL flush wait at every commit
        self._admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        return self._url(name)

    def clean_database(self) -> str:
        """The run's shared test database, emptied: every table's rows deleted, sequences
        restarted, stray connections closed. Deleting under ``session_replication_role =
        replica`` (a superuser setting) skips the append-only triggers; it takes ~10 ms
        where copying a template database takes ~1 s. Without that privilege every test
        gets a copy of the template instead."""
        import psycopg

        with self._lock:
            if self._shared is None:
                self._shared = self.fresh_database()
                self._shared_ok = True
            url, ok = self._shared, self._shared_ok
        if not ok:
            return self.fresh_database()
        from sqlalchemy.engine import make_url

        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            try:
                with c.transaction():
                    c.execute("SET LOCAL session_replication_role = replica")
                    for (table,) in c.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    ).fetchall():
                        c.execute(f'DELETE FROM "{table}"')  # type: ignore[arg-type]
                    for (seq,) in c.execute(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                    ).fetchall():
                        c.execute(f'ALTER SEQUENCE "{seq}" RESTART')  # type: ignore[arg-type]
            except psycopg.errors.InsufficientPrivilege:
                with self._lock:
                    self._shared_ok = False
                return self.fresh_database()
        return url

    def empty_database(self) -> str:
        """A new database with no schema at all (for migration tests); returns its URL."""
        with self._lock:
            self._count += 1
            name = f"{self.prefix}_{self._count}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self._url(name)

    def drop(self, url: str) -> None:
        """Drop one database made here, closing whatever connections remain (the shared
        test database stays until the end of the run)."""
        from sqlalchemy.engine import make_url

        if url == self._shared and self._shared_ok:
            return
        name = make_url(url).database
        assert name and name.startswith(self.prefix), name
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        """Drop every database this run made (session end)."""
        if not self._probed or self.skip_reason is not None:
            return
        import psycopg
        from sqlalchemy.engine import make_url

        admin_db = make_url(self.server_url).database or "postgres"
        with psycopg.connect(self._url(admin_db, driver="postgresql"), autocommit=True) as c:
            names = [
                r[0]
                for r in c.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s",
                    (self.prefix + "%",),
                )
            ]
            for name in names:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


PG = PostgresLane()


def pytest_report_header(config: pytest.Config) -> str:
    from memsvc.store.database import display_url

    if PG.available():
        return f"PostgreSQL lane: on, {display_url(PG.server_url)}, databases {PG.prefix}_*"
    return str(PG.skip_reason)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Repeated at the end so a skipped lane is never mistaken for a passing one.
    if PG.skip_reason is not None:
        terminalreporter.write_line(PG.skip_reason, yellow=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    PG.drop_all()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the core and audit tests that take a backend on SQLite and on PostgreSQL."""
    if "backend" not in metafunc.fixturenames:
        return
    path = Path(str(metafunc.definition.path)).resolve()
    root = Path(str(metafunc.config.rootpath)).resolve()
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else ""
    if rel.startswith(PG_TEST_PATHS):
        metafunc.parametrize(
            "backend",
            ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
            indirect=True,
        )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``; the PostgreSQL case skips with the reason if no server."""
    name: str = getattr(request, "param", "sqlite")
    if name == "postgres" and not PG.available():
        pytest.skip(str(PG.skip_reason))
    return name


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated PostgreSQL database of its own (skips with the reason if no server)."""
    if not PG.available():
        pytest.skip(str(PG.skip_reason))
    url = PG.fresh_database()
    yield url
    PG.drop(url)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str | None]:
    """The test's database: None (SQLite in the data dir) or a fresh PostgreSQL database."""
    if backend != "postgres":
        yield None
        return
    url = PG.clean_database()
    yield url
    PG.drop(url)


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real bundled model, loaded once for the whole test session."""
    embedder = MiniLMEmbedder()
    embedder.warm()
    return embedder


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path / "data", database_url=database_url)


@pytest.fixture
def embedder() -> Embedder:
    return HashEmbedder(64)


@pytest.fixture
def service(settings: Settings, embedder: Embedder) -> Iterator[MemoryService]:
    with build_service(settings, embedder=embedder) as svc:
        yield svc


@pytest.fixture
def actor() -> Actor:
    return Actor.local(Channel.REST)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server in a thread, serving a given ASGI app on loopback."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(
    tmp_path: Path, embedder: Embedder, database_url: str | None
) -> Iterator[tuple[LiveServer, MemoryService]]:
    """A real HTTP server over a fresh data dir (fake embedder)."""
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port, database_url=database_url)
    with (
        build_service(settings, embedder=embedder) as svc,
        LiveServer(create_app(svc, settings), port) as server,
    ):
        yield server, svc


@pytest.fixture
def client(live: tuple[LiveServer, MemoryService]) -> Iterator[httpx.Client]:
    server, _ = live
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as c:
        yield c


@contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """An S3-compatible server (moto in server mode) on loopback with one bucket; its URL.
    Stopped on exit."""
    pytest.importorskip("moto", reason="the S3 tests need moto[server] (a dev dependency)")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        assert httpx.put(f"{url}/{bucket}").status_code == 200  # create the bucket
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
