"""Contract tests for the architecture: import boundaries, nothing at import time, schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from memsvc.store.database import check, upgrade

ROOT = Path(__file__).resolve().parent.parent


def test_import_boundaries_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_nothing_heavy_happens_at_import_time() -> None:
    code = (
        "import sys, memsvc, memsvc.api, memsvc.cli;"
        "names = ('torch', 'sentence_transformers', 'lancedb', 'tiktoken');"
        "heavy = [m for m in names if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_migrations_match_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    check(url)  # raises if autogenerate would produce any change


def test_audit_tables_are_append_only(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    con = sqlite3.connect(tmp_path / "m.db")
    con.execute(
        "INSERT INTO audit_event (seq, chain, ts, principal, channel, action, target_ids,"
        " returned_ids, outcome, detail, prev_hash, hash) VALUES"
        " (1, '', '2026-01-01', 'p', 'rest', 'a', '[]', '[]', 'ok', '{}', 'x', 'y')"
    )
    for sql in ("UPDATE audit_event SET principal = 'q'", "DELETE FROM audit_event"):
        try:
            con.execute(sql)
        except sqlite3.DatabaseError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{sql} was allowed")
