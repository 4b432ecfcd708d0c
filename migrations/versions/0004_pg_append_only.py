"""audit ledger append-only on PostgreSQL: triggers refuse UPDATE, DELETE and TRUNCATE

SQLite got the same guarantee in 0001/0003 (BEFORE UPDATE/DELETE triggers). On PostgreSQL
one trigger function raises for any row change, and a statement trigger refuses TRUNCATE,
which row triggers do not see. Nothing changes on SQLite.

Revision ID: 0004_pg_append_only
Revises: 0003
Create Date: 2026-12-01 14:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0004_pg_append_only'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("audit_event", "audit_ref", "audit_checkpoint")
FUNCTION = "memsvc_audit_append_only"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # SQLSTATE 55000 (object_not_in_prerequisite_state) and the same words as SQLite's.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
                USING ERRCODE = '55000';
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
