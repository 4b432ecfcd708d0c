from __future__ import annotations

import httpx


def test_health_answers_ok(client: httpx.Client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_add_then_search_over_http(client: httpx.Client) -> None:
    assert client.post("/projects", json={"id": "acme"}).status_code == 201
    r = client.post("/projects/acme/memories", json={"kind": "fact", "content": "uses postgres"})
    assert r.status_code == 201, r.text
    hits = client.post("/projects/acme/search", json={"query": "postgres"}).json()["hits"]
    assert [h["memory"]["id"] for h in hits] == [r.json()["id"]]
