"""Several servers on one database must sign with one key: with ``audit_key_path`` shared
the ledger verifies from every server; with a key per data dir it does not (the reason the
scale-out layout names one ``MEMSVC_AUDIT_KEY_PATH``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, build_service
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres

CLI = Actor.local(Channel.CLI)


def _two_servers_write(tmp_path: Path, url: str, key_a: Path | None, key_b: Path | None) -> list:
    a = make_settings(
        tmp_path / "a", database_url=url, audit_key_path=key_a, audit_checkpoint_every=3
    )
    b = make_settings(
        tmp_path / "b", database_url=url, audit_key_path=key_b, audit_checkpoint_every=3
    )
    with (
        build_service(a, embedder=HashEmbedder(64)) as sa,
        build_service(b, embedder=HashEmbedder(64)) as sb,
    ):
        sa.create_project(CLI, ProjectCreate(id="acme"))
        for i in range(6):
            svc = sa if i % 2 else sb
            svc.add_memory(CLI, "acme", MemoryDraft(kind="fact", content=f"fact {i} from both"))
        return [sa.verify_audit(), sb.verify_audit()]


def test_servers_sharing_one_key_path_keep_a_ledger_both_verify(
    tmp_path: Path, postgres_url: str
) -> None:
    key = tmp_path / "keys" / "audit-signing.key"
    results = _two_servers_write(tmp_path, postgres_url, key, key)
    assert [found for _, found in results] == [None, None]


def test_servers_with_a_key_each_fail_verification(tmp_path: Path, postgres_url: str) -> None:
    results = _two_servers_write(tmp_path, postgres_url, None, None)
    found = [f for _, f in results]
    assert all(f is not None for f in found), found
