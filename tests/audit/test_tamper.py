"""Tamper matrix: copies of a real store, each altered the way an attacker with write access
to the database file would; verification must fail at the right sequence number."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from memsvc import MemoryDraft, ProjectCreate, SearchQuery, build_service
from memsvc.audit.verifier import EVENT_FIELDS, event_hash
from memsvc.errors import ProjectExists
from memsvc.retrieval.embedder import HashEmbedder
from memsvc_cli.main import main
from tests.audit.helpers import CLI, unique
from tests.conftest import make_settings

Tamper = Callable[[sqlite3.Connection, list[int]], int]
"""Alters the database; returns the sequence number verification must report."""


def _populate(data_dir: Path, rounds: int = 6) -> None:
    settings = make_settings(data_dir, audit_checkpoint_every=5)
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        for p in ("acme", "beta"):
            with contextlib.suppress(ProjectExists):  # second round on the same store
                svc.create_project(CLI, ProjectCreate(id=p))
        for _ in range(rounds):
            for p in ("acme", "beta"):
                m = svc.add_memory(CLI, p, MemoryDraft(kind="fact", content=unique())).memory
                svc.search_memories(CLI, p, SearchQuery(query="fact"))
                svc.get_memory(CLI, p, m.id)
            svc.list_projects(CLI)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("store") / "data"
    _populate(data)
    return data


def _copy(store: Path, dest: Path) -> Path:
    shutil.copytree(store, dest)
    return dest


def _open(data: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(data / "memsvc.db", isolation_level=None)
    for table in ("audit_event", "audit_ref", "audit_checkpoint"):
        for verb in ("update", "delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    return conn


def _chain(conn: sqlite3.Connection, chain: str) -> list[int]:
    return [
        r[0]
        for r in conn.execute("SELECT seq FROM audit_event WHERE chain=? ORDER BY seq", (chain,))
    ]


def _verify(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "verify", "--data-dir", str(data), *extra])
    return code, capsys.readouterr().out


def _row(conn: sqlite3.Connection, seq: int) -> dict[str, object]:
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM audit_event WHERE seq=?", (seq,)).fetchone())
    conn.row_factory = None
    return row


def _rehash_from(conn: sqlite3.Connection, chain: str, start: int) -> None:
    """Recompute the chain's hashes from ``start`` on, as an attacker without the key can."""
    seqs = _chain(conn, chain)
    prev = "0" * 64
    for seq in seqs:
        row = _row(conn, seq)
        if seq >= start:
            fields = {k: row.get(k) for k in EVENT_FIELDS if k not in ("project", "ts")}
            fields["project"] = row["project_id"]
            fields["ts"] = _iso(str(row["ts"]))
            for k in ("target_ids", "returned_ids", "detail"):
                fields[k] = json.loads(str(row[k]))
            digest = event_hash(prev, fields)
            conn.execute(
                "UPDATE audit_event SET prev_hash=?, hash=? WHERE seq=?", (prev, digest, seq)
            )
            prev = digest
        else:
            prev = str(row["hash"])


def _iso(stored: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromisoformat(stored).replace(tzinfo=UTC).isoformat(timespec="microseconds")


def edit_field(conn: sqlite3.Connection, acme: list[int]) -> int:
    k = acme[len(acme) // 2]
    conn.execute("UPDATE audit_event SET principal='mallory' WHERE seq=?", (k,))
    return k


def edit_detail(conn: sqlite3.Connection, acme: list[int]) -> int:
    k = acme[3]
    conn.execute("UPDATE audit_event SET outcome='denied' WHERE seq=?", (k,))
    return k


def delete_middle(conn: sqlite3.Connection, acme: list[int]) -> int:
    k = acme[len(acme) // 2]
    conn.execute("DELETE FROM audit_ref WHERE seq=?", (k,))
    conn.execute("DELETE FROM audit_event WHERE seq=?", (k,))
    return k


def insert_forged(conn: sqlite3.Connection, acme: list[int]) -> int:
    k = acme[len(acme) // 2]
    for table in ("audit_ref", "audit_event"):  # make room: shift every later seq up by one
        conn.execute(f"UPDATE {table} SET seq = -seq - 1 WHERE seq >= ?", (k,))
        conn.execute(f"UPDATE {table} SET seq = -seq WHERE seq < 0")
    prev = _row(conn, max(s for s in _chain(conn, "acme") if s < k))
    forged = {**_row(conn, k + 1), "seq": k, "principal": "mallory", "action": "get_memory"}
    fields = {k2: forged.get(k2) for k2 in EVENT_FIELDS if k2 not in ("project", "ts")}
    fields.update(project=forged["project_id"], ts=_iso(str(forged["ts"])))
    for key in ("target_ids", "returned_ids", "detail"):
        fields[key] = json.loads(str(forged[key]))
    forged["prev_hash"] = prev["hash"]
    forged["hash"] = event_hash(str(prev["hash"]), fields)
    cols = ", ".join(forged)
    conn.execute(
        f"INSERT INTO audit_event ({cols}) VALUES ({', '.join('?' * len(forged))})",
        list(forged.values()),
    )
    return k


def reorder(conn: sqlite3.Connection, acme: list[int]) -> int:
    k, j = acme[2], acme[3]
    for table in ("audit_ref", "audit_event"):
        conn.execute(f"UPDATE {table} SET seq=-1 WHERE seq=?", (k,))
        conn.execute(f"UPDATE {table} SET seq=? WHERE seq=?", (k, j))
        conn.execute(f"UPDATE {table} SET seq=? WHERE seq=-1", (j,))
    return k


def recompute_without_key(conn: sqlite3.Connection, acme: list[int]) -> int:
    k = acme[len(acme) // 3]
    conn.execute("UPDATE audit_event SET principal='mallory' WHERE seq=?", (k,))
    _rehash_from(conn, "acme", k)
    return k


def delete_first(conn: sqlite3.Connection, acme: list[int]) -> int:
    k = acme[0]
    conn.execute("DELETE FROM audit_ref WHERE seq=?", (k,))
    conn.execute("DELETE FROM audit_event WHERE seq=?", (k,))
    return k


def alter_reference(conn: sqlite3.Connection, acme: list[int]) -> int:
    marks = ",".join("?" * len(acme))
    seq, memory_id = conn.execute(
        f"SELECT seq, memory_id FROM audit_ref WHERE seq IN ({marks}) ORDER BY seq LIMIT 1", acme
    ).fetchone()
    conn.execute("DELETE FROM audit_ref WHERE seq=? AND memory_id=?", (seq, memory_id))
    return int(seq)


@pytest.mark.parametrize(
    "tamper",
    [
        edit_field,
        edit_detail,
        delete_middle,
        insert_forged,
        reorder,
        recompute_without_key,
        delete_first,
        alter_reference,
    ],
)
def test_tampering_is_detected_at_the_right_seq(
    tamper: Tamper, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _copy(store, tmp_path / "copy")
    conn = _open(data)
    expected = tamper(conn, _chain(conn, "acme"))
    conn.close()
    code, out = _verify(data, capsys)
    assert code == 1, out
    assert f"first bad seq {expected}:" in out, out
    assert "chain acme" in out, out
    if tamper is recompute_without_key:  # the chain itself is consistent: only signatures tell
        assert "checkpoint" in out and "signed" in out, out
    code, out = _verify(data, capsys, "--project", "acme")
    assert code == 1 and f"first bad seq {expected}:" in out, out


def test_honest_store_verifies(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _copy(store, tmp_path / "copy")
    code, out = _verify(data, capsys)
    assert code == 0, out
    assert out.startswith("ok: ") and "0 events not yet signed" in out
    assert _verify(data, capsys, "--project", "beta")[0] == 0


def test_an_older_database_file_swapped_in_is_detected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _populate(data, rounds=2)
    old = tmp_path / "old.db"
    shutil.copy(data / "memsvc.db", old)
    conn = sqlite3.connect(old)
    old_max = conn.execute("SELECT max(seq) FROM audit_event").fetchone()[0]
    conn.close()
    _populate(data, rounds=2)
    assert _verify(data, capsys)[0] == 0
    for suffix in ("-wal", "-shm"):
        (data / f"memsvc.db{suffix}").unlink(missing_ok=True)
    shutil.copy(old, data / "memsvc.db")
    code, out = _verify(data, capsys)
    assert code == 1 and f"first bad seq {old_max + 1}:" in out, out
    assert "older copy" in out


def test_dropping_the_newest_checkpoints_is_detected(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _copy(store, tmp_path / "copy")
    conn = _open(data)
    top = conn.execute("SELECT max(idx) FROM audit_checkpoint WHERE chain='acme'").fetchone()[0]
    conn.execute("DELETE FROM audit_checkpoint WHERE chain='acme' AND idx=?", (top,))
    conn.close()
    code, out = _verify(data, capsys)
    assert code == 1 and "head record names checkpoint" in out, out


def test_a_forged_head_record_is_detected(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _copy(store, tmp_path / "copy")
    head = data / "audit-signing.key.head.json"
    doc = json.loads(head.read_text())
    doc["chains"]["acme"]["seq"] -= 1
    head.write_text(json.dumps(doc))
    code, out = _verify(data, capsys)
    assert code == 1 and "signature invalid" in out, out


def test_a_missing_head_record_fails_verification(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _copy(store, tmp_path / "copy")
    (data / "audit-signing.key.head.json").unlink()
    code, out = _verify(data, capsys)
    assert code == 1 and "head record" in out and "missing" in out, out


@pytest.mark.parametrize("table", ["audit_event", "audit_ref", "audit_checkpoint"])
def test_raw_update_and_delete_on_ledger_tables_are_refused(
    table: str, store: Path, tmp_path: Path
) -> None:
    data = _copy(store, tmp_path / "copy")
    conn = sqlite3.connect(data / "memsvc.db", isolation_level=None)
    column = {"audit_event": "principal", "audit_ref": "memory_id", "audit_checkpoint": "hash"}
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute(f"UPDATE {table} SET {column[table]}='x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute(f"DELETE FROM {table}")
    conn.close()


def test_verify_on_a_missing_store_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", "verify", "--data-dir", str(tmp_path / "nothing")])
    assert code == 2
    assert "no memsvc database" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()
