"""Invalid Unicode at the doors: the issue's repro (a lone surrogate in provenance.agent)
and its siblings answer 422 naming the field over real HTTP, nothing is stored, and the
project stays readable. The MCP door: tests/mcp_server/test_unicode.py."""

from __future__ import annotations

import httpx
import pytest

SURROGATE = "\\ud83d"  # JSON escape: arrives in Python as a lone surrogate str


def _post(c: httpx.Client, path: str, raw_json: str) -> httpx.Response:
    # a raw body: httpx's own encoder cannot write a lone surrogate
    return c.post(path, content=raw_json.encode(), headers={"content-type": "application/json"})


@pytest.fixture
def project(client: httpx.Client) -> str:
    assert client.post("/projects", json={"id": "p"}).status_code == 201
    return "p"


def test_the_issue_repro_is_a_422_naming_provenance_agent_and_stores_nothing(
    client: httpx.Client, project: str
) -> None:
    body = '{"kind":"fact","content":"x","provenance":{"agent":"bot-%s"}}'.replace("%s", SURROGATE)
    r = _post(client, f"/projects/{project}/memories", body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "InvalidInput"
    assert r.json()["detail"].startswith("provenance.agent:")
    assert "surrogate" in r.json()["detail"]
    listed = client.get(f"/projects/{project}/memories")
    assert listed.status_code == 200 and listed.json()["memories"] == []
    assert client.post(f"/projects/{project}/context", json={}).status_code == 200


BAD_BODIES: list[tuple[str, str, str]] = [
    ("/memories", '{"kind":"fact","content":"a%sb"}', "content"),
    ("/memories", '{"kind":"fact","content":"x","title":"%s"}', "title"),
    ("/memories", '{"kind":"fact","content":"x","tags":["ok","%s"]}', "tags.1"),
    ("/memories", '{"kind":"fact","content":"x","paths":["src/%s"]}', "paths.0"),
    (
        "/memories",
        '{"kind":"fact","content":"x","provenance":{"session":"%s"}}',
        "provenance.session",
    ),
    (
        "/memories",
        '{"kind":"fact","content":"x","provenance":{"origin":"%s"}}',
        "provenance.origin",
    ),
    ("/memories", '{"kind":"fact","content":"nul \\u0000 byte"}', "content"),
    ("/memories", '{"kind":"fact","content":"non-character \\ufffe"}', "content"),
    (
        "/memories:batch",
        '{"memories":[{"kind":"fact","content":"ok"},{"kind":"fact","content":"%s"}]}',
        "memories.1.content",
    ),
    ("/search", '{"query":"find %s"}', "query"),
    ("/search", '{"query":"x","tags":["%s"]}', "tags.0"),
    ("/context", '{"task":"%s"}', "task"),
]


@pytest.mark.parametrize(("route", "template", "field"), BAD_BODIES)
def test_invalid_unicode_in_any_text_field_is_a_422_naming_it(
    client: httpx.Client, project: str, route: str, template: str, field: str
) -> None:
    body = template.replace("%s", SURROGATE)
    r = _post(client, f"/projects/{project}{route}", body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}:")
    assert client.get(f"/projects/{project}/memories").json()["memories"] == []


def test_project_and_memory_updates_refuse_invalid_unicode(
    client: httpx.Client, project: str
) -> None:
    r = _post(client, "/projects", '{"id":"q","description":"d%s"}'.replace("%s", SURROGATE))
    assert r.status_code == 422 and r.json()["detail"].startswith("description:")
    r = client.patch(
        f"/projects/{project}",
        content=('{"root_paths":["/src/%s"]}'.replace("%s", SURROGATE)).encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("root_paths.0:")
    memory = client.post(
        f"/projects/{project}/memories", json={"kind": "fact", "content": "kept"}
    ).json()
    r = client.patch(
        f"/projects/{project}/memories/{memory['id']}",
        content=('{"title":"t%s"}'.replace("%s", SURROGATE)).encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("title:")
    r = _post(
        client,
        f"/projects/{project}/memories/{memory['id']}/supersede",
        '{"kind":"fact","content":"new %s"}'.replace("%s", SURROGATE),
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("content:")
    got = client.get(f"/projects/{project}/memories/{memory['id']}").json()
    assert (got["title"], got["content"], got["version"]) == (None, "kept", 1)


def test_a_handoff_with_invalid_unicode_is_a_422(client: httpx.Client, project: str) -> None:
    r = _post(client, f"/projects/{project}/handoffs", '{"summary":"s%s"}'.replace("%s", SURROGATE))
    assert r.status_code == 422
