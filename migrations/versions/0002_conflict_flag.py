"""memory.conflicts_with: the review queue's "possible conflict" flag

Revision ID: 0002_conflict_flag
Revises: 0001
Create Date: 2026-11-21 19:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002_conflict_flag'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('memory') as batch:
        batch.add_column(
            sa.Column('conflicts_with', sqlmodel.sql.sqltypes.AutoString(length=26), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('memory') as batch:
        batch.drop_column('conflicts_with')
