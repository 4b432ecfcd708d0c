"""The audited-call API: a change cannot commit without its event, a read cannot return
without one, and a write costs at most two SQL transactions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import select

from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, SearchQuery
from memsvc.bootstrap import Components, build_components
from memsvc.clock import utcnow
from memsvc.domain import Kind
from memsvc.errors import Unavailable
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.database import UnauditedWrite
from memsvc.store.models import ProjectRow
from tests.audit.helpers import event_count
from tests.conftest import make_settings

ME = Actor.local(Channel.REST)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Components]:
    with build_components(make_settings(tmp_path / "d"), embedder=HashEmbedder(64)) as built:
        built.service.create_project(ME, ProjectCreate(id="acme"))
        yield built


def test_a_write_path_that_forgets_its_audit_event_cannot_commit(parts: Components) -> None:
    # what a new service method written straight against the database would do
    with pytest.raises(UnauditedWrite), parts.db.write() as s:
        s.add(ProjectRow(id="sneaky", name="x", created_at=utcnow(), last_active_at=utcnow()))
    with parts.db.read() as s:
        assert s.exec(select(ProjectRow).where(ProjectRow.id == "sneaky")).first() is None


def test_a_read_whose_audit_event_cannot_be_written_is_refused(
    parts: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = parts.service
    svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="the queue is rabbitmq"))
    before = event_count(svc)

    def broken(*_: Any, **__: Any) -> None:
        raise OSError("audit store unavailable")

    monkeypatch.setattr(parts.audit, "record", broken)
    with pytest.raises(Unavailable):
        svc.search_memories(ME, "acme", SearchQuery(query="queue"))
    monkeypatch.undo()
    assert event_count(svc) == before
    assert svc.search_memories(ME, "acme", SearchQuery(query="queue"))


def test_a_write_whose_audit_event_fails_stores_nothing(
    parts: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = parts.service

    def broken(*_: Any, **__: Any) -> None:
        raise OSError("audit store unavailable")

    monkeypatch.setattr(parts.audit, "record", broken)
    with pytest.raises(OSError, match="audit store"):
        svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="never stored"))
    monkeypatch.undo()
    assert svc.list_memories(ME, "acme").memories == []


class TransactionCounter:
    """Counts SQL transactions begun on any engine while active."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _conn: Any) -> None:
        self.count += 1


@pytest.mark.parametrize("kind", [Kind.FACT, Kind.RULE])
def test_add_memory_takes_at_most_two_sql_transactions(parts: Components, kind: Kind) -> None:
    svc = parts.service
    svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="warm the caches"))
    counter = TransactionCounter()
    event.listen(Engine, "begin", counter)
    try:
        result = svc.add_memory(ME, "acme", MemoryDraft(kind=kind, content="deploys run at 9"))
    finally:
        event.remove(Engine, "begin", counter)
    assert result.created
    assert counter.count <= 2, counter.count
    # and the write is searchable at once (the index was applied from the written rows)
    hits = svc.search_memories(ME, "acme", SearchQuery(query="deploys run"))
    assert hits[0].memory.id == result.memory.id
