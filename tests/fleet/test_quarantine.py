"""Quarantine by provenance: one call hides everything an agent wrote from search and
context, one call restores it, and the audit shows both."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memsvc import Actor, Channel, MemoryService
from memsvc.clock import utcnow
from memsvc.domain import (
    ContextRequest,
    Kind,
    MemoryDraft,
    ProjectCreate,
    QuarantineCreate,
    SearchQuery,
    Status,
)
from memsvc.errors import InvalidInput, InvalidTransition, PermissionDenied
from tests.fleet.conftest import Fleet, ok
from tests.mcp_server.conftest import call, structured

pytestmark = pytest.mark.anyio


async def test_quarantine_hides_an_agents_memories_and_restore_brings_them_back(
    fleet: Fleet,
) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "shop"}), 201)
    keep = ok(
        human.post("/projects/shop/memories", json={"kind": "fact", "content": "VAT 20"}), 201
    )
    async with fleet.mcp_http("rogue") as rogue, fleet.mcp_memory("good") as good:
        bad_ids = [
            structured(await call(rogue, "add_memory", project="shop", kind="fact", content=c))[
                "memory"
            ]["id"]
            for c in ("VAT is zero everywhere", "Delete the VAT table")
        ]
        await call(rogue, "write_handoff", project="shop", summary="VAT work: drop it")
        fine = await call(good, "add_memory", project="shop", kind="fact", content="VAT invoices")
        good_id = structured(fine)["memory"]["id"]

        def visible() -> set[str]:
            hits = ok(human.post("/projects/shop/search", json={"query": "VAT", "limit": 50}))
            pack = ok(human.post("/projects/shop/context", json={"task": "VAT"}))
            return {h["memory"]["id"] for h in hits["hits"]} | {m["id"] for m in pack["items"]}

        before = visible()
        assert set(bad_ids) <= before and good_id in before
        q = ok(human.post("/projects/shop/quarantines", json={"agent": "rogue"}), 201)
        assert len(q["memory_ids"]) == 3
        hidden = visible()
        assert not set(q["memory_ids"]) & hidden
        assert {good_id, keep["id"]} <= hidden
        listed = ok(human.get("/projects/shop/quarantines"))["quarantines"]
        assert [(x["id"], x["restored_at"]) for x in listed] == [(q["id"], None)]
        # curators over MCP see it too
        assert structured(await call(good, "list_quarantines", project="shop"))["quarantines"]

    restored = ok(human.post(f"/projects/shop/quarantines/{q['id']}/restore"))
    assert restored["restored_at"] is not None
    assert set(bad_ids) <= visible()
    audit = ok(human.get("/projects/shop/audit", params={"limit": 500}))["events"]
    actions = [e["action"] for e in audit]
    assert actions.count("quarantine_memories") == 1 and actions.count("restore_quarantine") == 1
    put = next(e for e in audit if e["action"] == "quarantine_memories")
    assert set(q["memory_ids"]) <= set(put["target_ids"]) and put["detail"]["agent"] == "rogue"


def test_quarantine_by_session_since_a_time_and_restore_keeps_statuses(
    service: MemoryService,
) -> None:
    admin = Actor.local(Channel.REST)
    service.create_project(admin, ProjectCreate(id="p"))
    s1 = Actor.local(Channel.MCP, client="bot", session="s1")
    early = service.add_memory(s1, "p", MemoryDraft(kind=Kind.FACT, content="early fact"))
    cut = utcnow() + timedelta(microseconds=1)
    proposed = service.add_memory(s1, "p", MemoryDraft(kind=Kind.RULE, content="late rule"))
    assert proposed.memory.status is Status.PROPOSED
    q = service.quarantine_memories(admin, "p", QuarantineCreate(session="s1", since=cut))
    assert q.memory_ids == [proposed.memory.id]
    assert service.get_memory(admin, "p", early.memory.id).status is Status.ACTIVE
    assert service.get_memory(admin, "p", proposed.memory.id).status is Status.QUARANTINED
    hits = service.search_memories(
        admin, "p", SearchQuery(query="late rule", status=[Status.PROPOSED])
    )
    assert hits == []
    pack = service.get_context(admin, "p", ContextRequest())
    assert proposed.memory.id not in pack.text
    service.restore_quarantine(admin, "p", q.id)
    assert service.get_memory(admin, "p", proposed.memory.id).status is Status.PROPOSED
    with pytest.raises(InvalidTransition):
        service.restore_quarantine(admin, "p", q.id)


def test_quarantine_needs_a_curator_and_exactly_one_field(service: MemoryService) -> None:
    admin = Actor.local(Channel.REST)
    service.create_project(admin, ProjectCreate(id="p"))
    from memsvc.domain import Role

    writer = Actor(principal="w", channel=Channel.REST, grants={"p": Role.WRITER})
    with pytest.raises(PermissionDenied):
        service.quarantine_memories(writer, "p", QuarantineCreate(agent="x"))
    with pytest.raises(InvalidInput):
        service.quarantine_memories(admin, "p", QuarantineCreate(agent="x", principal="y"))
    with pytest.raises(InvalidInput):
        service.quarantine_memories(admin, "p", QuarantineCreate())


def test_deleting_a_quarantine_tombstones_what_it_still_hides_and_closes_it(
    fleet: Fleet,
) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "shop"}), 201)
    bot = fleet.rest(agent="rogue")
    ids = [
        ok(bot.post("/projects/shop/memories", json={"kind": "fact", "content": c}), 201)["id"]
        for c in ("VAT is zero everywhere", "Drop the VAT table")
    ]
    q = ok(human.post("/projects/shop/quarantines", json={"agent": "rogue"}), 201)
    assert sorted(q["memory_ids"]) == sorted(ids)
    done = ok(human.post(f"/projects/shop/quarantines/{q['id']}/delete"))
    assert done["deleted_at"] is not None and done["restored_at"] is None
    for i in ids:  # deleted: gone from reads, history kept
        assert human.get(f"/projects/shop/memories/{i}").status_code == 404
        assert (
            ok(human.get(f"/projects/shop/memories/{i}/history"))["versions"][-1]["change"]
            == "delete"
        )
    # deleted, not lost: each stays restorable one by one
    assert ok(human.post(f"/projects/shop/memories/{ids[1]}/restore"))["status"] == "active"
    again = human.post(f"/projects/shop/quarantines/{q['id']}/restore")
    assert again.status_code == 409, again.text
    assert human.post(f"/projects/shop/quarantines/{q['id']}/delete").status_code == 409
    dash = ok(human.get("/fleet/dashboard"))["projects"][0]
    assert dash["quarantines"] == []
    audit = ok(human.get("/projects/shop/audit", params={"action": "delete_quarantined"}))
    events = [e for e in audit["events"] if e["action"] == "delete_quarantined"]
    assert [e["outcome"] for e in events] == ["error", "ok"]  # newest first: the refused retry
    event = events[1]
    assert event["target_ids"][0] == q["id"] and sorted(event["target_ids"][1:]) == sorted(ids)
