"""Engines and transactions. SQLite: WAL, busy_timeout, and ``BEGIN IMMEDIATE`` for writers
so concurrent writers queue instead of failing with SQLITE_BUSY mid-transaction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

__all__ = ["AUDITED", "Database", "UnauditedWrite", "check", "migrations_dir", "upgrade"]

AUDITED = "memsvc.audited"
"""``Session.info`` key the audited-call API sets once the operation's event is recorded."""


class UnauditedWrite(RuntimeError):
    """A ``write()`` transaction tried to commit without the audit event of its operation.

    A programming error, never a caller's: every change a caller makes commits with its
    event in the same transaction (``memsvc.operations.calls``); derived state that no
    caller asked for (index bookkeeping, checkpoints) goes through ``maintenance()``.
    """


def migrations_dir() -> Path:
    """The Alembic scripts: the repo's ``migrations/`` or the copy packed into the wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "migrations", here / "_migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("memsvc migrations not found")  # pragma: no cover


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Apply every migration up to head (the only way the schema changes)."""
    from alembic import command

    command.upgrade(_alembic_config(url), "head")


def check(url: str) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    from alembic import command

    command.check(_alembic_config(url))


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Two engines on one database: ``write()`` sessions take the write lock up front."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._writer = _sqlite_engine(url, immediate=True)
            self._reader = _sqlite_engine(url, immediate=False)
        else:  # pragma: no cover - exercised only against a PostgreSQL server
            self._writer = self._reader = create_engine(url, pool_pre_ping=True)
        # One writer at a time inside this process; SQLite's lock orders processes.
        self._write_lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A caller's change: commits on success only if the operation's audit event was
        recorded in it (else ``UnauditedWrite``), and rolls back on any error."""
        with self._transaction() as session:
            yield session
            if not session.info.get(AUDITED):
                raise UnauditedWrite("a write transaction ended without its audit event")

    @contextmanager
    def maintenance(self) -> Iterator[Session]:
        """A write of derived state no caller asked for (index bookkeeping, checkpoints)."""
        with self._transaction() as session:
            yield session

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with (
            self._write_lock,
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction."""
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self._writer.dispose()
        self._reader.dispose()
