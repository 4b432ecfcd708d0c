"""Backend-neutral backups: every table of a database copied, in one consistent snapshot,
into an SQLite file with memsvc's schema; and such a file copied back into an empty
database, SQLite or PostgreSQL.

The backup file is an ordinary memsvc SQLite database at the same migration head, so a
PostgreSQL backup restores into a plain data dir and the reverse. Rows are copied through
the tables' own SQLAlchemy types, so JSON, text and times come back as they were; the
audit ledger's append-only triggers refuse updates and deletes only, so a restore, which
inserts into empty tables, passes them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, Integer, Table, create_engine, func, insert, select, text
from sqlmodel import SQLModel

from memsvc.errors import Conflict, InvalidInput
from memsvc.store import models as _models  # noqa: F401 - registers every table
from memsvc.store.database import is_postgres, normalise_url, upgrade

__all__ = ["Progress", "restore", "snapshot", "table_counts", "tables"]

Progress = Callable[[int], object]
"""Told how many rows were just copied (a progress bar's ``update``)."""

CHUNK = 1000


def tables() -> list[Table]:
    """Every memsvc table, parents before children (the order rows are copied in)."""
    return list(SQLModel.metadata.sorted_tables)


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = create_engine(normalise_url(url))
    try:
        yield engine
    finally:
        engine.dispose()


def _head(conn: Connection) -> str | None:
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per table."""
    return {
        t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in tables()
    }


def _copy(read: Connection, write: Connection, progress: Progress) -> None:
    for table in tables():
        rows = read.execution_options(yield_per=CHUNK).execute(
            select(table).order_by(*table.primary_key.columns)
        )
        for chunk in rows.partitions():
            write.execute(insert(table), [dict(r._mapping) for r in chunk])
            progress(len(chunk))


def snapshot(
    source_url: str, out_file: Path, progress: Progress = lambda _n: None
) -> dict[str, int]:
    """Copy every table of ``source_url`` into a new SQLite file at ``out_file``, reading in
    one REPEATABLE READ, read-only transaction (on PostgreSQL a single snapshot, so writers
    may go on); returns the rows copied per table."""
    target = f"sqlite:///{out_file}"
    upgrade(target)
    with _engine(source_url) as src, _engine(target) as dst, src.connect() as conn:
        if is_postgres(source_url):
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with conn.begin(), dst.begin() as write:
            if _head(conn) != _head(write):
                raise Conflict(
                    f"the database is at migration {_head(conn)}, this memsvc at "
                    f"{_head(write)}; run `memsvc migrate` first"
                )
            _copy(conn, write, progress)
            return table_counts(write)


def restore(
    backup_file: Path, target_url: str, progress: Progress = lambda _n: None
) -> dict[str, int]:
    """Copy a backup file into ``target_url`` (migrated first), which must hold no rows,
    in one transaction; on PostgreSQL the id sequences then continue after the restored
    rows. A backup from an older memsvc is migrated first (a copy; the backup stays as it
    is). Returns the rows per table now in the target."""
    upgrade(target_url)
    with tempfile.TemporaryDirectory(prefix="memsvc-restore-") as scratch:
        copy = Path(scratch) / backup_file.name
        shutil.copyfile(backup_file, copy)
        upgrade(f"sqlite:///{copy}")
        return _restore(copy, target_url, progress)


def _restore(backup_file: Path, target_url: str, progress: Progress) -> dict[str, int]:
    with (
        _engine(f"sqlite:///{backup_file}") as src,
        _engine(target_url) as dst,
        src.connect() as read,
        read.begin(),
        dst.begin() as write,
    ):
        if _head(read) != _head(write):
            raise InvalidInput(
                f"the backup is at migration {_head(read)}, this memsvc at {_head(write)}"
            )
        held = [name for name, n in table_counts(write).items() if n]
        if held:
            raise Conflict(
                f"the target database is not empty ({', '.join(held)}); restore into an empty one"
            )
        _copy(read, write, progress)
        if is_postgres(target_url):
            _continue_sequences(write)
        return table_counts(write)


def _continue_sequences(conn: Connection) -> None:
    """Move each serial id's sequence past the restored rows (rows were inserted with
    their ids, which does not advance a sequence)."""
    for table in tables():
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, Integer):
            column = keys[0]
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:t, :c), "
                    f'coalesce(max("{column.name}"), 1), max("{column.name}") IS NOT NULL) '
                    f'FROM "{table.name}"'
                ),
                {"t": table.name, "c": column.name},
            )
