"""Crafted input gets a clear 4xx, never a 500: cursors that are valid base64 JSON of the
wrong shape, deeply nested or huge, and datetimes that overflow when converted to UTC."""

from __future__ import annotations

import base64
import json

import httpx
import pytest


def _cursor(value: object) -> str:
    raw = value if isinstance(value, str) else json.dumps(value)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CURSORS = [
    {"before": "x" * 100},
    {"before": 10**30},
    {"before": -1},
    {"before": True},
    {"before": None},
    {"before": [1, 2]},
    {"before": {"a": 1}},
    {"other": 1},
    {"before": 1, "extra": 2},
    [1, 2, 3],
    "12",
    '"string"',
    "[" * 5000 + "]" * 5000,
    {"before": 1.5},
    "{}",
    "x" * 4000,
]


@pytest.mark.parametrize("cursor", CURSORS, ids=range(len(CURSORS)))
def test_a_crafted_cursor_is_a_422(client: httpx.Client, cursor: object) -> None:
    client.post("/projects", json={"id": "acme"})
    for path in ("/projects/acme/audit", "/projects/acme/memories", "/projects/acme/review"):
        r = client.get(path, params={"cursor": _cursor(cursor)})
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert r.json()["error"] == "InvalidInput"


OVERFLOW = "9999-12-31T23:59:59-05:00"


def test_datetimes_that_overflow_in_utc_are_a_422(client: httpx.Client) -> None:
    client.post("/projects", json={"id": "acme"})
    m = client.post("/projects/acme/memories", json={"kind": "fact", "content": "x"}).json()
    attempts = [
        (
            "post",
            "/projects/acme/memories",
            {"kind": "fact", "content": "y", "valid_from": OVERFLOW},
        ),
        (
            "post",
            "/projects/acme/memories",
            {"kind": "fact", "content": "z", "valid_until": OVERFLOW},
        ),
        ("patch", f"/projects/acme/memories/{m['id']}", {"valid_from": OVERFLOW}),
        ("patch", f"/projects/acme/memories/{m['id']}", {"valid_until": OVERFLOW}),
        ("post", "/projects/acme/search", {"query": "x", "as_of": OVERFLOW}),
    ]
    for method, path, body in attempts:
        r = client.request(method, path, json=body)
        assert r.status_code == 422, (path, body, r.status_code, r.text)
    r = client.get("/projects/acme/audit", params={"since": OVERFLOW})
    assert r.status_code == 422, r.text
    assert client.get("/projects/acme/memories").status_code == 200


def test_a_search_that_finds_nothing_relevant_says_so(client: httpx.Client) -> None:
    client.post("/projects", json={"id": "acme"})
    client.post("/projects/acme/memories", json={"kind": "fact", "content": "invoices in cents"})
    r = client.post("/projects/acme/search", json={"query": "kubernetes helm chart values"})
    assert r.status_code == 200 and r.json()["hits"] == []
    assert "min_relevance" in r.json()["hint"]
    everything = client.post(
        "/projects/acme/search", json={"query": "kubernetes helm", "min_relevance": 0}
    )
    assert everything.json()["hint"] is None
