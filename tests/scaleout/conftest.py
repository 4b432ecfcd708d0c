"""Scale-out fixtures: an S3-compatible server (moto in server mode) on loopback and real
``memsvc serve`` processes sharing one PostgreSQL database, one bucket and one audit key."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, s3_server

MEMSVC = str(Path(sys.executable).with_name("memsvc"))
BUCKET = "memsvc-scaleout"
START_S = 90.0
"""Bound on one server's start (imports, migrations check, index load) on a loaded box."""


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """An S3 endpoint on loopback with one bucket, stopped at the end of the module."""
    with s3_server(BUCKET) as url:
        yield url


def shared_env(tmp_path: Path, database_url: str, s3_url: str) -> dict[str, str]:
    """The environment every server of one deployment shares: one database, one bucket
    prefix (fresh per test), one signing key; the fake embedder so no model loads."""
    options = {
        "endpoint": s3_url,
        "region": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "allow_http": "true",
    }
    return {
        **os.environ,
        "MEMSVC_DATABASE_URL": database_url,
        "MEMSVC_LANCE_URI": f"s3://{BUCKET}/{secrets.token_hex(4)}/lance",
        "MEMSVC_LANCE_STORAGE_OPTIONS": json.dumps(options),
        "MEMSVC_AUDIT_KEY_PATH": str(tmp_path / "keys" / "audit-signing.key"),
        "MEMSVC_EMBEDDER": "hash",
        # small, so both servers sign checkpoints of the same chains while under load
        "MEMSVC_AUDIT_CHECKPOINT_EVERY": "25",
        "MEMSVC_LOG_LEVEL": "warning",
    }


class ServeProcess:
    """One real ``memsvc serve`` process with a data dir of its own."""

    def __init__(self, name: str, env: dict[str, str], tmp_path: Path) -> None:
        self.name = name
        self.data_dir = tmp_path / f"data-{name}"
        self.env = {**env, "MEMSVC_DATA_DIR": str(self.data_dir)}
        self.log = tmp_path / f"serve-{name}.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        """The REST API's base URL."""
        return f"http://127.0.0.1:{self.port}/api/v1"

    def start(self) -> ServeProcess:
        """Spawn the process on a fresh free port (returns at once; see ``wait_ready``)."""
        self.port = free_port()
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [MEMSVC, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=sink,
                stderr=sink,
            )
        return self

    def wait_ready(self) -> None:
        """Wait until /health answers 200 (fails with the log if the process dies)."""
        assert self.proc is not None
        deadline = time.monotonic() + START_S
        while True:
            try:
                if httpx.get(self.base + "/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"{self.name} did not start:\n{self.logtail()}"
            time.sleep(0.2)

    def wait_serving(self) -> None:
        """Wait until /ready answers 200, as a load balancer does before routing to it:
        a restarted server answers /health at once but is not ready while its start-up
        index reconciliation runs (projects with work left pending answer 503 till then)."""
        self.wait_ready()
        deadline = time.monotonic() + START_S
        while httpx.get(self.base + "/ready", timeout=5).status_code != 200:
            assert self.proc is not None and self.proc.poll() is None, self.logtail()
            assert time.monotonic() < deadline, f"{self.name} never got ready:\n{self.logtail()}"
            time.sleep(0.2)

    def kill9(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM and wait (a clean shutdown signs pending audit events); the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return int(self.proc.returncode)

    def logtail(self, chars: int = 4000) -> str:
        """The end of the process's log (for failure messages)."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@pytest.fixture
def servers(tmp_path: Path, postgres_url: str, s3: str) -> Iterator[list[ServeProcess]]:
    """Two servers on one deployment, started together; killed at the end whatever happens."""
    env = shared_env(tmp_path, postgres_url, s3)
    pair = [ServeProcess(name, env, tmp_path) for name in ("a", "b")]
    try:
        for server in pair:
            server.start()
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait(timeout=30)
