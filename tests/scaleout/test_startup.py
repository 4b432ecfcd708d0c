"""Start-up reconciliation does not block the server: a real ``memsvc serve`` killed with
index work pending is restarted while that work cannot proceed (the test holds the
project's index lock, as a slow or stuck reconciliation would); the new process answers
health, readiness (not ready, saying why), SQL reads and other projects' searches, and the
held-back project answers 503 ``IndexRebuilding`` until its reconciliation is done."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.scaleout.conftest import ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ANSWER_BOUND_S = 90.0
"""The restarted server must answer /health within this (the start of a process on a
loaded box), whatever the reconciliation is doing."""
CATCH_UP_BOUND_S = 30.0
"""Once the reconciliation can run, the pending write must be searchable within this."""


def _pending(db: Path) -> int:
    with sqlite3.connect(db) as c:
        query = "SELECT count(*) FROM index_outbox WHERE applied_at IS NULL"
        return int(c.execute(query).fetchone()[0])


def _wait(what: str, bound: float, ok: Callable[[], bool]) -> None:
    deadline = time.monotonic() + bound
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_restart_with_pending_index_work_answers_at_once_and_holds_back_one_project(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "MEMSVC_EMBEDDER": "hash", "MEMSVC_LOG_LEVEL": "warning"}
    first = ServeProcess("first", env, tmp_path).start()
    second = ServeProcess("second", env, tmp_path)
    second.data_dir = first.data_dir
    second.env["MEMSVC_DATA_DIR"] = str(first.data_dir)
    try:
        first.wait_ready()
        with httpx.Client(base_url=first.base, timeout=60) as c:
            for project, word in (("acme", "zqoscar"), ("other", "zqpapa")):
                assert c.post("/projects", json={"id": project}).status_code == 201
                body = {"kind": "fact", "content": f"{project} keeps {word}"}
                assert c.post(f"/projects/{project}/memories", json=body).status_code == 201
            kept = c.get("/projects/acme/memories").json()["memories"][0]["id"]
        [lock_path] = (first.data_dir / "lance").glob(".acme__*.lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # acme's index work cannot proceed

            def write() -> None:  # committed to SQL, then stuck applying: never answered
                body = {"kind": "fact", "content": "acme also keeps zqquebec"}
                with contextlib.suppress(httpx.TransportError):
                    httpx.post(f"{first.base}/projects/acme/memories", json=body, timeout=60)

            writer = threading.Thread(target=write)
            writer.start()
            db = first.data_dir / "memsvc.db"
            _wait("the write to commit", 60, lambda: _pending(db) == 1)
            first.kill9()  # a crash with index work pending
            writer.join(timeout=60)

            second.start()
            second.wait_ready()  # /health answers although acme's reconciliation is stuck
            with httpx.Client(base_url=second.base, timeout=60) as c:
                ready = c.get("/ready")
                assert ready.status_code == 503, ready.text
                assert ready.json()["checks"]["startup"] == "reconciling the index"
                assert "acme" in ready.json()["checks"]["projects_unavailable"]
                held = c.post("/projects/acme/search", json={"query": "zqquebec"})
                assert held.status_code == 503, held.text
                assert held.json()["error"] == "IndexRebuilding"
                other = c.post("/projects/other/search", json={"query": "zqpapa"})
                assert other.status_code == 200 and len(other.json()["hits"]) == 1, other.text
                assert c.get(f"/projects/acme/memories/{kept}").status_code == 200
                fcntl.flock(lock, fcntl.LOCK_UN)  # the reconciliation may run now

                def found() -> bool:
                    r = c.post("/projects/acme/search", json={"query": "zqquebec"})
                    hits = r.json().get("hits", []) if r.status_code == 200 else []
                    return any("zqquebec" in h["memory"]["content"] for h in hits)

                _wait("the pending write to be searchable", CATCH_UP_BOUND_S, found)
                _wait("readiness", CATCH_UP_BOUND_S, lambda: c.get("/ready").status_code == 200)
                assert _pending(db) == 0
        assert second.stop() == 0, second.logtail()
    finally:
        for server in (first, second):
            if server.proc is not None and server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait(timeout=30)
