"""LanceDB on object storage: a real S3-compatible server (moto in server mode, on
loopback, started by the test) configured through ``lance_uri`` + ``lance_storage_options``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, SearchQuery, build_service
from memsvc.domain import Kind
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import make_settings, s3_server

ME = Actor.local(Channel.REST)
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """An S3 endpoint on loopback, stopped at the end of the module."""
    with s3_server("memsvc-test") as url:
        yield url


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
