"""Tokens carry their own grants, creating one never changes another, and requiring
tokens is a persisted setting that revoking the last token does not undo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlmodel import select

from memsvc import Actor, Channel, MemoryService, ProjectCreate
from memsvc.errors import ProjectNotFound
from memsvc.store.models import AuditEventRow
from tests.fleet.conftest import Fleet, ok

pytestmark = pytest.mark.anyio

ADMIN = Actor.local(Channel.CLI)


def bearer(fleet: Fleet, token: str | None) -> httpx.Client:
    return fleet.rest(**({"Authorization": f"Bearer {token}"} if token else {}))


def test_a_new_token_never_changes_another_tokens_rights(fleet: Fleet) -> None:
    svc = fleet.service
    svc.create_project(ADMIN, ProjectCreate(id="acme"))
    svc.create_project(ADMIN, ProjectCreate(id="beta"))
    reader = svc.create_token(ADMIN, "alice", "acme", "reader")
    writer = svc.create_token(ADMIN, "alice", "acme", "writer")
    other = svc.create_token(ADMIN, "alice", "beta", "admin")
    assert (reader.grants, writer.grants) == ({"acme": "reader"}, {"acme": "writer"})
    fact = {"kind": "fact", "content": "alice was here"}
    assert bearer(fleet, reader.token).post("/projects/acme/memories", json=fact).status_code == 403
    ok(bearer(fleet, writer.token).post("/projects/acme/memories", json=fact), 201)
    assert bearer(fleet, writer.token).get("/projects/beta").status_code == 403
    ok(bearer(fleet, other.token).get("/projects/beta"))
    listed = {t.token_id: t.grants for t in svc.list_tokens(ADMIN)}
    assert listed[reader.token_id] == {"acme": "reader"}


def test_token_create_for_an_unknown_project_is_an_error(service: MemoryService) -> None:
    with pytest.raises(ProjectNotFound):
        service.create_token(ADMIN, "bob", "nope", "writer")
    assert service.list_tokens(ADMIN) == []
    assert not service.tokens_configured()


def test_revoking_the_last_token_keeps_the_server_closed(fleet: Fleet) -> None:
    svc = fleet.service
    svc.create_project(ADMIN, ProjectCreate(id="acme"))
    anonymous = bearer(fleet, None)
    ok(anonymous.get("/projects"))  # local mode before any token
    issued = svc.create_token(ADMIN, "carol", "*", "admin")
    assert anonymous.get("/projects").status_code == 401
    svc.revoke_token(ADMIN, issued.token_id)
    assert svc.tokens_configured()
    assert anonymous.get("/projects").status_code == 401
    assert anonymous.post("/projects", json={"id": "sneaky"}).status_code == 401
    # only an explicit admin decision reopens local mode (over REST: a global admin token)
    root = svc.create_token(ADMIN, "root", "*", "admin")
    reader = svc.create_token(ADMIN, "rita", "acme", "reader")
    body = {"required": False}
    assert bearer(fleet, reader.token).put("/settings/require-tokens", json=body).status_code == 403
    assert ok(bearer(fleet, root.token).put("/settings/require-tokens", json=body)) == body
    ok(anonymous.get("/projects"))


@asynccontextmanager
async def connect(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(url + "/mcp", http_client=http)) as c,
    ):
        yield c


async def test_a_revoked_token_stops_an_open_mcp_session_at_the_next_call(fleet: Fleet) -> None:
    svc = fleet.service
    svc.create_project(ADMIN, ProjectCreate(id="acme"))
    issued = svc.create_token(ADMIN, "dave", "acme", "writer")
    async with connect(fleet.url, issued.token) as c:
        first = await c.call_tool("list_projects", {})
        assert not first.is_error
        svc.revoke_token(ADMIN, issued.token_id)
        with pytest.raises(MCPError):  # the transport answers 401 to the open session
            await c.call_tool("list_projects", {})
    with svc._p.curation.db.read() as s:
        refused = s.exec(select(AuditEventRow).where(AuditEventRow.action == "authenticate")).all()
    assert [(e.outcome, e.detail["reason"]) for e in refused] == [("denied", "revoked")]


def test_the_token_setting_is_read_fresh_on_every_request(service: MemoryService) -> None:
    """The per-request read (a Core statement on a plain connection) sees the persisted
    setting as it is now, also when another process (another ``Database``) changed it."""
    from memsvc.access import tokens as principals
    from memsvc.clock import utcnow
    from memsvc.store.database import Database

    db = service._p.access.db
    assert not service.tokens_configured()
    other = Database(db.url)  # another server or the CLI on the same data dir
    try:
        with other.maintenance() as s:
            principals.set_tokens_required(s, True, utcnow())
        assert service.tokens_configured()
        with db.read() as s:
            assert principals.tokens_configured(s)  # the ORM read agrees
        assert service.set_require_tokens(ADMIN, False) is False
        assert not service.tokens_configured()
    finally:
        other.dispose()
