"""Writing memories: kinds, duplicates, supersession, history, provenance, bad input."""

from __future__ import annotations

import pytest

from memsvc import Actor, Channel, MemoryDraft, MemoryPatch, MemoryService, ProjectCreate
from memsvc.domain import Kind, ProvenanceIn, Status
from memsvc.errors import (
    InvalidInput,
    InvalidTransition,
    MemoryNotFound,
    PayloadTooLarge,
    ProjectExists,
    ProjectNotFound,
    VersionConflict,
)
from memsvc.retrieval.embedder import Embedder


@pytest.fixture
def acme(service: MemoryService, actor: Actor) -> str:
    service.create_project(actor, ProjectCreate(id="acme", root_paths=["/src/acme"]))
    return "acme"


def draft(content: str, kind: str = "fact", **kw: object) -> MemoryDraft:
    return MemoryDraft(kind=Kind(kind), content=content, **kw)  # type: ignore[arg-type]


def test_project_ids_are_validated_and_unique(service: MemoryService, actor: Actor) -> None:
    with pytest.raises(InvalidInput):
        service.create_project(actor, ProjectCreate(id="Not Valid!"))
    service.create_project(actor, ProjectCreate(id="acme"))
    with pytest.raises(ProjectExists):
        service.create_project(actor, ProjectCreate(id="acme"))


def test_add_records_server_provenance_and_keeps_caller_claims(
    service: MemoryService, acme: str
) -> None:
    writer = Actor.local(Channel.MCP, client="claude-code", client_version="2.1")
    claims = ProvenanceIn(agent="planner", session="s1", origin="src/app.py", origin_type="file")
    memory = service.add_memory(writer, acme, draft("uses postgres", provenance=claims)).memory
    p = memory.provenance
    assert (p.principal, p.channel, p.client, p.client_version) == (
        "local",
        Channel.MCP,
        "claude-code",
        "2.1",
    )
    assert (p.agent, p.session, p.origin, p.origin_type) == ("planner", "s1", "src/app.py", "file")


def test_caller_cannot_forge_the_server_known_client(service: MemoryService, acme: str) -> None:
    writer = Actor.local(Channel.MCP, client="real-client", client_version="1")
    forged = ProvenanceIn(client="someone-else", client_version="9")
    memory = service.add_memory(writer, acme, draft("x y z", provenance=forged)).memory
    assert memory.provenance.client == "real-client"
    assert memory.provenance.principal == "local"


def test_exact_duplicate_returns_existing_memory(
    service: MemoryService, actor: Actor, acme: str
) -> None:
    first = service.add_memory(actor, acme, draft("never push on friday", "rule"))
    again = service.add_memory(actor, acme, draft("  never push on friday\u200b ", "rule"))
    assert first.created and not again.created
    assert again.memory.id == first.memory.id
    other_kind = service.add_memory(actor, acme, draft("never push on friday", "preference"))
    assert other_kind.created


def test_near_duplicate_is_stored_and_flagged(
    service: MemoryService, actor: Actor, acme: str
) -> None:
    first = service.add_memory(actor, acme, draft("the api uses postgres fifteen with jsonb"))
    near = service.add_memory(actor, acme, draft("The API uses Postgres fifteen with JSONB!"))
    assert near.created
    assert near.memory.duplicate_of == first.memory.id


def test_batch_is_all_or_nothing(service: MemoryService, actor: Actor, acme: str) -> None:
    drafts = [draft(f"fact number {i}") for i in range(5)] + [draft("   ")]
    with pytest.raises(InvalidInput, match="memory 5"):
        service.add_memories(actor, acme, drafts)
    assert service.list_memories(actor, acme).memories == []
    results = service.add_memories(actor, acme, drafts[:5])
    assert len(results) == 5 and all(r.created for r in results)


def test_oversized_content_is_refused(service: MemoryService, actor: Actor, acme: str) -> None:
    with pytest.raises(PayloadTooLarge):
        service.add_memory(actor, acme, draft("x" * (32 * 1024 + 1)))


def test_secrets_are_redacted_before_storage(
    service: MemoryService, actor: Actor, acme: str
) -> None:
    memory = service.add_memory(
        actor, acme, draft("deploy key is AKIAABCDEFGHIJKLMNOP and password=hunter2hunter2")
    ).memory
    assert "AKIA" not in memory.content and "hunter2" not in memory.content
    assert memory.redactions == 2


def test_decisions_change_by_supersession_with_history(
    service: MemoryService, actor: Actor, acme: str
) -> None:
    old = service.add_memory(actor, acme, draft("chose postgres for jsonb", "decision")).memory
    with pytest.raises(InvalidTransition, match="supersede"):
        service.update_memory(actor, acme, old.id, MemoryPatch(content="chose mysql"))
    new = service.supersede_memory(actor, acme, old.id, draft("chose sqlite", "decision"))
    assert new.supersedes == old.id
    reread = service.get_memory(actor, acme, old.id)
    assert reread.status == Status.SUPERSEDED and reread.superseded_by == new.id
    assert [v.change for v in service.memory_history(actor, acme, old.id)] == [
        "create",
        "superseded",
    ]
    with pytest.raises(InvalidTransition):
        service.supersede_memory(actor, acme, old.id, draft("again", "decision"))


def test_supersede_refuses_a_carry_over_made_stale_while_embedding(
    service: MemoryService,
    actor: Actor,
    acme: str,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = service.add_memory(actor, acme, draft("ship on fridays", "fact", tags=["a"])).memory
    embed = embedder.embed

    def edit_then_embed(texts: list[str]) -> object:
        monkeypatch.setattr(embedder, "embed", embed)
        service.update_memory(actor, acme, old.id, MemoryPatch(tags=["b"]))
        return embed(texts)

    monkeypatch.setattr(embedder, "embed", edit_then_embed)
    with pytest.raises(VersionConflict, match="changed while it was being superseded"):
        service.supersede_memory(actor, acme, old.id, draft("ship on thursdays"))
    assert service.get_memory(actor, acme, old.id).status == Status.ACTIVE
    new = service.supersede_memory(actor, acme, old.id, draft("ship on thursdays"))
    assert new.tags == ["b"]


def test_updates_make_versions_and_check_expected_version(
    service: MemoryService, actor: Actor, acme: str
) -> None:
    m = service.add_memory(actor, acme, draft("prefers pytest", "preference")).memory
    m2 = service.update_memory(actor, acme, m.id, MemoryPatch(content="prefers pytest -x"))
    assert m2.version == 2
    with pytest.raises(VersionConflict):
        service.update_memory(
            acme and actor, acme, m.id, MemoryPatch(pinned=True, expected_version=1)
        )
    m3 = service.update_memory(actor, acme, m.id, MemoryPatch(pinned=True, expected_version=2))
    assert m3.pinned and m3.version == 3
    unchanged = service.update_memory(actor, acme, m.id, MemoryPatch(pinned=True))
    assert unchanged.version == 3
    history = service.memory_history(actor, acme, m.id)
    assert [v.version for v in history] == [1, 2, 3]
    assert history[0].memory.content == "prefers pytest"


def test_kind_is_immutable_by_patch(service: MemoryService, actor: Actor, acme: str) -> None:
    m = service.add_memory(actor, acme, draft("x is y")).memory
    with pytest.raises(InvalidInput, match="supersede"):
        service.update_memory(actor, acme, m.id, MemoryPatch(kind=Kind.RULE))


def test_archive_and_restore(service: MemoryService, actor: Actor, acme: str) -> None:
    m = service.add_memory(actor, acme, draft("old fact")).memory
    archived = service.update_memory(actor, acme, m.id, MemoryPatch(status="archived"))
    assert archived.status == Status.ARCHIVED
    assert service.list_memories(actor, acme).memories == []
    listed = service.list_memories(actor, acme, statuses=[Status.ARCHIVED]).memories
    assert [x.id for x in listed] == [m.id]
    restored = service.update_memory(actor, acme, m.id, MemoryPatch(status="active"))
    assert restored.status == Status.ACTIVE


def test_delete_is_a_tombstone(service: MemoryService, actor: Actor, acme: str) -> None:
    m = service.add_memory(actor, acme, draft("temporary note")).memory
    service.delete_memory(actor, acme, m.id)
    with pytest.raises(MemoryNotFound, match="deleted"):
        service.get_memory(actor, acme, m.id)
    with pytest.raises(MemoryNotFound):
        service.delete_memory(actor, acme, m.id)
    assert [v.change for v in service.memory_history(actor, acme, m.id)] == ["create", "delete"]
    tombstones = service.list_memories(actor, acme, statuses=[Status.DELETED]).memories
    assert [x.id for x in tombstones] == [m.id]


def test_list_pages_with_cursor(service: MemoryService, actor: Actor, acme: str) -> None:
    ids = [
        r.memory.id for r in service.add_memories(actor, acme, [draft(f"n {i}") for i in range(7)])
    ]
    seen: list[str] = []
    cursor = None
    while True:
        page = service.list_memories(actor, acme, limit=3, cursor=cursor)
        seen += [m.id for m in page.memories]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    with pytest.raises(InvalidInput, match="cursor"):
        service.list_memories(actor, acme, cursor="garbage!")


def test_tag_and_kind_filters(service: MemoryService, actor: Actor, acme: str) -> None:
    a = service.add_memory(actor, acme, draft("a", tags=["db", "infra"])).memory
    service.add_memory(actor, acme, draft("b", tags=["ui"]))
    r = service.add_memory(actor, acme, draft("c rule", "rule", tags=["db"])).memory
    assert {m.id for m in service.list_memories(actor, acme, tag="db").memories} == {a.id, r.id}
    only_rules = service.list_memories(actor, acme, kinds=[Kind.RULE]).memories
    assert [m.id for m in only_rules] == [r.id]


def test_isolation_memory_of_another_project_is_not_found(
    service: MemoryService, actor: Actor, acme: str
) -> None:
    service.create_project(actor, ProjectCreate(id="other"))
    m = service.add_memory(actor, acme, draft("acme secret plan")).memory
    for call in (
        lambda: service.get_memory(actor, "other", m.id),
        lambda: service.update_memory(actor, "other", m.id, MemoryPatch(pinned=True)),
        lambda: service.delete_memory(actor, "other", m.id),
        lambda: service.memory_history(actor, "other", m.id),
        lambda: service.supersede_memory(actor, "other", m.id, draft("x")),
    ):
        with pytest.raises(MemoryNotFound):
            call()
    assert service.get_memory(actor, acme, m.id).version == 1


def test_unknown_project_is_an_error_everywhere(service: MemoryService, actor: Actor) -> None:
    for call in (
        lambda: service.add_memory(actor, "nope", draft("x")),
        lambda: service.list_memories(actor, "nope"),
        lambda: service.get_project(actor, "nope"),
    ):
        with pytest.raises(ProjectNotFound):
            call()


def test_write_handoff_is_a_structured_handoff_memory(
    service: MemoryService, actor: Actor, acme: str
) -> None:
    result = service.write_handoff(
        actor, acme, "Refactored auth", done=["moved tokens"], next_steps=["add tests"]
    )
    assert result.memory.kind == Kind.HANDOFF
    assert "Next:\n- add tests" in result.memory.content
