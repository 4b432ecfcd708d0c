"""Migrations and models agree, and the ledger tables are append-only from the start."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memsvc.store.database import check, upgrade


def test_upgrade_to_head_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    check(url)  # raises if `alembic check` would generate anything


def test_ledger_tables_refuse_changes_after_migration(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'm.db'}")
    conn = sqlite3.connect(tmp_path / "m.db")
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    conn.close()
    for table in ("audit_event", "audit_ref", "audit_checkpoint"):
        assert {f"{table}_no_update", f"{table}_no_delete"} <= triggers


@pytest.mark.parametrize("target", ["0001"])
def test_downgrade_and_upgrade_again(tmp_path: Path, target: str) -> None:
    from alembic import command

    from memsvc.store.database import _alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    command.downgrade(_alembic_config(url), target)
    upgrade(url)
    check(url)
