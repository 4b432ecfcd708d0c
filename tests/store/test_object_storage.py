"""LanceDB on object storage: a real S3-compatible server (moto in server mode, on
loopback, started by the test) configured through ``lance_uri`` + ``lance_storage_options``."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, SearchQuery, build_service
from memsvc.domain import Kind
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import free_port, make_settings

ME = Actor.local(Channel.REST)
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """An S3 endpoint on loopback, stopped at the end of the module."""
    pytest.importorskip("moto", reason="the S3 tests need moto[server] (a dev dependency)")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        assert httpx.put(f"{url}/memsvc-test").status_code == 200  # create the bucket
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_the_index_lives_in_a_bucket_and_survives_a_restart(tmp_path: Path, s3: str) -> None:
    options = {**KEYS, "endpoint": s3, "region": "us-east-1", "allow_http": "true"}
    settings = make_settings(
        tmp_path / "d", lance_uri="s3://memsvc-test/lance", lance_storage_options=options
    )
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        svc.create_project(ME, ProjectCreate(id="acme"))
        m = svc.add_memory(
            ME, "acme", MemoryDraft(kind=Kind.FACT, content="the queue is rabbitmq")
        ).memory
    listing = httpx.get(f"{s3}/memsvc-test?list-type=2&prefix=lance/").text
    assert "acme__" in listing  # the table's files are in the bucket
    # a fresh process state: the in-memory index is loaded back from the bucket
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        hits = svc.search_memories(ME, "acme", SearchQuery(query="rabbitmq queue"))
        assert [h.memory.id for h in hits] == [m.id]
