"""The `memsvc` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

MEMSVC = str(Path(sys.executable).with_name("memsvc"))


def _env(data: Path) -> dict[str, str]:
    return {**os.environ, "MEMSVC_DATA_DIR": str(data), "MEMSVC_EMBEDDER": "hash"}


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"memsvc exited early: {log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("memsvc serve did not come up")


@pytest.mark.slow
def test_serve_persists_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    memory_id = ""
    for round_ in range(2):
        log = tmp_path / f"serve{round_}.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [MEMSVC, "serve", "--port", str(port)], env=_env(data), stdout=sink, stderr=sink
            )
        try:
            _wait(base + "/health", proc, log)
            if round_ == 0:
                # generous timeouts: the first write imports LanceDB and makes its table,
                # which takes seconds on a loaded 2-core machine
                assert (
                    httpx.post(base + "/projects", json={"id": "acme"}, timeout=60).status_code
                    == 201
                )
                r = httpx.post(
                    base + "/projects/acme/memories",
                    json={"kind": "rule", "content": "tabs not spaces"},
                    timeout=60,
                )
                memory_id = r.json()["id"]
            else:
                got = httpx.get(f"{base}/projects/acme/memories/{memory_id}", timeout=60)
                assert got.status_code == 200
                hits = httpx.post(
                    base + "/projects/acme/search", json={"query": "tabs"}, timeout=60
                ).json()["hits"]
                assert [h["memory"]["id"] for h in hits] == [memory_id]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    verify = subprocess.run(
        [MEMSVC, "audit", "verify"], env=_env(data), capture_output=True, text=True
    )
    assert verify.returncode == 0 and verify.stdout.startswith("ok:")
    reindex = subprocess.run(
        [MEMSVC, "reindex", "--project", "acme"], env=_env(data), capture_output=True, text=True
    )
    assert reindex.returncode == 0 and "acme: 1 memories indexed" in reindex.stdout


def test_non_loopback_bind_is_refused_without_tokens(tmp_path: Path) -> None:
    r = subprocess.run(
        [MEMSVC, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=_env(tmp_path / "d"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "refusing to bind 0.0.0.0" in r.stderr
