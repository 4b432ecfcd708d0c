"""Completeness: a random workload over every operation and channel, then the events
counted against the operations: exactly one each, denied and failed ones included."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from memsvc import (
    Actor,
    Channel,
    ContextRequest,
    Kind,
    MemoryDraft,
    MemoryPatch,
    MemoryService,
    ProjectCreate,
    Role,
    SearchQuery,
    build_service,
)
from memsvc.domain import AuditQuery, ProjectPatch
from memsvc.errors import MemsvcError, PermissionDenied, Unauthenticated
from memsvc.retrieval.embedder import HashEmbedder
from tests.audit.helpers import CLI, actor, all_audit_text, events_after, last_seq, unique
from tests.audit.test_roles import MATRIX, World
from tests.conftest import LiveServer, make_settings

UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


class Workload:
    def __init__(self, svc: MemoryService, seed: int) -> None:
        self.svc = svc
        self.rng = random.Random(seed)
        self.ids: list[str] = []
        self.markers: list[str] = []
        self.tokens: list[str] = []
        self.token_ids: list[str] = []

    def draft(self) -> MemoryDraft:
        text = unique("MARKER")
        self.markers.append(text)
        kind = self.rng.choice([Kind.FACT, Kind.PREFERENCE, Kind.HANDOFF])
        return MemoryDraft(kind=kind, content=text)

    def pick(self) -> str:
        return self.rng.choice([*self.ids[-20:], UNKNOWN_ID])

    def project(self) -> str:
        return self.rng.choice(["acme", "acme", "acme", "beta", "ghost"])

    def token(self, a: Actor) -> Any:
        issued = self.svc.create_token(
            a, f"bot{self.rng.randint(0, 3)}", "acme", self.rng.choice(["reader", "writer", "x"])
        )
        self.tokens.append(issued.token)
        self.token_ids.append(issued.token_id)
        return issued

    def operations(self) -> dict[str, Callable[[Actor], Any]]:
        s, r = self.svc, self.rng
        return {
            "create_project": lambda a: s.create_project(
                a, ProjectCreate(id=r.choice(["acme", "beta", f"p{r.randint(0, 9)}"]))
            ),
            "update_project": lambda a: s.update_project(a, self.project(), ProjectPatch(name="n")),
            "list_projects": lambda a: s.list_projects(a),
            "get_project": lambda a: s.get_project(a, self.project()),
            "add_memory": lambda a: self.ids.append(
                s.add_memory(a, self.project(), self.draft()).memory.id
            ),
            "add_memories": lambda a: self.ids.extend(
                x.memory.id for x in s.add_memories(a, "acme", [self.draft(), self.draft()])
            ),
            "write_handoff": lambda a: s.write_handoff(a, "acme", "wrapped up", ["x"], ["y"]),
            "get_memory": lambda a: s.get_memory(a, "acme", self.pick()),
            "list_memories": lambda a: s.list_memories(a, self.project(), limit=r.choice([5, 0])),
            "memory_history": lambda a: s.memory_history(a, "acme", self.pick()),
            "update_memory": lambda a: s.update_memory(
                a, "acme", self.pick(), MemoryPatch(title=f"t{r.random()}")
            ),
            "supersede_memory": lambda a: s.supersede_memory(a, "acme", self.pick(), self.draft()),
            "delete_memory": lambda a: s.delete_memory(a, "acme", self.pick()),
            "search_memories": lambda a: s.search_memories(
                a, self.project(), SearchQuery(query=r.choice(["postgres deploy", " "]))
            ),
            "get_context": lambda a: s.get_context(
                a, self.project(), ContextRequest(task=r.choice([None, "deploy"]))
            ),
            "open_project": lambda a: s.open_project(a, r.choice(["acme", "ac", "zzz"])),
            "open_last_project": lambda a: s.open_last_project(a),
            "list_audit_events": lambda a: s.list_audit_events(
                a, self.project(), AuditQuery(memory_id=r.choice([None, self.pick()]))
            ),
            "export_audit": lambda a: s.export_audit(a, self.project()),
            "create_token": self.token,
            "list_tokens": lambda a: s.list_tokens(a),
            "revoke_token": lambda a: s.revoke_token(
                a, r.choice([*self.token_ids, "000000000000"])
            ),
            "authenticate": lambda a: s.authenticate(
                r.choice([None, "msv_000000000000_forged", *self.tokens[-2:]]), a.channel
            ),
        }


def _actors() -> list[Actor]:
    return [
        Actor.local(Channel.MCP),
        actor("rita", {"acme": Role.READER}, Channel.MCP),
        actor("walt", {"acme": Role.WRITER}, Channel.WEB),
        actor("cora", {"acme": Role.CURATOR, "beta": Role.READER}, Channel.REST),
        actor("ada", {"*": Role.ADMIN}, Channel.CLI),
        actor("olga", {}, Channel.REST),
    ]


def test_random_service_workload_leaves_exactly_one_event_per_operation(
    service: MemoryService,
) -> None:
    service.create_project(CLI, ProjectCreate(id="acme"))
    service.add_memory(CLI, "acme", MemoryDraft(kind="fact", content="postgres deploy notes"))
    work = Workload(service, seed=4)
    ops = work.operations()
    tally: dict[str, int] = {}
    for _ in range(400):
        name, op = work.rng.choice(sorted(ops.items()))
        who = work.rng.choice(_actors())
        before = last_seq(service)
        try:
            result = op(who)
            outcome = "ok"
        except (PermissionDenied, Unauthenticated):
            result, outcome = None, "denied"
        except MemsvcError:
            result, outcome = None, "error"
        events = events_after(service, before)
        if name == "authenticate" and outcome == "ok":
            # Authentication is not an operation: the call it admits carries the event.
            assert events == [] and isinstance(result, Actor)
            continue
        principal = "anonymous" if name == "authenticate" else who.principal
        assert [(e.action, e.outcome, e.principal, e.channel) for e in events] == [
            (name, outcome, principal, who.channel.value)
        ], f"{name} by {who.principal}"
        tally[f"{name}:{outcome}"] = tally.get(f"{name}:{outcome}", 0) + 1
    assert {k.split(":")[0] for k in tally} == set(ops), "every operation was exercised"
    assert {k.split(":")[1] for k in tally} == {"ok", "denied", "error"}
    assert service.verify_audit() == (last_seq(service), None)
    text = all_audit_text(service)
    assert not [m for m in work.markers if m in text], "memory text leaked into the audit log"
    # msv_<id>_<secret>: the secret is url-safe base64 and may itself contain "_"
    assert not [t for t in work.tokens if t.split("_", 2)[-1] in text], "a token leaked"


def test_random_rest_workload_leaves_exactly_one_event_per_request(
    live: tuple[LiveServer, MemoryService],
) -> None:
    server, svc = live
    svc.create_project(CLI, ProjectCreate(id="acme"))
    roles = ["reader", "writer", "curator", "admin"]
    tokens = {r: svc.create_token(CLI, f"{r}-user", "acme", r).token for r in roles}
    tokens["bad"] = "msv_000000000000_forged"
    world = World(svc, server.url, tokens)
    rng = random.Random(7)
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as c:
        for _ in range(150):
            action, build, _ = rng.choice(MATRIX)
            who = rng.choice([*tokens, None])
            method, path, body = build(world)
            headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
            web = rng.random() < 0.3
            if web:  # as the inspector sends them: marked, and same-origin
                headers["X-Memsvc-UI"] = "1"
                headers["Origin"] = server.url
            before = last_seq(svc)
            r = c.request(method, path, json=body, headers=headers)
            events = events_after(svc, before)
            assert len(events) == 1, (method, path, who, r.status_code)
            if who in (None, "bad"):
                assert r.status_code == 401 and events[0].action == "authenticate"
            else:
                assert events[0].action == action and events[0].principal == f"{who}-user"
                assert events[0].channel == ("web" if web else "rest")
                assert events[0].request_id == r.headers["x-request-id"]
    assert svc.verify_audit()[1] is None


def test_queries_are_hashed_when_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", hash_audit_queries=True)
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        svc.create_project(CLI, ProjectCreate(id="acme"))
        svc.search_memories(CLI, "acme", SearchQuery(query="needle-query-4711"))
        svc.get_context(CLI, "acme", ContextRequest(task="needle-task-4712"))
        text = all_audit_text(svc)
    assert "needle" not in text and text.count("sha256:") == 2


def test_queries_are_kept_by_default(service: MemoryService) -> None:
    service.create_project(CLI, ProjectCreate(id="acme"))
    service.search_memories(CLI, "acme", SearchQuery(query="needle-query-4711"))
    assert "needle-query-4711" in all_audit_text(service)


def test_search_and_context_carry_provenance(service: MemoryService) -> None:
    service.create_project(CLI, ProjectCreate(id="acme"))
    walt = actor("walt", {"acme": Role.WRITER}, Channel.MCP)
    draft = MemoryDraft.model_validate(
        {
            "kind": "fact",
            "content": "the deploy uses postgres",
            "provenance": {"agent": "claude", "client": "cli-x", "origin": "docs/db.md"},
        }
    )
    service.add_memory(walt, "acme", draft)
    hit = service.search_memories(CLI, "acme", SearchQuery(query="postgres"))[0]
    assert hit.provenance_line.startswith("walt via mcp (cli-x, agent claude)")
    assert "from docs/db.md" in hit.provenance_line
    pack = service.get_context(CLI, "acme", ContextRequest(task="postgres"))
    assert 'provenance="walt via mcp' in pack.text
