"""A read's audit event, written in a transaction of its own after the read: few
statements (no re-read of the project row the read already loaded, the chain's head and
the next number in one), and still everything it was — the project marked active, the
agent's place kept, the chain whole and verifiable, a project deleted meanwhile noted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import col, select

from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, SearchQuery
from memsvc.audit.verification import verify_store
from memsvc.bootstrap import Components, build_components
from memsvc.domain import ContextRequest, Kind
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store import fleet as fleet_store
from memsvc.store.models import AuditEventRow
from tests.conftest import make_settings

ME = Actor.local(Channel.REST)
AGENT = Actor.local(Channel.MCP, client="claude-code")
BROWSER = Actor.local(Channel.WEB)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Components]:
    settings = make_settings(tmp_path / "d", audit_checkpoint_every=7)
    with build_components(settings, embedder=HashEmbedder(64)) as built:
        for pid in ("alpha", "beta"):
            built.service.create_project(ME, ProjectCreate(id=pid))
            drafts = [
                MemoryDraft(kind=Kind.FACT, content=f"{pid} note {i}: deploys use host {i}")
                for i in range(12)
            ]
            built.service.add_memories(ME, pid, drafts)
        yield built


class Statements:
    """The statements run on any engine while active, grouped by transaction (a list per
    BEGIN; SQLite's writer says ``BEGIN IMMEDIATE`` itself, the reader ``BEGIN``)."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []

    def __call__(self, _conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split())
        if text.startswith("BEGIN"):
            self.transactions.append([])
        if self.transactions:
            self.transactions[-1].append(text)


@pytest.fixture
def statements() -> Iterator[Statements]:
    seen = Statements()
    event.listen(Engine, "after_cursor_execute", seen)
    try:
        yield seen
    finally:
        event.remove(Engine, "after_cursor_execute", seen)


def _search(parts: Components, actor: Actor, project: str, query: str = "deploys host") -> None:
    assert parts.service.search_memories(actor, project, SearchQuery(query=query))


def test_a_search_event_is_one_update_one_ledger_read_and_two_inserts(
    parts: Components, statements: Statements
) -> None:
    _search(parts, ME, "alpha")  # the first event this process records: a checkpoint
    statements.transactions.clear()
    _search(parts, ME, "alpha")
    audit = statements.transactions[-1]
    assert audit[0] == "BEGIN IMMEDIATE"
    assert [s.split(" ", 1)[0] for s in audit[1:]] == ["UPDATE", "SELECT", "INSERT", "INSERT"]
    assert audit[1].startswith("UPDATE project SET last_active_at")
    # the read already loaded the project row; its event does not load it again
    project_reads = [s for t in statements.transactions for s in t if "FROM project" in s]
    assert len(project_reads) == 1, project_reads
    assert audit[3].startswith("INSERT INTO audit_event")
    assert audit[4].startswith("INSERT INTO audit_ref")  # every returned id, one executemany


def test_searches_still_order_projects_by_activity_and_leave_agents_places(
    parts: Components,
) -> None:
    svc = parts.service
    _search(parts, ME, "beta")
    _search(parts, ME, "alpha")
    assert [p.id for p in svc.list_projects(ME)][:2] == ["alpha", "beta"]
    _search(parts, BROWSER, "beta")  # the inspector's browsing counts for the project too
    assert [p.id for p in svc.list_projects(ME)][:2] == ["beta", "alpha"]

    # an agent's place: moved by context loads (and writes), never by a search
    svc.get_context(AGENT, "alpha", ContextRequest(task="deploys"))
    with parts.db.read() as s:
        seen = fleet_store.last_agent_seen(s, "alpha", "local", "claude-code")
        loaded = fleet_store.context_loaded_at(s, "alpha", "local", "claude-code")
    assert seen is not None and loaded == seen
    _search(parts, AGENT, "beta")
    with parts.db.read() as s:
        assert fleet_store.last_agent_seen(s, "beta", "local", "claude-code") is None
        assert fleet_store.last_agent_seen(s, "alpha", "local", "claude-code") == seen
    assert svc.open_last_project(AGENT).project.id == "alpha"
    svc.get_context(AGENT, "beta", ContextRequest(task="deploys"))
    with parts.db.read() as s:
        later = fleet_store.last_agent_seen(s, "beta", "local", "claude-code")
    assert later is not None and later > seen
    assert svc.open_last_project(AGENT).project.id == "beta"


def test_read_events_keep_one_gap_free_chain_per_project_that_verifies(
    parts: Components,
) -> None:
    svc = parts.service
    with parts.db.read() as s:
        first = int(s.exec(select(AuditEventRow.seq).order_by(col(AuditEventRow.seq))).first() or 0)
    for i in range(30):
        project = ("alpha", "beta")[i % 2]
        _search(parts, AGENT if i % 3 else ME, project, f"deploys host {i % 12}")
        if i % 5 == 0:
            svc.add_memory(ME, project, MemoryDraft(kind=Kind.FACT, content=f"new note {i}"))
        if i % 7 == 0:
            svc.get_context(AGENT, project, ContextRequest(task="host"))
    report = verify_store(parts.service.settings)
    assert report.first is None, report.summary()
    assert report.checkpoints >= 4
    with parts.db.read() as s:
        rows = list(s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq))))
    assert [r.seq for r in rows] == list(range(first, first + len(rows)))
    heads: dict[str, str] = {}
    for r in rows:
        if r.chain in heads:
            assert r.prev_hash == heads[r.chain]
        heads[r.chain] = r.hash
    searches = [r for r in rows if r.action == "search_memories"]
    assert len(searches) == 30 and all(r.returned_ids for r in searches)


def test_a_search_whose_project_is_deleted_before_its_event_names_it_in_detail(
    parts: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = parts.service
    real = parts.source.candidates

    def then_deleted(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        svc.delete_project(ME, "beta", confirm="beta")  # by another caller, meanwhile
        return found

    monkeypatch.setattr(parts.source, "candidates", then_deleted)
    svc.search_memories(ME, "beta", SearchQuery(query="deploys host"))
    monkeypatch.undo()
    with parts.db.read() as s:
        last = s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq).desc())).first()
    assert last is not None and last.action == "search_memories"
    assert (last.project_id, last.chain, last.outcome) == (None, "", "ok")
    assert last.detail["project"] == "beta"
    assert "beta" not in [p.id for p in svc.list_projects(ME)]
    assert verify_store(parts.service.settings).first is None
