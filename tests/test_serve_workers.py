"""``memsvc serve --workers N``: N real processes on one address, each a whole server; a
write on one is found through the others, a killed worker is replaced, SIGTERM stops
them all cleanly (exit 0, every audit event signed)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from memsvc_cli.workers import MAX_FAST_EXITS, Supervisor, listen
from tests.conftest import free_port

MEMSVC = str(Path(sys.executable).with_name("memsvc"))
START_S = 120.0


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MEMSVC_DATA_DIR": str(tmp_path / "d"),
        "MEMSVC_EMBEDDER": "hash",
        "MEMSVC_LOG_LEVEL": "warning",
    }


def _health(base: str) -> dict[str, object] | None:
    """One health answer on a new connection (so the kernel may pick any worker)."""
    try:
        r = httpx.get(base + "/health", timeout=5, headers={"Connection": "close"})
    except httpx.TransportError:
        return None
    return r.json() if r.status_code == 200 else None


def _pids(base: str, want: int, proc: subprocess.Popen[bytes], log: Path) -> set[int]:
    """The processes answering until ``want`` distinct ones have been seen."""
    seen: set[int] = set()
    deadline = time.monotonic() + START_S
    while len(seen) < want:
        answer = _health(base)
        if answer is not None:
            seen.add(int(str(answer["process"])))
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"saw {seen}\n{log.read_text()[-3000:]}"
        time.sleep(0.05)
    return seen


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_share_one_address_and_the_data(tmp_path: Path) -> None:
    env, port, log = _env(tmp_path), free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}/api/v1"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [MEMSVC, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    try:
        workers = _pids(base, 2, proc, log)
        assert {_parent(pid) for pid in workers} == {proc.pid}, "not the supervisor's children"

        with httpx.Client(base_url=base, timeout=60) as c:
            assert c.post("/projects", json={"id": "acme"}).status_code == 201
            r = c.post(
                "/projects/acme/memories",
                json={"kind": "decision", "content": "Invoices are stored in euro cents"},
            )
            assert r.status_code == 201
        answered: set[int] = set()
        for _ in range(24):  # every search on a new connection finds the write
            with httpx.Client(base_url=base, timeout=60) as c:
                query = {"query": "invoices euro cents", "min_relevance": 0}
                hits = c.post("/projects/acme/search", json=query).json()
                assert [h["memory"]["id"] for h in hits["hits"]] == [r.json()["id"]]
                answered.add(int(c.get("/health").json()["process"]))
        assert answered <= workers
        _legacy_mcp_calls_reach_any_worker(port)

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + START_S
        while True:  # the other worker answers meanwhile; a new one replaces the victim
            now = _pids(base, 1, proc, log)
            replaced = {p for p in now if p not in workers}
            if replaced and all(_parent(p) == proc.pid for p in replaced):
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
        assert "exited with status" in log.read_text()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0, log.read_text()[-3000:]
        for pid in workers - {victim}:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
    verify = subprocess.run([MEMSVC, "audit", "verify"], env=env, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    unsigned = re.search(r"(\d+) events not yet signed", verify.stdout)
    assert unsigned is not None and unsigned.group(1) == "0", verify.stdout


def _legacy_mcp_calls_reach_any_worker(port: int) -> None:
    """A client of a protocol revision before 2026-07-28 opens a session and then calls on
    new connections: with one process per address that works; with several, a session
    held by one worker would answer 404 on the other, so such requests are stateless."""
    url = f"http://127.0.0.1:{port}/mcp"
    headers = {"Accept": "application/json, text/event-stream", "Connection": "close"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "legacy", "version": "1"},
        },
    }
    r = httpx.post(url, json=init, headers=headers, timeout=60)
    assert r.status_code == 200 and "mcp-session-id" not in r.headers
    headers["mcp-protocol-version"] = "2025-06-18"
    for n in range(8):
        call = {
            "jsonrpc": "2.0",
            "id": 10 + n,
            "method": "tools/call",
            "params": {"name": "list_projects", "arguments": {}},
        }
        r = httpx.post(url, json=call, headers=headers, timeout=60)
        assert r.status_code == 200 and "acme" in r.text, r.text


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"


def test_a_taken_port_fails_once_before_any_worker_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [MEMSVC, "serve", "--port", str(port), "--workers", "2"],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "serving" not in done.stdout


def test_a_public_address_without_tokens_is_refused_before_binding(tmp_path: Path) -> None:
    done = subprocess.run(
        [MEMSVC, "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--workers", "2"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "refusing to bind 0.0.0.0" in done.stderr
    assert "serving" not in done.stdout


@pytest.mark.parametrize("count", ["0", "65"])
def test_a_worker_count_out_of_range_is_refused_in_one_line(tmp_path: Path, count: str) -> None:
    done = subprocess.run(
        [MEMSVC, "serve", "--port", str(free_port()), "--workers", count],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "invalid settings" in done.stderr and "workers" in done.stderr
    assert "Traceback" not in done.stderr


def _supervisor_of(code: str) -> Supervisor:
    """A supervisor whose workers run ``code`` instead of a server."""
    sock = listen("127.0.0.1", 0)
    supervisor = Supervisor(2, sock, [])
    supervisor.argv = [sys.executable, "-c", code]
    return supervisor


def test_a_worker_refusing_its_configuration_stops_the_supervisor_with_status_2() -> None:
    begin = time.monotonic()
    assert _supervisor_of("raise SystemExit(2)").run() == 2
    assert time.monotonic() - begin < 30  # at once, not after restarts


def test_workers_dying_at_start_again_and_again_stop_the_supervisor() -> None:
    supervisor = _supervisor_of("raise SystemExit(1)")
    assert supervisor.run() == 1
    assert max(w.fast_exits for w in supervisor.workers) == MAX_FAST_EXITS - 1
