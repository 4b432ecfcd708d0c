"""The REST routes the inspector reads instead of copying server knowledge: /meta, the
one-call memory details, and the audit filters. Real HTTP against the demo data."""

from __future__ import annotations

import httpx

from memsvc import Actor, Channel, Kind, Role, Status
from memsvc.domain import READ_ACTIONS, WRITE_ACTIONS, AuditQuery, Outcome, ReviewAction
from tests.web.conftest import Inspector

UI = {"X-Memsvc-Ui": "1"}


def _get(inspector: Inspector, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{inspector.url}/api/v1{path}", params=params, headers=UI)


def test_meta_states_the_servers_vocabulary_and_thresholds(inspector: Inspector) -> None:
    r = _get(inspector, "/meta")
    assert r.status_code == 200
    meta = r.json()
    assert meta["kinds"] == [k.value for k in Kind]
    assert meta["statuses"] == [s.value for s in Status]
    assert meta["roles"] == ["reader", "writer", "curator", "admin"]
    assert meta["channels"] == [c.value for c in Channel]
    assert meta["outcomes"] == [o.value for o in Outcome]
    assert meta["review_actions"] == [a.value for a in ReviewAction]
    assert set(meta["immutable_kinds"]) == {"rule", "decision"}
    settings = inspector.service.settings
    assert meta["near_duplicate_cosine"] == settings.near_duplicate_cosine
    assert meta["conflict_cosine"] == settings.conflict_cosine
    assert meta["list_limit"] == settings.limits.list_limit


def test_every_action_the_service_records_is_named_read_or_write(inspector: Inspector) -> None:
    meta = _get(inspector, "/meta").json()
    assert not set(meta["read_actions"]) & set(meta["write_actions"])
    local = Actor.local(Channel.CLI)
    recorded = set()
    for project in ("acme-api", "billing-worker", "docs-site"):
        page = inspector.service.list_audit_events(local, project, AuditQuery(limit=1000))
        recorded |= {e.action for e in page.events}
    assert recorded, "the demo data records events"
    assert recorded <= READ_ACTIONS | WRITE_ACTIONS, recorded - (READ_ACTIONS | WRITE_ACTIONS)


def test_memory_details_return_memory_versions_chain_and_audit_in_one_call(
    inspector: Inspector,
) -> None:
    ids = inspector.seeded.ids
    r = _get(inspector, f"/projects/acme-api/memories/{ids['decision_queue_v2']}/details")
    assert r.status_code == 200
    body = r.json()
    assert body["project"]["id"] == "acme-api"
    assert body["memory"]["id"] == ids["decision_queue_v2"]
    assert [v["version"] for v in body["versions"]] == [1]
    assert [m["id"] for m in body["chain"]] == [ids["decision_queue"], ids["decision_queue_v2"]]
    assert body["chain"][0]["status"] == "superseded"
    actions = [e["action"] for e in body["audit"]["events"]]
    assert "supersede_memory" in actions and "get_memory" in actions
    again = _get(
        inspector,
        f"/projects/acme-api/memories/{ids['decision_queue_v2']}/details",
        audit_hide_reads_from="web",
    ).json()
    channels = {(e["channel"], e["action"]) for e in again["audit"]["events"]}
    assert ("web", "get_memory") not in channels and ("mcp", "supersede_memory") in channels


def test_memory_details_of_a_deleted_memory_show_it_deleted(inspector: Inspector) -> None:
    memory_id = inspector.seeded.ids["fact_rate"]
    inspector.service.delete_memory(Actor.local(Channel.CLI), "acme-api", memory_id)
    body = _get(inspector, f"/projects/acme-api/memories/{memory_id}/details").json()
    assert body["memory"]["status"] == "deleted"
    assert body["versions"][-1]["change"] == "delete"
    assert _get(inspector, f"/projects/acme-api/memories/{memory_id}").status_code == 404


def test_memory_details_never_cross_projects(inspector: Inspector) -> None:
    memory_id = inspector.seeded.ids["fact_rate"]
    r = _get(inspector, f"/projects/docs-site/memories/{memory_id}/details")
    assert r.status_code == 404
    assert r.json()["error"] == "MemoryNotFound"
    assert "Traceback" not in r.text


def test_memory_details_leave_out_the_audit_below_curator(inspector: Inspector) -> None:
    reader = Actor(principal="ro", channel=Channel.REST, grants={"acme-api": Role.READER})
    from memsvc.api.curation_routes import memory_details

    details = memory_details(
        "acme-api", inspector.seeded.ids["fact_rate"], inspector.service, reader, 50, None
    )
    assert details.audit is None
    assert details.memory.id == inspector.seeded.ids["fact_rate"]


def test_audit_route_hides_web_reads_and_filters_channel_and_client(
    inspector: Inspector,
) -> None:
    memory_id = inspector.seeded.ids["fact_landmine"]
    assert _get(inspector, f"/projects/acme-api/memories/{memory_id}").status_code == 200
    pin = httpx.patch(
        f"{inspector.url}/api/v1/projects/acme-api/memories/{memory_id}",
        json={"pinned": True},
        headers={**UI, "Origin": inspector.url},  # as the page sends it
    )
    assert pin.status_code == 200
    everything = _get(inspector, "/projects/acme-api/audit", limit=1000).json()["events"]
    web = [e for e in everything if e["channel"] == "web"]
    assert {"get_memory", "update_memory"} <= {e["action"] for e in web}

    hidden = _get(inspector, "/projects/acme-api/audit", limit=1000, hide_reads_from="web")
    events = hidden.json()["events"]
    assert [e for e in events if e["channel"] == "web"] == [
        e for e in web if e["action"] in WRITE_ACTIONS
    ]
    kept = [e for e in everything if not (e["channel"] == "web" and e["action"] in READ_ACTIONS)]
    assert [e["seq"] for e in events] == [e["seq"] for e in kept]

    mcp = _get(inspector, "/projects/acme-api/audit", limit=1000, channel="mcp").json()["events"]
    assert mcp and all(e["channel"] == "mcp" for e in mcp)
    assert len(mcp) == len([e for e in everything if e["channel"] == "mcp"])

    codex = _get(inspector, "/projects/acme-api/audit", client="codex-cli").json()["events"]
    assert codex and all(e["client"] == "codex-cli" for e in codex)
    assert _get(inspector, "/projects/acme-api/audit", channel="carrier-pigeon").status_code == 422
