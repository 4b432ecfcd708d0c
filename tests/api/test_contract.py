"""The REST v1 contract, row by row, over a real HTTP server."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def acme(client: httpx.Client) -> httpx.Client:
    r = client.post("/projects", json={"id": "acme", "name": "Acme", "root_paths": ["/src/acme"]})
    assert r.status_code == 201, r.text
    return client


def add(
    c: httpx.Client, content: str, kind: str = "fact", project: str = "acme", **kw: object
) -> dict:
    r = c.post(f"/projects/{project}/memories", json={"kind": kind, "content": content, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def test_projects_create_list_get(acme: httpx.Client) -> None:
    listed = acme.get("/projects").json()["projects"]
    assert [p["id"] for p in listed] == ["acme"]
    got = acme.get("/projects/acme").json()
    assert got["name"] == "Acme" and got["root_paths"] == ["/src/acme"]
    assert acme.post("/projects", json={"id": "acme"}).status_code == 409


def test_memory_fields_on_create(acme: httpx.Client) -> None:
    m = add(acme, "deploys go through argo", tags=["ops"], pinned=True, importance=0.9)
    for key in (
        "id",
        "project",
        "kind",
        "content",
        "title",
        "tags",
        "status",
        "pinned",
        "importance",
        "version",
        "supersedes",
        "superseded_by",
        "created_at",
        "updated_at",
        "provenance",
    ):
        assert key in m
    assert m["provenance"]["channel"] == "rest" and m["version"] == 1 and m["deduplicated"] is False


def test_duplicate_answers_the_existing_memory(acme: httpx.Client) -> None:
    m = add(acme, "same text")
    r = acme.post("/projects/acme/memories", json={"kind": "fact", "content": "same text"})
    assert r.status_code == 200 and r.json()["id"] == m["id"] and r.json()["deduplicated"] is True


def test_batch_create(acme: httpx.Client) -> None:
    body = {"memories": [{"kind": "fact", "content": f"fact {i}"} for i in range(3)]}
    r = acme.post("/projects/acme/memories:batch", json=body)
    assert r.status_code == 201 and len(r.json()["memories"]) == 3


def test_batch_is_all_or_nothing_over_http(acme: httpx.Client) -> None:
    body = {"memories": [{"kind": "fact", "content": "good"}, {"kind": "nope", "content": "bad"}]}
    assert acme.post("/projects/acme/memories:batch", json=body).status_code == 422
    assert acme.get("/projects/acme/memories").json()["memories"] == []
    too_many = {"memories": [{"kind": "fact", "content": f"f{i}"} for i in range(1001)]}
    r = acme.post("/projects/acme/memories:batch", json=too_many)
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    assert acme.get("/projects/acme/memories").json()["memories"] == []


def test_list_filters_and_paging(acme: httpx.Client) -> None:
    for i in range(5):
        add(acme, f"fact {i}", tags=["even"] if i % 2 == 0 else [])
    add(acme, "a rule", kind="rule")
    page = acme.get("/projects/acme/memories", params={"limit": 2}).json()
    assert len(page["memories"]) == 2 and page["next_cursor"]
    rest = acme.get("/projects/acme/memories", params={"limit": 10, "cursor": page["next_cursor"]})
    assert len(rest.json()["memories"]) == 4 and rest.json()["next_cursor"] is None
    assert len(acme.get("/projects/acme/memories", params={"tag": "even"}).json()["memories"]) == 3
    rules = acme.get("/projects/acme/memories", params={"kind": "rule"}).json()["memories"]
    assert [m["kind"] for m in rules] == ["rule"]


def test_get_patch_delete(acme: httpx.Client) -> None:
    m = add(acme, "prefers black", kind="preference")
    url = f"/projects/acme/memories/{m['id']}"
    assert acme.get(url).json()["content"] == "prefers black"
    patched = acme.patch(url, json={"content": "prefers ruff format", "tags": ["style"]})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    assert acme.patch(url, json={"pinned": True, "expected_version": 1}).status_code == 409
    assert acme.delete(url).status_code == 204
    assert acme.get(url).status_code == 404
    assert acme.delete(url).status_code == 404


def test_supersede_and_history(acme: httpx.Client) -> None:
    old = add(acme, "chose celery", kind="decision")
    r = acme.post(
        f"/projects/acme/memories/{old['id']}/supersede",
        json={"kind": "decision", "content": "chose dramatiq"},
    )
    assert r.status_code == 201 and r.json()["supersedes"] == old["id"]
    assert acme.get(f"/projects/acme/memories/{old['id']}").json()["status"] == "superseded"
    versions = acme.get(f"/projects/acme/memories/{old['id']}/history").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    edit = acme.patch(f"/projects/acme/memories/{r.json()['id']}", json={"content": "x"})
    assert edit.status_code == 409 and "supersede" in edit.json()["detail"]


def test_search_and_context(acme: httpx.Client) -> None:
    add(acme, "never force-push to main", kind="rule")
    target = add(acme, "the scheduler runs on kubernetes cronjobs")
    hits = acme.post("/projects/acme/search", json={"query": "kubernetes scheduler"}).json()["hits"]
    assert hits[0]["memory"]["id"] == target["id"]
    assert {"score", "parts", "provenance_line"} <= set(hits[0])
    ctx = acme.post("/projects/acme/context", json={"task": "scheduler", "budget_tokens": 500})
    body = ctx.json()
    assert {"text", "items", "omitted", "tokens"} <= set(body)
    assert body["tokens"] <= 500 and body["items"][0]["kind"] == "rule"


def test_open_last_project(acme: httpx.Client) -> None:
    acme.post("/projects", json={"id": "older"})
    add(acme, "touch acme last")
    r = acme.post("/open-last-project", json={"budget_tokens": 300})
    assert r.status_code == 200
    assert r.json()["project"]["id"] == "acme" and "text" in r.json()["context"]
    assert acme.post("/open-last-project").status_code == 200


def test_audit_lists_reads_and_writes(acme: httpx.Client) -> None:
    m = add(acme, "audited fact")
    acme.get(f"/projects/acme/memories/{m['id']}")
    events = acme.get("/projects/acme/audit").json()["events"]
    actions = [e["action"] for e in events]
    assert actions[:2] == ["get_memory", "add_memory"]
    page = acme.get("/projects/acme/audit", params={"limit": 1})
    assert len(page.json()["events"]) == 1 and page.json()["next_cursor"]
    mine = acme.get(f"/projects/acme/memories/{m['id']}/audit").json()["events"]
    assert {e["action"] for e in mine} == {"add_memory", "get_memory"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "wish", "content": "x"}, 422),
        ({"kind": "fact"}, 422),
        ({"kind": "fact", "content": ""}, 422),
        ({"kind": "fact", "content": "   \u200b "}, 422),
        ({"kind": "fact", "content": "x" * 40000}, 413),
        ({"kind": "fact", "content": "x", "importance": 7}, 422),
        ({"kind": "fact", "content": "x", "unknown_field": 1}, 422),
        ({"kind": "fact", "content": "x", "tags": ["a\nb"]}, 422),
        (
            {
                "kind": "fact",
                "content": "x",
                "valid_from": "2026-01-02",
                "valid_until": "2026-01-01",
            },
            422,
        ),
        ([1, 2], 422),
    ],
)
def test_bad_input_is_a_typed_4xx_and_stores_nothing(
    acme: httpx.Client, body: object, status: int
) -> None:
    r = acme.post("/projects/acme/memories", json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "detail"} and "Traceback" not in r.text
    assert acme.get("/projects/acme/memories").json()["memories"] == []


def test_malformed_json_and_oversized_requests(acme: httpx.Client) -> None:
    r = acme.post(
        "/projects/acme/memories",
        content=b'{"kind": "fact",',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"] == "InvalidInput"
    big = (
        b'{"memories": ['
        + b",".join([b'{"kind":"fact","content":"' + b"y" * 30000 + b'"}'] * 150)
        + b"]}"
    )
    r = acme.post(
        "/projects/acme/memories:batch", content=big, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    assert acme.get("/projects/acme/memories").json()["memories"] == []


def test_bad_ids_are_404(acme: httpx.Client) -> None:
    for url in (
        "/projects/acme/memories/not-a-ulid",
        "/projects/acme/memories/01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ):
        r = acme.get(url)
        assert r.status_code == 404 and r.json()["error"] == "MemoryNotFound"
    assert acme.get("/projects/NOPE!").status_code == 404
    assert acme.get("/no/such/route").json()["error"] == "NotFound"


def test_every_endpoint_isolates_projects(acme: httpx.Client) -> None:
    acme.post("/projects", json={"id": "other"})
    m = add(acme, "acme only: the launch code is kiwi")
    mid = m["id"]
    calls = [
        ("GET", f"/projects/other/memories/{mid}/audit", None),
        ("GET", f"/projects/other/memories/{mid}", None),
        ("PATCH", f"/projects/other/memories/{mid}", {"pinned": True}),
        ("DELETE", f"/projects/other/memories/{mid}", None),
        ("GET", f"/projects/other/memories/{mid}/history", None),
        ("POST", f"/projects/other/memories/{mid}/supersede", {"kind": "fact", "content": "x"}),
    ]
    for method, url, body in calls:
        r = acme.request(method, url, json=body)
        if url.endswith("/audit"):
            assert r.status_code == 200 and r.json()["events"] == []
        else:
            assert r.status_code == 404, (method, url, r.text)
        assert "kiwi" not in r.text
    assert acme.get("/projects/other/memories").json()["memories"] == []
    hits = acme.post("/projects/other/search", json={"query": "launch code kiwi"}).json()["hits"]
    assert hits == []
    ctx = acme.post("/projects/other/context", json={"task": "launch code"}).json()
    assert "kiwi" not in ctx["text"] and ctx["items"] == []
    for method, url in [
        ("GET", "/projects/ghost/memories"),
        ("POST", "/projects/ghost/search"),
        ("POST", "/projects/ghost/context"),
        ("GET", "/projects/ghost/audit"),
        ("POST", "/projects/ghost/memories"),
    ]:
        body = (
            {"query": "x"}
            if url.endswith("search")
            else {"kind": "fact", "content": "x"}
            if method == "POST" and url.endswith("memories")
            else {}
        )
        r = acme.request(method, url, json=body if method == "POST" else None)
        assert r.status_code == 404 and r.json()["error"] == "ProjectNotFound", (
            method,
            url,
            r.text,
        )


def test_host_and_origin_are_checked(acme: httpx.Client) -> None:
    r = acme.get("/projects", headers={"host": "evil.example"})
    assert r.status_code == 403
    r = acme.post("/projects", json={"id": "x"}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert acme.get("/projects/x").status_code == 404


def test_openapi_documents_every_route(client: httpx.Client) -> None:
    root = str(client.base_url).rstrip("/").removesuffix("/api/v1")
    spec = httpx.get(root + "/openapi.json")
    docs = httpx.get(root + "/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert httpx.get(root + "/docs-assets/swagger-ui-bundle.js").status_code == 200
    paths = spec.json()["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/projects",
        "/api/v1/projects/{project}",
        "/api/v1/projects/{project}/memories",
        "/api/v1/projects/{project}/memories:batch",
        "/api/v1/projects/{project}/memories/{memory_id}",
        "/api/v1/projects/{project}/memories/{memory_id}/supersede",
        "/api/v1/projects/{project}/memories/{memory_id}/history",
        "/api/v1/projects/{project}/search",
        "/api/v1/projects/{project}/context",
        "/api/v1/open-last-project",
        "/api/v1/projects/{project}/audit",
    ):
        assert path in paths, path
