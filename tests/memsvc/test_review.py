"""The review queue: write-time flags (near-duplicate, possible conflict) and resolutions."""

from __future__ import annotations

import pytest

from memsvc import (
    Actor,
    Channel,
    Kind,
    MemoryDraft,
    MemoryService,
    ProjectCreate,
    Role,
    SearchQuery,
    Status,
)
from memsvc.domain import AuditQuery, ReviewAction
from memsvc.errors import InvalidTransition, PermissionDenied

RULE = "Never commit directly to main; every change goes through a pull request with one review."
RULE_2 = "Never commit directly to main; every change goes through a pull request with two reviews."


@pytest.fixture
def project(service: MemoryService, actor: Actor) -> str:
    service.create_project(actor, ProjectCreate(id="acme"))
    return "acme"


def add(service: MemoryService, actor: Actor, kind: Kind, content: str, **kw: object) -> str:
    draft = MemoryDraft(kind=kind, content=content, **kw)  # type: ignore[arg-type]
    return service.add_memory(actor, "acme", draft).memory.id


def test_near_duplicate_and_conflict_are_flagged_at_write_time(
    service: MemoryService, actor: Actor, project: str
) -> None:
    fact = add(service, actor, Kind.FACT, "Tests run with pytest -x before pushing.")
    dup = add(service, actor, Kind.FACT, "Tests run with pytest -x before pushing!")
    rule = add(service, actor, Kind.RULE, RULE)
    conflict = add(service, actor, Kind.RULE, RULE_2)
    unrelated = add(service, actor, Kind.RULE, "Deploys happen on Tuesdays only.")

    items = service.list_review_queue(actor, project).items
    by_id = {i.memory.id: i for i in items}
    assert set(by_id) == {dup, conflict}
    assert by_id[dup].reason == "duplicate" and by_id[dup].other is not None
    assert by_id[dup].other.id == fact
    assert by_id[conflict].reason == "conflict"
    assert by_id[conflict].memory.conflicts_with == rule
    assert by_id[conflict].similarity is not None and 0.8 <= by_id[conflict].similarity < 0.95
    assert service.get_memory(actor, project, unrelated).conflicts_with is None
    assert service.project_stats(actor, project).review == 2


def test_facts_are_never_flagged_as_conflicts(
    service: MemoryService, actor: Actor, project: str
) -> None:
    add(service, actor, Kind.FACT, RULE)
    flagged = add(service, actor, Kind.FACT, RULE_2)
    assert service.get_memory(actor, project, flagged).conflicts_with is None


def test_keep_clears_the_flag_and_both_stay(
    service: MemoryService, actor: Actor, project: str
) -> None:
    rule = add(service, actor, Kind.RULE, RULE)
    new = add(service, actor, Kind.RULE, RULE_2)
    kept = service.resolve_review(actor, project, new, ReviewAction.KEEP)
    assert kept.id == new and kept.conflicts_with is None and kept.status == Status.ACTIVE
    assert service.get_memory(actor, project, rule).status == Status.ACTIVE
    assert service.list_review_queue(actor, project).items == []
    with pytest.raises(InvalidTransition):
        service.resolve_review(actor, project, new, ReviewAction.KEEP)


def test_merge_folds_metadata_into_the_existing_memory_and_deletes_the_flagged_one(
    service: MemoryService, actor: Actor, project: str
) -> None:
    fact = add(service, actor, Kind.FACT, "Uses pytest -x.", paths=["src/**"])
    dup = add(service, actor, Kind.FACT, "Uses pytest -x!", paths=["tests/**"], pinned=True)
    kept = service.resolve_review(actor, project, dup, ReviewAction.MERGE)
    assert kept.id == fact and kept.paths == ["src/**", "tests/**"] and kept.pinned
    assert kept.version == 2
    assert [v.change for v in service.memory_history(actor, project, fact)] == ["create", "merge"]
    assert [v.change for v in service.memory_history(actor, project, dup)][-1] == "delete"
    hits = service.search_memories(actor, project, SearchQuery(query="pytest"))
    assert [h.memory.id for h in hits] == [fact]


def test_supersede_makes_the_flagged_memory_replace_the_existing_one(
    service: MemoryService, actor: Actor, project: str
) -> None:
    rule = add(service, actor, Kind.RULE, RULE)
    new = add(service, actor, Kind.RULE, RULE_2)
    kept = service.resolve_review(actor, project, new, ReviewAction.SUPERSEDE)
    assert kept.id == new and kept.supersedes == rule
    old = service.get_memory(actor, project, rule)
    assert old.status == Status.SUPERSEDED and old.superseded_by == new


def test_delete_removes_only_the_flagged_memory_and_is_audited_with_both_ids(
    service: MemoryService, project: str
) -> None:
    web = Actor.local(Channel.WEB)
    rule = add(service, web, Kind.RULE, RULE)
    new = add(service, web, Kind.RULE, RULE_2)
    service.resolve_review(web, project, new, ReviewAction.DELETE)
    assert service.get_memory(web, project, rule).status == Status.ACTIVE
    event = service.list_audit_events(web, project, AuditQuery(action="resolve_review")).events[0]
    assert event.channel == Channel.WEB and event.target_ids == [new, rule]
    assert event.detail["resolution"] == "delete"


def test_a_writer_cannot_resolve_the_queue(service: MemoryService, project: str) -> None:
    admin = Actor.local(Channel.REST)
    add(service, admin, Kind.RULE, RULE)
    new = add(service, admin, Kind.RULE, RULE_2)
    writer = Actor(principal="bob", channel=Channel.WEB, grants={"acme": Role.WRITER})
    with pytest.raises(PermissionDenied):
        service.resolve_review(writer, project, new, ReviewAction.DELETE)
    assert len(service.list_review_queue(writer, project).items) == 1


def test_export_holds_live_memories_and_the_whole_audit_chain(
    service: MemoryService, actor: Actor, project: str
) -> None:
    keep = add(service, actor, Kind.FACT, "kept")
    gone = add(service, actor, Kind.FACT, "deleted later")
    service.delete_memory(actor, project, gone)
    export = service.export_project(actor, project)
    assert [m.id for m in export.memories] == [keep]
    assert [e.seq for e in export.audit] == sorted(e.seq for e in export.audit)
    assert {"create_project", "add_memory", "delete_memory"} <= {e.action for e in export.audit}


def test_whoami_reports_principal_and_grants(service: MemoryService) -> None:
    me = service.whoami(Actor.local(Channel.WEB))
    assert me.principal == "local" and me.grants == {"*": Role.ADMIN}


def test_stats_count_by_status_and_kind_and_list_tags(
    service: MemoryService, actor: Actor, project: str
) -> None:
    a = add(service, actor, Kind.FACT, "alpha fact", tags=["x", "y"])
    add(service, actor, Kind.RULE, "beta rule", tags=["x"])
    service.delete_memory(actor, project, a)
    stats = service.project_stats(actor, project)
    assert stats.counts == {"active": {"rule": 1}, "deleted": {"fact": 1}}
    assert [(t.tag, t.count) for t in stats.tags] == [("x", 1)]


def test_list_memories_filters_pinned(service: MemoryService, actor: Actor, project: str) -> None:
    pinned = add(service, actor, Kind.FACT, "pinned one", pinned=True)
    plain = add(service, actor, Kind.FACT, "plain one")
    assert [m.id for m in service.list_memories(actor, project, pinned=True).memories] == [pinned]
    assert [m.id for m in service.list_memories(actor, project, pinned=False).memories] == [plain]
