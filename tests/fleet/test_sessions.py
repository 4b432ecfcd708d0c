"""An MCP streamable HTTP session belongs to the principal whose token opened it: another
principal's token on the same ``Mcp-Session-Id`` is refused with 403 and audited."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from memsvc import Actor, Channel, ProjectCreate
from memsvc.store.models import AuditEventRow
from tests.fleet.conftest import Fleet

ADMIN = Actor.local(Channel.CLI)
ACCEPT = "application/json, text/event-stream"


def rpc(method: str, params: dict[str, Any] | None = None, id: int | None = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    if id is not None:
        body["id"] = id
    return body


def post(fleet: Fleet, token: str, body: dict[str, Any], session: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
    if session:
        headers["Mcp-Session-Id"] = session
    return httpx.post(fleet.url + "/mcp", json=body, headers=headers, timeout=30)


def open_session(fleet: Fleet, token: str) -> str:
    hello = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    }
    r = post(fleet, token, rpc("initialize", hello), None)
    assert r.status_code == 200, r.text
    session = r.headers["mcp-session-id"]
    done = post(fleet, token, rpc("notifications/initialized", id=None), session)
    assert done.status_code == 202, done.text
    return session


def refusals(fleet: Fleet) -> list[AuditEventRow]:
    with fleet.service._p.curation.db.read() as s:
        query = select(AuditEventRow).where(AuditEventRow.action == "authenticate")
        return list(s.exec(query).all())


def test_another_principals_token_on_a_session_is_refused_and_audited(fleet: Fleet) -> None:
    svc = fleet.service
    svc.create_project(ADMIN, ProjectCreate(id="acme"))
    alice = svc.create_token(ADMIN, "alice", "acme", "writer").token
    mallory = svc.create_token(ADMIN, "mallory", "acme", "writer").token
    session = open_session(fleet, alice)
    stolen = post(fleet, mallory, rpc("tools/call", {"name": "list_projects"}, 2), session)
    assert stolen.status_code == 403, stolen.text
    assert stolen.json()["error"] == "PermissionDenied"
    [event] = refusals(fleet)
    assert (event.principal, event.outcome) == ("mallory", "denied")
    assert event.detail["reason"] == "foreign_session"
    assert (event.detail["session"], event.detail["owner"]) == (session, "alice")
    # the owner's session is untouched, and mallory may open her own
    own = post(
        fleet, alice, rpc("tools/call", {"name": "list_projects", "arguments": {}}, 3), session
    )
    assert own.status_code == 200 and "acme" in own.text
    hers = open_session(fleet, mallory)
    assert hers != session
    assert post(fleet, alice, rpc("ping", id=4), hers).status_code == 403
    assert post(fleet, mallory, rpc("ping", id=5), hers).status_code == 200
