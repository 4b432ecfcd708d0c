"""Project lifecycle (archive, delete for good) and memory lifecycle (restore, a chain
always keeps its head, supersede keeps what the caller did not change)."""

from __future__ import annotations

import pytest

from memsvc import Actor, Channel, MemoryDraft, MemoryService, ProjectCreate
from memsvc.domain import ContextRequest, Kind, SearchQuery, Status
from memsvc.errors import InvalidInput, InvalidTransition, MemoryNotFound, ProjectNotFound

ME = Actor.local(Channel.REST)


@pytest.fixture
def svc(service: MemoryService) -> MemoryService:
    service.create_project(ME, ProjectCreate(id="acme"))
    service.create_project(ME, ProjectCreate(id="other"))
    return service


def _ids(svc: MemoryService, text: str, project: str = "acme") -> list[str]:
    return [h.memory.id for h in svc.search_memories(ME, project, SearchQuery(query=text))]


def test_an_archived_project_is_read_only_and_skipped_by_open_last_project(
    svc: MemoryService,
) -> None:
    m = svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="deploys at nine")).memory
    svc.get_context(ME, "other", ContextRequest())
    svc.get_context(ME, "acme", ContextRequest())
    assert svc.archive_project(ME, "acme").archived_at is not None
    with pytest.raises(InvalidTransition, match="archived"):
        svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="more"))
    with pytest.raises(InvalidTransition):
        svc.delete_memory(ME, "acme", m.id)
    assert _ids(svc, "deploys") == [m.id]  # still readable
    assert svc.open_last_project(ME).project.id == "other"
    svc.archive_project(ME, "acme", archived=False)
    svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="more"))


def test_deleting_a_project_purges_its_memories_and_keeps_the_chain_verifiable(
    svc: MemoryService,
) -> None:
    svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.RULE, content="secret plans"))
    svc.add_memory(ME, "other", MemoryDraft(kind=Kind.FACT, content="unrelated"))
    with pytest.raises(InvalidInput, match="confirm"):
        svc.delete_project(ME, "acme", confirm="acm")
    svc.delete_project(ME, "acme", confirm="acme")
    with pytest.raises(ProjectNotFound):
        svc.search_memories(ME, "acme", SearchQuery(query="secret"))
    assert [p.id for p in svc.list_projects(ME)] == ["other"]
    assert svc.export_memories(ME, ["other"])  # the others are untouched
    exported = "".join(svc.export_memories(ME, ["other"]))
    assert "secret plans" not in exported
    events, broken = svc.verify_audit()
    assert broken is None and events > 0
    svc.create_project(ME, ProjectCreate(id="acme"))
    assert _ids(svc, "secret plans") == []


def test_a_deleted_memory_can_be_restored(svc: MemoryService) -> None:
    m = svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="queue is rabbitmq")).memory
    svc.delete_memory(ME, "acme", m.id)
    assert _ids(svc, "rabbitmq") == []
    with pytest.raises(MemoryNotFound):
        svc.get_memory(ME, "acme", m.id)
    back = svc.restore_memory(ME, "acme", m.id)
    assert back.status == Status.ACTIVE and _ids(svc, "rabbitmq") == [m.id]
    assert [v.change for v in svc.memory_history(ME, "acme", m.id)][-2:] == ["delete", "restore"]
    with pytest.raises(InvalidTransition):
        svc.restore_memory(ME, "acme", m.id)


def test_deleting_the_head_of_a_chain_reinstates_what_it_replaced(svc: MemoryService) -> None:
    old = svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.DECISION, content="we use MySQL")).memory
    new = svc.supersede_memory(
        ME, "acme", old.id, MemoryDraft(kind=Kind.DECISION, content="we use Postgres")
    )
    svc.delete_memory(ME, "acme", new.id)
    again = svc.get_memory(ME, "acme", old.id)
    assert again.status == Status.ACTIVE and again.superseded_by is None
    assert _ids(svc, "MySQL") == [old.id]


def test_supersede_keeps_title_tags_paths_and_pin_unless_changed(svc: MemoryService) -> None:
    old = svc.add_memory(
        ME,
        "acme",
        MemoryDraft(
            kind=Kind.RULE,
            content="amounts are floats",
            title="Money",
            tags=["money"],
            paths=["src/billing/**"],
            pinned=True,
        ),
    ).memory
    new = svc.supersede_memory(
        ME, "acme", old.id, MemoryDraft(kind=Kind.RULE, content="amounts are integer cents")
    )
    assert (new.title, new.tags, new.paths, new.pinned) == (
        "Money",
        ["money"],
        ["src/billing/**"],
        True,
    )
    changed = svc.supersede_memory(
        ME, "acme", new.id, MemoryDraft(kind=Kind.RULE, content="integer cents", tags=[])
    )
    assert changed.tags == [] and changed.title == "Money"


def test_an_empty_handoff_is_refused(svc: MemoryService) -> None:
    with pytest.raises(InvalidInput, match="summary"):
        svc.write_handoff(ME, "acme", "   ")


def test_deleting_a_project_also_removes_its_fleet_state(svc: MemoryService) -> None:
    from memsvc.domain import QuarantineCreate, ReviewPolicy

    agent = Actor.local(Channel.MCP, agent="claude")
    svc.add_memory(agent, "acme", MemoryDraft(kind=Kind.FACT, content="by an agent"))
    svc.set_review_policy(ME, "acme", ReviewPolicy())
    svc.quarantine_memories(ME, "acme", QuarantineCreate(agent="claude"))
    svc.delete_project(ME, "acme", confirm="acme")
    svc.create_project(ME, ProjectCreate(id="acme"))
    assert svc.list_quarantines(ME, "acme") == []
    assert (
        svc.open_last_project(agent).project.id != "acme"
        or not svc.list_memories(ME, "acme").memories
    )
