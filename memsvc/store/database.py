"""Engines and transactions on SQLite or PostgreSQL.

SQLite: WAL, busy_timeout, and ``BEGIN IMMEDIATE`` for writers so concurrent writers queue
instead of failing with SQLITE_BUSY mid-transaction. PostgreSQL (psycopg 3): one pooled
engine with ``pool_pre_ping`` so a restarted server is picked up again without a restart of
ours. On both, a database that cannot be reached raises :class:`memsvc.errors.Unavailable`
(503) instead of leaking a driver error.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from memsvc.errors import StorageFull, Unavailable

__all__ = [
    "AUDITED",
    "Database",
    "UnauditedWrite",
    "check",
    "disk_full",
    "display_url",
    "ledger_lock",
    "migrations_dir",
    "normalise_url",
    "project_lock",
    "storage_full",
    "upgrade",
]

# Seconds a new PostgreSQL connection may take before the request answers 503.
PG_CONNECT_TIMEOUT_S = 5


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver of the extra), not
    SQLAlchemy's default psycopg2, which memsvc does not depend on."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def display_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable database URL>"


def is_postgres(url: str) -> bool:
    """True for any PostgreSQL URL, whatever driver it names."""
    return normalise_url(url).startswith("postgresql")


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
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Apply every migration up to head (the only way the schema changes).

    Raises :class:`Unavailable` when the database cannot be reached.
    """
    from alembic import command

    with translate_errors(url):
        command.upgrade(_alembic_config(url), "head")


def check(url: str) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    from alembic import command

    command.check(_alembic_config(url))


# SQLite's OperationalError also covers schema mistakes ("no such table"), which are bugs
# and must stay 500s; only these mean "the database cannot serve right now".
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open database",
    "disk i/o error",
    "readonly database",
)
_DISK_FULL_MESSAGES = ("database or disk is full", "no space left on device")
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full


def disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) means a full disk: ``OSError`` ENOSPC, SQLite's
    "database or disk is full", PostgreSQL's ``disk_full``, or a LanceDB/Arrow error that
    says "No space left on device"."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if getattr(error, "sqlstate", None) == _PG_DISK_FULL:
            return True
        # never the SQLAlchemy wrapper's text: it quotes the statement's parameters, which
        # hold callers' memory text; the driver's own message does not
        wrapper = isinstance(error, exc.SQLAlchemyError)
        if not wrapper and any(m in str(error).lower() for m in _DISK_FULL_MESSAGES):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


def storage_full(error: BaseException) -> StorageFull:
    """The typed error for a full disk (507), naming what the caller should do."""
    return StorageFull(
        "the server's storage is full (no space left on device), so nothing was stored "
        f"or acknowledged ({type(error).__name__}); free disk space, then retry"
    )


def is_unavailable(error: BaseException, url: str) -> bool:
    """Whether a SQLAlchemy error means the database is unreachable or cannot serve now."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.InterfaceError):
        return True
    if isinstance(error, exc.OperationalError):
        if is_postgres(url):
            # psycopg raises OperationalError for connection failures, server shutdown,
            # lock timeouts and cancelled statements: all transient, all worth a retry.
            return True
        message = str(error.orig).lower()
        return any(m in message for m in _SQLITE_UNAVAILABLE)
    return False


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Re-raise connection-level database errors as :class:`Unavailable` (password-free),
    and a full disk as :class:`StorageFull` (507)."""
    try:
        yield
    except (exc.SQLAlchemyError, OSError) as error:
        if disk_full(error):
            raise storage_full(error) from error
        if isinstance(error, OSError) or not is_unavailable(error, url):
            raise
        reason = type(getattr(error, "orig", None) or error).__name__
        raise Unavailable(
            f"the database ({display_url(url)}) cannot be reached right now ({reason}); "
            "try again shortly"
        ) from error


# The key of memsvc's one advisory lock: a stable signed 64-bit number, namespaced so other
# users of advisory locks on a shared server do not collide with it by accident.
LEDGER_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"memsvc.audit.ledger").digest()[:8], "big", signed=True
)
_LOCKED = "memsvc.store.database.ledger_locked"
_PROJECT_LOCKED = "memsvc.store.database.project_locked"


def ledger_lock(session: Session) -> None:
    """Make this transaction the ledger's only appender until it ends (commit or rollback).

    The audit ledger's global ``seq`` is gap-free by design (the verifier reports a gap as
    a deleted event), and each chain links to its previous event, so appending must read
    the head and draw the next number as one step across every process. PostgreSQL
    sequences leave gaps on rollback and a per-chain lock leaves the global number racing,
    so appenders take one transaction-scoped advisory lock. It is taken as late as
    possible — by ``AuditLog.record``, the last statement of a caller's transaction, and
    by checkpoints — so the critical section every server shares is the audit insert and
    the commit, not the whole transaction. After taking it a transaction only appends to
    the ledger tables, which no other transaction holds row locks on, so a holder never
    waits on anyone and no two transactions can deadlock over it. Calling it again is free
    (advisory locks are re-entrant). SQLite needs nothing: ``BEGIN IMMEDIATE`` already
    holds its single write lock.
    """
    _advisory(session, LEDGER_LOCK_KEY, _LOCKED)


def project_lock(session: Session, project: str | None) -> None:
    """Make this transaction the only caller's change to ``project`` (None: to state of no
    project, such as tokens and server settings) until it ends.

    Taken first thing by ``Call.commit()``, before any row is read, so a change's checks
    and its writes are one step across servers: an exact duplicate is found, not stored
    twice; ``expected_version`` holds; a project id is created once. Different projects
    proceed in parallel. Taken before any other lock and never after the ledger lock, so
    it cannot deadlock either. No-op on SQLite (one writer at a time anyway).
    """
    key = int.from_bytes(
        hashlib.sha256(b"memsvc.project:" + (project or "").encode()).digest()[:8],
        "big",
        signed=True,
    )
    _advisory(session, key, _PROJECT_LOCKED)


def _advisory(session: Session, key: int, marker: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    if session.info.get(marker) is session.get_transaction():
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    session.info[marker] = session.get_transaction()


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


def _postgres_engine(url: str) -> Engine:
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:  # an explicit ?connect_timeout= wins
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    # pre_ping: a pooled connection the server dropped (restart, failover) is replaced
    # on checkout, so the service recovers without being restarted.
    return create_engine(parsed, pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args)


class Database:
    """Two engines on one database: ``write()`` sessions take the write lock up front."""

    def __init__(self, url: str) -> None:
        url = normalise_url(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._writer = _sqlite_engine(url, immediate=True)
            self._reader = _sqlite_engine(url, immediate=False)
        else:
            self._writer = self._reader = _postgres_engine(url)
        # SQLite: one writer at a time inside this process (its write lock orders
        # processes). PostgreSQL orders writers with advisory locks instead — per project
        # for a caller's change (``project_lock``), one for the ledger's append
        # (``ledger_lock``) — in this process and across servers alike.
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._writer.dialect.name

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
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite: the one writer until it
        ends; on PostgreSQL the locks are taken by what needs them, see ``project_lock``
        and ``ledger_lock``); commits on success, rolls back on any error, and raises
        :class:`Unavailable` (:class:`StorageFull` for a full disk)."""
        with (
            translate_errors(self.url),
            self._write_lock,
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction; raises :class:`Unavailable` when the database is unreachable."""
        with (
            translate_errors(self.url),
            Session(self._reader, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def peek(self) -> Iterator[Connection]:
        """A read transaction on a plain connection, for one or two Core statements on
        every request (the token setting): no ORM session to build, autoflush or close,
        which cost several times such a statement. Errors as :meth:`read`."""
        with translate_errors(self.url), self._reader.connect() as conn, conn.begin():
            yield conn

    def ping(self) -> None:
        """Raise :class:`Unavailable` unless the database answers a trivial query."""
        with self.read() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._writer.dispose()
        self._reader.dispose()
