"""The hot read routes (search, context) return pre-serialised JSON: the body must be what
FastAPI's own dump of the route's ``response_model`` gives, byte for byte, and the document
must still describe the model."""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter

from memsvc.api.routes import SearchResult
from memsvc.domain import ContextPack


def _fill(client: httpx.Client) -> None:
    assert client.post("/projects", json={"id": "acme"}).status_code == 201
    for kind, content in [
        ("rule", "Always run the linter before committing"),
        ("fact", "The service uses postgres in production, é ünïcode ✓"),
        ("decision", "We cache embeddings on disk for speed"),
    ]:
        r = client.post("/projects/acme/memories", json={"kind": kind, "content": content})
        assert r.status_code == 201, r.text


def _dumped(model: type, body: bytes) -> bytes:
    """FastAPI's serialisation of the model a body parses to (its response_model path)."""
    adapter = TypeAdapter(model)
    return adapter.dump_json(adapter.validate_json(body), by_alias=True)


def test_search_body_is_the_models_own_dump(client: httpx.Client) -> None:
    _fill(client)
    for body in ({"query": "postgres", "min_relevance": 0}, {"query": "zzz qqq"}):
        r = client.post("/projects/acme/search", json=body)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.content == _dumped(SearchResult, r.content)
    hits = client.post("/projects/acme/search", json={"query": "postgres", "min_relevance": 0})
    assert hits.json()["hits"], "the search found nothing to compare"


def test_context_body_is_the_models_own_dump(client: httpx.Client) -> None:
    _fill(client)
    r = client.post("/projects/acme/context", json={"task": "commit a change"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.content == _dumped(ContextPack, r.content)
    assert r.json()["items"]


def test_document_still_names_the_response_models(client: httpx.Client) -> None:
    spec = client.get(str(client.base_url.join("/openapi.json"))).json()
    for path, name in [
        ("/api/v1/projects/{project}/search", "SearchResult"),
        ("/api/v1/projects/{project}/context", "ContextPack"),
    ]:
        ok = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"].endswith("/" + name)
