"""Whether the database's schema is the one this code expects (for readiness checks)."""

from __future__ import annotations

from sqlalchemy import text

from memsvc.store.database import Database, migrations_dir

__all__ = ["schema_state"]


def schema_state(db: Database) -> tuple[str | None, str]:
    """(the database's Alembic revision, the code's head revision)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(migrations_dir())).get_current_head() or ""
    with db.read() as s:
        row = s.execute(text("SELECT version_num FROM alembic_version")).first()
    return (str(row[0]) if row else None), head
