"""Lifecycle and portability over REST: archive, delete with confirmation, restore,
streamed export and import, another tool's file."""

from __future__ import annotations

import json

import httpx


def test_lifecycle_and_portability_over_rest(client: httpx.Client) -> None:
    assert client.post("/projects", json={"id": "acme"}).status_code == 201
    m = client.post(
        "/projects/acme/memories", json={"kind": "fact", "content": "queue is rabbitmq"}
    )
    mid = m.json()["id"]
    assert client.delete(f"/projects/acme/memories/{mid}").status_code == 204
    r = client.post(f"/projects/acme/memories/{mid}/restore")
    assert r.status_code == 200 and r.json()["status"] == "active"

    export = client.get("/projects/acme/export.jsonl")
    assert export.status_code == 200 and export.headers["content-type"].startswith(
        "application/x-ndjson"
    )
    lines = export.text.splitlines()
    assert json.loads(lines[0])["type"] == "memsvc-export"

    assert client.post("/projects/acme/archive").json()["archived_at"]
    refused = client.post("/projects/acme/memories", json={"kind": "fact", "content": "x"})
    assert refused.status_code == 409 and "archived" in refused.json()["detail"]
    assert client.post("/projects/acme/unarchive").json()["archived_at"] is None

    assert client.delete("/projects/acme", params={"confirm": "nope"}).status_code == 422
    assert client.delete("/projects/acme", params={"confirm": "acme"}).status_code == 204
    assert client.get("/projects/acme").status_code == 404

    nd = {"content-type": "application/x-ndjson"}
    back = client.post("/import", content=export.text, headers=nd)
    assert back.status_code == 200 and back.json()["projects"][0]["memories_added"] == 1
    got = client.get(f"/projects/acme/memories/{mid}")
    assert got.status_code == 200 and got.json()["content"] == "queue is rabbitmq"

    claude = "# Rules\n- Never commit to main.\n- Prefer small functions.\n"
    r = client.post(
        "/projects/acme/import",
        json={"format": "instructions", "source": "CLAUDE.md", "text": claude},
    )
    assert r.status_code == 200 and r.json() == {"added": 2, "already_stored": 0, "proposed": 1}
    held = {"kind": "rule", "status": "proposed"}
    rules = client.get("/projects/acme/memories", params=held).json()["memories"]
    assert [x["provenance"]["channel"] for x in rules] == ["import"]
    assert client.post("/import", content=b"\xff\xfe", headers=nd).status_code == 422
