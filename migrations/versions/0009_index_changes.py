"""index_outbox.applied_generation: the project index generation an entry was applied at,
so another server holding generation g reads only the memories changed in (g, now]

Revision ID: 0009_index_changes
Revises: 0008_rules_hint
Create Date: 2026-12-01 17:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009_index_changes"
down_revision: str | None = "0008_rules_hint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("index_outbox") as batch:
        batch.add_column(sa.Column("applied_generation", sa.Integer(), nullable=True))
        batch.create_index("ix_outbox_changes", ["project_id", "applied_generation"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("index_outbox") as batch:
        batch.drop_index("ix_outbox_changes")
        batch.drop_column("applied_generation")
