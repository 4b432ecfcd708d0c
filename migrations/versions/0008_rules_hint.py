"""project.rules_changed_at and agent_activity.context_at (the "rules changed since your
last context" hint); quarantine.deleted_at/deleted_by (delete the quarantined memories)

Revision ID: 0008_rules_hint
Revises: 0007_drop_project_activity
Create Date: 2026-12-02 17:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008_rules_hint'
down_revision: str | None = '0007_drop_project_activity'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.add_column(
            sa.Column('rules_changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table('agent_activity') as batch:
        batch.add_column(
            sa.Column('context_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table('quarantine') as batch:
        batch.add_column(
            sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column('deleted_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('quarantine') as batch:
        batch.drop_column('deleted_by')
        batch.drop_column('deleted_at')
    with op.batch_alter_table('agent_activity') as batch:
        batch.drop_column('context_at')
    with op.batch_alter_table('project') as batch:
        batch.drop_column('rules_changed_at')
