"""Role matrix over every REST route, and bearer-token authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from memsvc import MemoryDraft, MemoryService, ProjectCreate, Role, build_service
from memsvc.api import create_app
from memsvc.retrieval.embedder import HashEmbedder
from memsvc_cli import serving
from memsvc_cli.main import main
from tests.audit.helpers import CLI, actor, events_after, last_seq, unique
from tests.conftest import LiveServer, make_settings

ROLES = ("reader", "writer", "curator", "admin")
P = "/projects/acme"


@dataclass
class World:
    svc: MemoryService
    url: str
    tokens: dict[str, str]

    def others_memory(self) -> str:
        """A fresh memory written by another principal (only curators may change it)."""
        owner = actor("owner", {"acme": Role.WRITER})
        return self.svc.add_memory(
            owner, "acme", MemoryDraft(kind="fact", content=unique())
        ).memory.id

    def request(self, role: str | None, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        with httpx.Client(base_url=self.url + "/api/v1", timeout=30) as c:
            return c.request(method, path, json=body, headers=headers)


@pytest.fixture
def world(live: tuple[LiveServer, MemoryService]) -> World:
    server, svc = live
    svc.create_project(CLI, ProjectCreate(id="acme"))
    svc.create_project(CLI, ProjectCreate(id="other"))
    tokens = {r: svc.create_token(CLI, f"{r}-user", "acme", r).token for r in ROLES}
    tokens["outsider"] = svc.create_token(CLI, "outsider", "other", "admin").token
    svc.add_memory(CLI, "acme", MemoryDraft(kind="fact", content="the api uses postgres"))
    return World(svc, server.url, tokens)


Route = Callable[[World], tuple[str, str, Any]]


def _draft() -> dict[str, Any]:
    return {"kind": "fact", "content": unique()}


# (operation, request builder, expected status for reader, writer, curator, admin)
MATRIX: list[tuple[str, Route, tuple[int, int, int, int]]] = [
    ("get_project", lambda w: ("GET", P, None), (200, 200, 200, 200)),
    ("list_projects", lambda w: ("GET", "/projects", None), (200, 200, 200, 200)),
    ("create_project", lambda w: ("POST", "/projects", {"id": "acme"}), (403, 403, 403, 409)),
    ("update_project", lambda w: ("PATCH", P, {"description": "d"}), (403, 403, 403, 200)),
    ("add_memory", lambda w: ("POST", f"{P}/memories", _draft()), (403, 201, 201, 201)),
    (
        "add_memories",
        lambda w: ("POST", f"{P}/memories:batch", {"memories": [_draft(), _draft()]}),
        (403, 201, 201, 201),
    ),
    ("list_memories", lambda w: ("GET", f"{P}/memories", None), (200, 200, 200, 200)),
    (
        "get_memory",
        lambda w: ("GET", f"{P}/memories/{w.others_memory()}", None),
        (200, 200, 200, 200),
    ),
    (
        "update_memory",
        lambda w: ("PATCH", f"{P}/memories/{w.others_memory()}", {"title": "t"}),
        (403, 403, 200, 200),
    ),
    (
        "delete_memory",
        lambda w: ("DELETE", f"{P}/memories/{w.others_memory()}", None),
        (403, 403, 204, 204),
    ),
    (
        "supersede_memory",
        lambda w: ("POST", f"{P}/memories/{w.others_memory()}/supersede", _draft()),
        (403, 403, 201, 201),
    ),
    (
        "memory_history",
        lambda w: ("GET", f"{P}/memories/{w.others_memory()}/history", None),
        (200, 200, 200, 200),
    ),
    ("search_memories", lambda w: ("POST", f"{P}/search", {"query": "postgres"}), (200,) * 4),
    ("get_context", lambda w: ("POST", f"{P}/context", {"task": "db"}), (200, 200, 200, 200)),
    (
        "write_handoff",
        lambda w: ("POST", f"{P}/handoffs", {"summary": unique("done")}),
        (403, 201, 201, 201),
    ),
    ("open_project", lambda w: ("POST", "/open-project", {"name": "acme"}), (200,) * 4),
    ("open_last_project", lambda w: ("POST", "/open-last-project", {}), (200, 200, 200, 200)),
    ("list_audit_events", lambda w: ("GET", f"{P}/audit", None), (403, 403, 200, 200)),
    (
        "list_audit_events",
        lambda w: ("GET", f"{P}/memories/{w.others_memory()}/audit", None),
        (403, 403, 200, 200),
    ),
]


def test_every_route_enforces_roles_and_leaves_one_event(world: World) -> None:
    wrong = []
    for action, build, expected in MATRIX:
        for role, status in zip(ROLES, expected, strict=True):
            method, path, body = build(world)
            before = last_seq(world.svc)
            r = world.request(role, method, path, body)
            events = events_after(world.svc, before)
            outcome = "ok" if r.status_code < 400 else "denied" if r.status_code == 403 else "error"
            seen = [(e.action, e.principal, e.outcome) for e in events]
            if r.status_code != status or seen != [(action, f"{role}-user", outcome)]:
                wrong.append(f"{role} {method} {path}: {r.status_code} (want {status}) {seen}")
    assert not wrong, "\n".join(wrong)


def test_writer_may_change_its_own_memories(world: World) -> None:
    mid = world.request("writer", "POST", f"{P}/memories", _draft()).json()["id"]
    assert (
        world.request("writer", "PATCH", f"{P}/memories/{mid}", {"title": "t"}).status_code == 200
    )
    new = world.request("writer", "POST", f"{P}/memories/{mid}/supersede", _draft())
    assert new.status_code == 201
    assert world.request("writer", "DELETE", f"{P}/memories/{new.json()['id']}").status_code == 204


@pytest.mark.parametrize(
    "header", [None, "Bearer msv_000000000000_nope", "Basic dXNlcjpwdw==", "Bearer"]
)
def test_missing_or_unknown_tokens_get_401_and_are_audited(
    world: World, header: str | None
) -> None:
    for _, build, _ in MATRIX:
        method, path, body = build(world)
        before = last_seq(world.svc)
        with httpx.Client(base_url=world.url + "/api/v1") as c:
            r = c.request(
                method, path, json=body, headers={"Authorization": header} if header else {}
            )
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "Unauthenticated"
        events = events_after(world.svc, before)
        assert [(e.action, e.principal, e.outcome) for e in events] == [
            ("authenticate", "anonymous", "denied")
        ]


def test_health_needs_no_token(world: World) -> None:
    with httpx.Client(base_url=world.url + "/api/v1") as c:
        assert c.get("/health").status_code == 200


def test_grants_stop_at_the_project_boundary(world: World) -> None:
    for method, path in [("GET", P), ("GET", f"{P}/memories"), ("POST", f"{P}/memories")]:
        r = world.request("outsider", method, path, _draft() if method == "POST" else None)
        assert r.status_code == 403, r.text
    projects = world.request("outsider", "GET", "/projects").json()["projects"]
    assert [p["id"] for p in projects] == ["other"]
    assert world.request("reader", "GET", "/projects/other").status_code == 403


def test_a_revoked_token_stops_working_at_once(world: World) -> None:
    info = world.svc.list_tokens(CLI)
    reader = next(t for t in info if t.principal == "reader-user")
    assert world.request("reader", "GET", P).status_code == 200
    world.svc.revoke_token(CLI, reader.token_id)
    assert world.request("reader", "GET", P).status_code == 401
    last = events_after(world.svc, last_seq(world.svc) - 1)[0]
    assert last.action == "authenticate" and last.detail["reason"] == "revoked"


def test_tokens_are_stored_hashed_and_never_audited(world: World) -> None:
    import sqlite3

    conn = sqlite3.connect(world.svc.settings.data_dir / "memsvc.db")
    dump = "\n".join(conn.iterdump())
    conn.close()
    for token in world.tokens.values():
        secret = token.split("_", 2)[2]  # msv_<id>_<secret>; the secret may hold "_"
        assert secret not in dump


def test_project_admin_may_create_that_project_only(world: World) -> None:
    from memsvc.errors import ProjectNotFound

    with pytest.raises(ProjectNotFound):  # a grant names an existing project (or *)
        world.svc.create_token(CLI, "founder", "newp", "admin")
    token = world.svc.create_token(CLI, "founder", "acme", "reader").token
    with httpx.Client(
        base_url=world.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}
    ) as c:
        assert c.post("/projects", json={"id": "newq"}).status_code == 403


def test_only_admins_manage_tokens(world: World) -> None:
    from memsvc.errors import PermissionDenied

    curator = actor("c", {"acme": Role.CURATOR})
    acme_admin = actor("a", {"acme": Role.ADMIN})
    with pytest.raises(PermissionDenied):
        world.svc.create_token(curator, "x", "acme", "reader")
    with pytest.raises(PermissionDenied):
        world.svc.create_token(acme_admin, "x", "*", "reader")
    assert world.svc.create_token(acme_admin, "x", "acme", "reader").grants == {"acme": Role.READER}
    with pytest.raises(PermissionDenied):
        world.svc.list_tokens(acme_admin)


@pytest.fixture
def open_service(tmp_path: Path) -> Iterator[tuple[MemoryService, Any]]:
    settings = make_settings(tmp_path / "data", host="0.0.0.0")
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        yield svc, settings


def test_non_loopback_bind_requires_a_token_even_without_any(
    open_service: tuple[MemoryService, Any],
) -> None:
    svc, settings = open_service
    with TestClient(create_app(svc, settings)) as c:
        r = c.get("/api/v1/projects")
    assert r.status_code == 401


def test_local_mode_until_the_first_token(live: tuple[LiveServer, MemoryService]) -> None:
    server, svc = live
    with httpx.Client(base_url=server.url + "/api/v1") as c:
        assert c.post("/projects", json={"id": "acme"}).status_code == 201
        svc.create_token(CLI, "bot", "acme", "reader")
        assert c.get("/projects").status_code == 401


def test_serve_refuses_a_public_bind_without_tokens_and_allows_it_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(serving, "serve", lambda app, host, **kw: ran.append(host))
    monkeypatch.setenv("MEMSVC_EMBEDDER", "hash")
    monkeypatch.setenv("MEMSVC_BACKGROUND", "false")
    data = str(tmp_path / "data")
    assert main(["serve", "--host", "0.0.0.0", "--data-dir", data]) == 2
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err
    assert (
        main(
            [
                "token",
                "create",
                "--name",
                "ci",
                "--project",
                "*",
                "--role",
                "reader",
                "--data-dir",
                data,
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()
    assert token.startswith("msv_")
    assert main(["serve", "--host", "0.0.0.0", "--data-dir", data]) == 0
    assert ran == ["0.0.0.0"]
    assert main(["token", "list", "--data-dir", data]) == 0
    listed = capsys.readouterr().out
    assert "ci" in listed and token not in listed
    token_id = next(line.split()[0] for line in listed.splitlines() if "  ci  " in line)
    assert main(["token", "revoke", token_id, "--data-dir", data]) == 0
    assert (
        main(
            [
                "token",
                "create",
                "--name",
                "local",
                "--project",
                "*",
                "--role",
                "admin",
                "--data-dir",
                data,
            ]
        )
        == 1
    )
