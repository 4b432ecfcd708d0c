"""A served process ends cleanly on SIGTERM (systemd, docker stop, kill): exit 0, and its
shutdown signs every pending audit event."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

MEMSVC = str(Path(sys.executable).with_name("memsvc"))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_shuts_down_cleanly_and_signs_pending_events(
    tmp_path: Path, sig: signal.Signals
) -> None:
    env = {**os.environ, "MEMSVC_DATA_DIR": str(tmp_path / "d"), "MEMSVC_EMBEDDER": "hash"}
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [MEMSVC, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        assert httpx.post(base + "/projects", json={"id": "acme"}, timeout=60).status_code == 201
        r = httpx.post(
            base + "/projects/acme/memories", json={"kind": "fact", "content": "x"}, timeout=60
        )
        assert r.status_code == 201
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    verify = subprocess.run([MEMSVC, "audit", "verify"], env=env, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    unsigned = re.search(r"(\d+) events not yet signed", verify.stdout)
    assert unsigned is not None and unsigned.group(1) == "0", verify.stdout
