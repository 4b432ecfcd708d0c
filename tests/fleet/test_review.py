"""Review before trust: agent-written rules land proposed, are never served as rules, and
become rules when a curator approves them; possible conflicts are labelled in the pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsvc import Actor, Channel, MemoryService, build_service
from memsvc.domain import (
    ContextRequest,
    Kind,
    MemoryDraft,
    MemoryPatch,
    ProjectCreate,
    ReviewPolicy,
    Status,
)
from memsvc.errors import InvalidTransition, PermissionDenied
from memsvc.retrieval.context import PROPOSED_HEADER
from memsvc.retrieval.embedder import Embedder
from tests.conftest import make_settings
from tests.fleet.conftest import Fleet, ok
from tests.mcp_server.conftest import call, fail, structured

pytestmark = pytest.mark.anyio

FLOATS = "Amounts are stored as floats in dollars."


async def test_agent_rule_is_proposed_labelled_in_the_pack_and_a_rule_after_approval(
    fleet: Fleet,
) -> None:
    human = fleet.human()
    ok(human.post("/projects", json={"id": "shop"}), 201)
    async with fleet.mcp_http("claude-code") as agent:
        added = await call(agent, "add_memory", project="shop", kind="rule", content=FLOATS)
        memory = structured(added)["memory"]
        assert memory["status"] == "proposed"
        pack = structured(await call(agent, "get_context", project="shop"))["context"]
        rules = [m for m in pack["items"] if m["status"] == "active" and m["kind"] == "rule"]
        assert rules == []
        assert PROPOSED_HEADER in pack["text"]
        assert f'id="{memory["id"]}"' in pack["text"].split(PROPOSED_HEADER, 1)[1]
        assert 'status="proposed, not reviewed"' in pack["text"]
        # an agent cannot promote its own proposal
        problem = await fail(
            agent, "update_memory", project="shop", memory_id=memory["id"], status="active"
        )
        assert "InvalidTransition" in problem

    queue = ok(human.get("/projects/shop/review"))["items"]
    assert [(i["memory"]["id"], i["reason"]) for i in queue] == [(memory["id"], "proposed")]
    # searchable on request only
    plain = ok(human.post("/projects/shop/search", json={"query": "floats dollars"}))["hits"]
    assert plain == []
    asked = ok(
        human.post(
            "/projects/shop/search", json={"query": "floats dollars", "status": ["proposed"]}
        )
    )["hits"]
    assert [h["memory"]["id"] for h in asked] == [memory["id"]]

    approved = ok(human.post(f"/projects/shop/memories/{memory['id']}/approve", json={}))
    assert approved["status"] == "active"
    pack = ok(human.post("/projects/shop/context", json={}))
    assert PROPOSED_HEADER not in pack["text"]
    assert [m["id"] for m in pack["items"] if m["kind"] == "rule"] == [memory["id"]]
    events = ok(human.get("/projects/shop/audit", params={"action": "approve_memory"}))["events"]
    assert len(events) == 1
    assert events[0]["channel"] == "web" and events[0]["detail"]["decision"] == "approve"
    assert events[0]["target_ids"] == [memory["id"]]


def test_humans_and_rest_write_rules_active_and_policy_can_hide_proposals(fleet: Fleet) -> None:
    human, script = fleet.human(), fleet.rest("ci-bot")
    ok(human.post("/projects", json={"id": "shop"}), 201)
    made = ok(human.post("/projects/shop/memories", json={"kind": "rule", "content": "cents"}), 201)
    assert made["status"] == "active"
    ok(script.post("/projects/shop/memories", json={"kind": "decision", "content": "uv"}), 201)
    assert ok(script.get("/projects/shop/review-policy"))["show_proposed"] is True
    policy = {
        "propose": [{"kinds": ["rule", "decision", "fact"], "channels": ["rest"]}],
        "show_proposed": False,
    }
    assert ok(human.put("/projects/shop/review-policy", json=policy))["propose"][0]["kinds"] == [
        "rule",
        "decision",
        "fact",
    ]
    held = ok(script.post("/projects/shop/memories", json={"kind": "fact", "content": "eu"}), 201)
    assert held["status"] == "proposed"
    pack = ok(script.post("/projects/shop/context", json={}))
    assert held["id"] not in pack["text"] and PROPOSED_HEADER not in pack["text"]
    rejected = ok(
        human.post(f"/projects/shop/memories/{held['id']}/reject", json={"reason": "wrong"})
    )
    assert rejected["status"] == "deleted"
    assert ok(human.get("/projects/shop/review"))["items"] == []


def test_edit_then_approve_changes_the_text_and_is_audited(service: MemoryService) -> None:
    admin = Actor.local(Channel.REST)
    service.create_project(admin, ProjectCreate(id="p"))
    agent = Actor.local(Channel.MCP, client="cursor")
    proposed = service.add_memory(agent, "p", MemoryDraft(kind=Kind.DECISION, content="use mysql"))
    assert proposed.memory.status is Status.PROPOSED
    from memsvc.domain import ProposalEdit, SearchQuery

    done = service.approve_memory(admin, "p", proposed.memory.id, ProposalEdit(content="use pg"))
    assert (done.status, done.content) == (Status.ACTIVE, "use pg")
    hits = service.search_memories(admin, "p", SearchQuery(query="use pg"))
    assert [h.memory.id for h in hits] == [done.id]
    history = service.memory_history(admin, "p", done.id)
    assert [v.change for v in history][-1] == "approve"
    assert history[-1].changed_by.channel is Channel.REST
    with pytest.raises(InvalidTransition):
        service.approve_memory(admin, "p", done.id)


def test_a_proposed_replacement_leaves_the_rule_in_force_until_approved(
    service: MemoryService,
) -> None:
    admin = Actor.local(Channel.REST)
    service.create_project(admin, ProjectCreate(id="p"))
    rule = service.add_memory(admin, "p", MemoryDraft(kind=Kind.RULE, content="integer cents"))
    agent = Actor.local(Channel.MCP, client="cursor")
    draft = MemoryDraft(kind=Kind.RULE, content="floats in dollars")
    new = service.supersede_memory(agent, "p", rule.memory.id, draft)
    assert new.status is Status.PROPOSED
    assert service.get_memory(admin, "p", rule.memory.id).status is Status.ACTIVE
    service.approve_memory(admin, "p", new.id)
    old = service.get_memory(admin, "p", rule.memory.id)
    assert (old.status, old.superseded_by) == (Status.SUPERSEDED, new.id)


def test_only_curators_decide_and_only_admins_set_policy(service: MemoryService) -> None:
    admin = Actor.local(Channel.REST)
    service.create_project(admin, ProjectCreate(id="p"))
    from memsvc.domain import Role

    writer = Actor(principal="w", channel=Channel.MCP, grants={"p": Role.WRITER}, client="x")
    curator = Actor(principal="c", channel=Channel.REST, grants={"p": Role.CURATOR})
    proposed = service.add_memory(writer, "p", MemoryDraft(kind=Kind.RULE, content="r"))
    with pytest.raises(PermissionDenied):
        service.approve_memory(writer, "p", proposed.memory.id)
    with pytest.raises(PermissionDenied):
        service.set_review_policy(curator, "p", ReviewPolicy())
    with pytest.raises(InvalidTransition):
        service.update_memory(writer, "p", proposed.memory.id, MemoryPatch(status="active"))
    assert service.approve_memory(curator, "p", proposed.memory.id).status is Status.ACTIVE


def test_a_possible_conflict_is_labelled_beside_the_rule_it_contradicts(
    tmp_path: Path, embedder: Embedder
) -> None:
    # a low conflict threshold so the fake embedder's word overlap flags the contradiction
    # through the real write-time check
    settings = make_settings(tmp_path / "c", conflict_cosine=0.2, near_duplicate_cosine=0.999)
    with build_service(settings, embedder=embedder) as service:
        admin = Actor.local(Channel.REST)
        service.create_project(admin, ProjectCreate(id="p"))
        pinned = service.add_memory(
            admin,
            "p",
            MemoryDraft(
                kind=Kind.RULE, content="Amounts are integer cents, never floats.", pinned=True
            ),
        )
        filler = service.add_memory(admin, "p", MemoryDraft(kind=Kind.FACT, content="Use black."))
        flagged = service.add_memory(admin, "p", MemoryDraft(kind=Kind.RULE, content=FLOATS))
        assert flagged.memory.conflicts_with == pinned.memory.id
        pack = service.get_context(admin, "p", ContextRequest())
    ids = [m.id for m in pack.items]
    assert ids.index(flagged.memory.id) == ids.index(pinned.memory.id) + 1
    assert filler.memory.id in ids
    label = f'review="possible conflict with {pinned.memory.id}, not resolved"'
    block = pack.text.split(f'id="{flagged.memory.id}"', 1)[1].split("</memory>", 1)[0]
    assert label in block
