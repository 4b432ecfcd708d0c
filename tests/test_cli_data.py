"""The data commands a user scripts with: projects, add, search, list, export, import,
backup and restore — JSON output, clear errors with a non-zero exit."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from memsvc_cli import main

MEMSVC = str(Path(sys.executable).with_name("memsvc"))


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEMSVC_EMBEDDER", "hash")
    return tmp_path / "data"


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _dump(db: Path, table: str, order: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(f"SELECT * FROM {table} ORDER BY {order}"))
    finally:
        conn.close()


def test_add_search_list_and_projects_speak_json(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(data)]
    added = _json(
        capsys,
        [
            "add",
            *d,
            "--project",
            "acme",
            "--create",
            "--kind",
            "rule",
            "--json",
            "never commit to main",
        ],
    )
    assert isinstance(added, dict) and added["memory"]["kind"] == "rule"
    hits = _json(capsys, ["search", *d, "--project", "acme", "--json", "commit main"])
    assert isinstance(hits, list) and hits[0]["memory"]["id"] == added["memory"]["id"]
    page = _json(capsys, ["list", *d, "--project", "acme", "--json"])
    assert isinstance(page, dict) and len(page["memories"]) == 1
    projects = _json(capsys, ["projects", *d, "--json"])
    assert isinstance(projects, list) and projects[0]["id"] == "acme"


def test_an_unknown_project_is_a_clear_error_and_a_non_zero_exit(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add", "--data-dir", str(data), "--project", "acme", "--create", "x"]) == 0
    capsys.readouterr()
    assert main(["search", "--data-dir", str(data), "--project", "acmee", "x"]) == 1
    err = capsys.readouterr().err
    assert "error: no project 'acmee'" in err and "Traceback" not in err


def test_export_import_and_backup_restore_round_trip(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(data)]
    for text in ("never commit to main", "deploys run at nine", "the queue is rabbitmq"):
        assert main(["add", *d, "--project", "acme", "--create", text]) == 0
    out = tmp_path / "acme.jsonl"
    assert main(["export", *d, "--project", "acme", "--out", str(out)]) == 0
    other = tmp_path / "other"
    assert main(["import", "--data-dir", str(other), str(out)]) == 0
    assert main(["import", "--data-dir", str(other), str(out)]) == 0  # idempotent
    assert "0 memories added, 3 already there" in capsys.readouterr().out
    assert _dump(other / "memsvc.db", "memory", "id") == _dump(data / "memsvc.db", "memory", "id")

    backup = tmp_path / "backup"
    assert main(["backup", *d, "--out", str(backup)]) == 0
    restored = tmp_path / "restored"
    assert main(["restore", "--data-dir", str(restored), str(backup)]) == 0
    for table, order in (
        ("memory", "id"),
        ("memory_version", "memory_id, version"),
        ("audit_event", "seq"),
        ("audit_checkpoint", "id"),
    ):
        assert _dump(restored / "memsvc.db", table, order)[
            : len(_dump(data / "memsvc.db", table, order))
        ] == _dump(data / "memsvc.db", table, order), table
    verify = subprocess.run(
        [MEMSVC, "audit", "verify", "--data-dir", str(restored)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    hits = _json(
        capsys, ["search", "--data-dir", str(restored), "--project", "acme", "--json", "rabbitmq"]
    )
    assert isinstance(hits, list) and hits and "rabbitmq" in hits[0]["memory"]["content"]


def test_a_bad_data_dir_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    r = subprocess.run(
        [MEMSVC, "list", "--data-dir", str(missing), "--project", "acme"],
        capture_output=True,
        text=True,
        env={"MEMSVC_EMBEDDER": "hash", "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "no data directory" in r.stderr


def test_version_and_a_bad_log_level_are_clear(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("memsvc ")
    monkeypatch.setenv("MEMSVC_LOG_LEVEL", "bogus")
    assert main(["projects"]) == 2
    err = capsys.readouterr().err
    assert "log_level" in err and "Traceback" not in err


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            MEMSVC,
            "reindex",
            "--data-dir",
            str(tmp_path / "d"),
            "--log-format",
            "json",
            "--log-level",
            "debug",
        ],
        capture_output=True,
        text=True,
        env={"MEMSVC_EMBEDDER": "hash", "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(x) for x in lines)


def test_audit_verify_of_an_unknown_project_is_an_error(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add", "--data-dir", str(data), "--project", "acme", "--create", "x"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--data-dir", str(data), "--project", "acmee"]) == 2
    assert "no audit events for project 'acmee'" in capsys.readouterr().err
    assert main(["audit", "verify", "--data-dir", str(data), "--project", "acme"]) == 0


def _bar_noise(text: str) -> list[str]:
    """What a progress bar leaves in output: carriage returns, ``|█`` bars, rates."""
    return [s for s in ("\r", "%|", "it/s", " items/s", "\x1b[") if s in text]


def test_progress_bars_stay_off_when_output_is_not_a_terminal(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(data)]
    for text in ("never commit to main", "deploys run at nine"):
        assert main(["add", *d, "--project", "acme", "--create", text]) == 0
    claude = tmp_path / "CLAUDE.md"
    claude.write_text("# Rules\n- Never push on Fridays.\n")
    out, backup = tmp_path / "acme.jsonl", tmp_path / "backup"
    capsys.readouterr()
    said = {}
    for argv in (
        ["export", *d, "--out", str(out)],
        ["import", *d, str(claude), "--project", "acme"],
        ["backup", *d, "--out", str(backup)],
        ["restore", "--data-dir", str(tmp_path / "restored"), str(backup)],
        ["reindex", *d],
    ):
        assert main(argv) == 0, argv
        got = capsys.readouterr()
        assert _bar_noise(got.out + got.err) == [], (argv, got)
        said[argv[0]] = got.out
    # the imported rule waits for review (the default policy for channel import)
    assert (
        "1 memories added to acme (0 already there; 1 proposed, waiting for review)"
        in (said["import"])
    )


def test_reindex_shows_a_bar_on_a_terminal_and_plain_lines_in_a_pipe(data: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    assert main(["add", "--data-dir", str(data), "--project", "acme", "--create", "x y z"]) == 0
    env = {**os.environ, "MEMSVC_EMBEDDER": "hash"}
    argv = [MEMSVC, "reindex", "--data-dir", str(data)]
    piped = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    assert piped.stdout == "acme: 1 memories indexed\n"
    assert _bar_noise(piped.stderr) == []
    leader, follower = pty.openpty()
    # a pty starts 0 columns wide, where a bar has no room: make it a usual terminal
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=follower, env=env, check=True)
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.stdout.decode() == "acme: 1 memories indexed\n"
    assert b"reindex" in shown and b"100%" in shown
