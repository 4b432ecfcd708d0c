"""REST surface the inspector relies on, and the guards that protect it from other sites."""

from __future__ import annotations

import json

import httpx

from memsvc import MemoryService
from memsvc.api.web import CSP
from tests.conftest import LiveServer

Live = tuple[LiveServer, MemoryService]

UI = {"X-Memsvc-Ui": "1"}


def _project(client: httpx.Client) -> None:
    assert client.post("/projects", json={"id": "acme"}).status_code == 201


def test_ui_is_served_with_a_strict_csp(live: Live) -> None:
    root = live[0].url
    r = httpx.get(root + "/ui/")
    assert r.status_code == 200 and "js/app.js" in r.text
    assert r.headers["content-security-policy"] == CSP
    for directive in ("script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    js = httpx.get(root + "/ui/js/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.headers["content-security-policy"] == CSP
    home = httpx.get(root + "/", follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/ui/"


def test_ui_refuses_path_traversal(live: Live) -> None:
    root = live[0].url
    r = httpx.get(root + "/ui/..%2F..%2Fpyproject.toml")
    assert r.status_code == 404


def test_a_cross_site_form_post_cannot_change_state(client: httpx.Client) -> None:
    _project(client)
    form = {"kind": "fact", "content": "planted"}
    # What a hostile page's <form method=post> sends: urlencoded, with its own Origin ...
    r = client.post(
        "/projects/acme/memories", data=form, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403 and r.json()["error"] == "OriginNotAllowed"
    # ... and even when a browser leaves Origin out, the content type gives it away.
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"):
        r = client.post(
            "/projects/acme/memories",
            content=json.dumps(form),
            headers={"Content-Type": ctype},
        )
        assert r.status_code == 415, ctype
        assert r.json()["error"] == "UnsupportedMediaType"
    assert client.get("/projects/acme/memories").json()["memories"] == []


def test_inspector_mutations_need_a_same_origin_origin(client: httpx.Client, live: Live) -> None:
    _project(client)
    body = {"kind": "fact", "content": "from the page"}
    r = client.post("/projects/acme/memories", json=body, headers=UI)
    assert r.status_code == 403 and r.json()["error"] == "OriginRequired"
    origin = live[0].url
    r = client.post("/projects/acme/memories", json=body, headers={**UI, "Origin": origin})
    assert r.status_code == 201
    assert r.json()["provenance"]["channel"] == "web"


def test_whoami_reports_the_local_admin(client: httpx.Client) -> None:
    me = client.get("/whoami", headers=UI).json()
    assert me["principal"] == "local" and me["grants"] == {"*": "admin"}
    assert me["channel"] == "web"


def test_review_queue_and_resolution_over_http(client: httpx.Client) -> None:
    _project(client)
    first = client.post("/projects/acme/memories", json={"kind": "fact", "content": "Uses uv."})
    dup = client.post("/projects/acme/memories", json={"kind": "fact", "content": "Uses uv!"})
    assert dup.json()["duplicate_of"] == first.json()["id"]
    items = client.get("/projects/acme/review").json()["items"]
    assert [(i["memory"]["id"], i["other"]["id"], i["reason"]) for i in items] == [
        (dup.json()["id"], first.json()["id"], "duplicate")
    ]
    r = client.post(f"/projects/acme/review/{dup.json()['id']}", json={"action": "merge"})
    assert r.status_code == 200 and r.json()["id"] == first.json()["id"]
    assert client.get("/projects/acme/review").json()["items"] == []
    bad = client.post(f"/projects/acme/review/{first.json()['id']}", json={"action": "nuke"})
    assert bad.status_code == 422


def test_export_is_a_json_download(client: httpx.Client) -> None:
    _project(client)
    client.post("/projects/acme/memories", json={"kind": "rule", "content": "No force pushes."})
    r = client.get("/projects/acme/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith('attachment; filename="memsvc-acme-')
    data = r.json()
    assert data["format"] == "memsvc-export/1" and data["project"]["id"] == "acme"
    assert [m["content"] for m in data["memories"]] == ["No force pushes."]
    assert "add_memory" in {e["action"] for e in data["audit"]}


def test_stats_and_pinned_filter(client: httpx.Client) -> None:
    _project(client)
    client.post("/projects/acme/memories", json={"kind": "fact", "content": "a", "pinned": True})
    client.post("/projects/acme/memories", json={"kind": "fact", "content": "b", "tags": ["t"]})
    stats = client.get("/projects/acme/stats").json()
    assert stats["counts"] == {"active": {"fact": 2}}
    assert stats["tags"] == [{"tag": "t", "count": 1}]
    pinned = client.get("/projects/acme/memories", params={"pinned": "true"}).json()["memories"]
    assert [m["content"] for m in pinned] == ["a"]
