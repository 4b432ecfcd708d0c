"""Prometheus metrics: requests by route template, search stages, audit events, backlog."""

from __future__ import annotations

import httpx


def _value(text: str, prefix: str) -> float:
    lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    assert lines, f"no metric {prefix!r} in\n{text[:2000]}"
    return float(lines[0].rsplit(" ", 1)[1])


def test_metrics_count_requests_by_route_search_stages_and_audit_events(
    client: httpx.Client,
) -> None:
    assert client.post("/projects", json={"id": "acme"}).status_code == 201
    client.post("/projects/acme/memories", json={"kind": "fact", "content": "queue is rabbitmq"})
    for _ in range(3):
        assert client.post("/projects/acme/search", json={"query": "queue"}).status_code == 200
    assert client.get("/projects/nope").status_code == 404
    r = client.get(str(client.base_url).rstrip("/").removesuffix("/api/v1") + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    route = 'memsvc_requests_total{route="/api/v1/projects/{project}/search",status="200"}'
    assert _value(text, route) == 3
    assert _value(text, 'memsvc_requests_total{route="/api/v1/projects/{project}",status="404"}')
    assert _value(text, 'memsvc_search_stage_seconds_count{stage="hydrate"}') == 3
    assert _value(text, 'memsvc_audit_events_total{outcome="ok"}') >= 5
    assert _value(text, "memsvc_index_outbox_pending") == 0
    assert _value(text, "memsvc_cache_rows") == 1
    assert _value(text, "memsvc_cache_bytes") > 0  # one memory's vector at least
    assert "acme" not in text.replace("{project}", "")  # no caller data in metrics


def test_readiness_reports_each_check(client: httpx.Client) -> None:
    r = client.get("/ready")
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True
    assert body["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "index": "ok",
        "model": "ok",
        "startup": "ok",
        "projects_unavailable": {},
    }
