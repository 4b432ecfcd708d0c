"""drop project_activity: per-principal activity was superseded by agent_activity (0005)
and nothing read it any more, while every call wrote it; index audit_event (project_id, ts)
so the fleet dashboard's recent-window counts read the window, not a project's history

Revision ID: 0007_drop_project_activity
Revises: 0006_project_archive
Create Date: 2026-12-01 17:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007_drop_project_activity'
down_revision: str | None = '0006_project_archive'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table('project_activity')
    with op.batch_alter_table('audit_event') as batch:
        batch.create_index('ix_audit_project_ts', ['project_id', 'ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_event') as batch:
        batch.drop_index('ix_audit_project_ts')
    op.create_table('project_activity',
    sa.Column('principal', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('project_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('last_active_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('principal', 'project_id')
    )
