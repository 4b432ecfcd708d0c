"""The size limits in ``/openapi.json`` are the configured ones, on every limited field,
and the limit the document states is the one memsvc enforces (with its own error body)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from memsvc import build_service
from memsvc.api import create_app
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.settings import Limits
from tests.conftest import LiveServer, free_port, make_settings

# Distinct values, none a default, so a hard-coded or swapped number cannot pass.
ODD = Limits(
    content_bytes=301,
    title_chars=7,
    tags=3,
    tag_chars=11,
    paths=4,
    path_chars=13,
    provenance_field_chars=17,
    request_bytes=64 * 1024 + 1,
    batch_size=2,
    query_chars=19,
    project_name_chars=23,
    project_description_chars=29,
    search_limit=12,
    list_limit=53,
    budget_tokens=3001,
)

DRAFT = [
    ("content", "maxLength", "content_bytes"),
    ("title", "maxLength", "title_chars"),
    ("tags", "maxItems", "tags"),
    ("tags[]", "maxLength", "tag_chars"),
    ("paths", "maxItems", "paths"),
    ("paths[]", "maxLength", "path_chars"),
]
PROJECT = [
    ("name", "maxLength", "project_name_chars"),
    ("description", "maxLength", "project_description_chars"),
    ("root_paths", "maxItems", "paths"),
    ("root_paths[]", "maxLength", "path_chars"),
]
BUDGET = [("budget_tokens", "minimum", 1), ("budget_tokens", "maximum", "budget_tokens")]
# Every limited request field, written out here (not read from memsvc/api/limits.py) so a
# field that loses its limit fails this test.
EXPECTED: dict[str, list[tuple[str, str, str | int]]] = {
    "MemoryDraft": DRAFT,
    "MemoryPatch": DRAFT,
    "ProposalEdit": DRAFT[:4],
    "ProvenanceIn": [
        (f, "maxLength", "provenance_field_chars")
        for f in ("agent", "session", "client", "client_version", "origin")
    ],
    "BatchBody": [("memories", "maxItems", "batch_size"), ("memories", "minItems", 1)],
    "ProjectCreate": [("id", "maxLength", 64), *PROJECT],
    "ProjectPatch": PROJECT,
    "SearchQuery": [
        ("query", "maxLength", "query_chars"),
        ("limit", "minimum", 1),
        ("limit", "maximum", "search_limit"),
        ("min_relevance", "minimum", 0),
        ("min_relevance", "maximum", 1),
    ],
    "ContextRequest": BUDGET,
    "OpenBody": BUDGET,
    "OpenByNameBody": BUDGET,
    "HandoffDraft": [("summary", "maxLength", "content_bytes")],
    "FileImport": [("text", "maxLength", "request_bytes"), ("source", "maxLength", 500)],
    "RejectBody": [("reason", "maxLength", 500)],
    "QuarantineCreate": [("reason", "maxLength", 500)],
}
DETAILS = "/api/v1/projects/{project}/memories/{memory_id}/details"
QUERY_PARAMS = [
    ("get", "/api/v1/projects/{project}/memories", "limit", "maximum", "list_limit"),
    ("get", "/api/v1/projects/{project}/audit", "limit", "maximum", 1000),
    ("get", "/api/v1/projects/{project}/review", "limit", "maximum", 100),
    ("get", DETAILS, "audit_limit", "maximum", 1000),
    ("delete", "/api/v1/projects/{project}", "confirm", "maxLength", 64),
]
# Request fields with no size limit of their own, and why.
UNLIMITED = {
    # filters: compared with stored values, never stored
    *("SearchQuery.tags", "SearchQuery.tags[]", "SearchQuery.paths", "SearchQuery.paths[]"),
    *("ContextRequest.paths", "ContextRequest.paths[]", "OpenByNameBody.name"),
    *("QuarantineCreate.agent", "QuarantineCreate.principal", "QuarantineCreate.session"),
    # lists of enum values
    *("SearchQuery.kinds", "SearchQuery.status", "ReviewPolicy.propose"),
    *("ReviewRule.kinds", "ReviewRule.channels", "ReviewRule.roles"),
    "ContextRequest.task",  # truncated to query_chars, not refused
    # the handoff as a whole is one memory's content (content_bytes)
    *("HandoffDraft.done", "HandoffDraft.done[]", "HandoffDraft.next", "HandoffDraft.next[]"),
    *("HandoffDraft.open_questions", "HandoffDraft.open_questions[]"),
}


def _value(limit: str | int, limits: Limits) -> int:
    return limit if isinstance(limit, int) else int(getattr(limits, limit))


def _target(schema: dict[str, Any]) -> dict[str, Any]:
    for branch in schema.get("anyOf", ()):
        if branch.get("type") != "null":
            return _target(branch)
    return schema


def _field(spec: dict[str, Any], component: str, where: str) -> dict[str, Any]:
    prop = spec["components"]["schemas"][component]["properties"][where.removesuffix("[]")]
    node = _target(prop)
    return _target(node["items"]) if where.endswith("[]") else node


@pytest.fixture(scope="module")
def odd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    cfg = make_settings(Path(tmp_path_factory.mktemp("limits")) / "data", port=port, limits=ODD)
    with (
        build_service(cfg, embedder=HashEmbedder()) as svc,
        LiveServer(create_app(svc, cfg), port) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def spec(odd_server: LiveServer) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(odd_server.url + "/openapi.json").json()
    return result


@pytest.fixture(scope="module")
def api(odd_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=odd_server.url + "/api/v1", timeout=30) as c:
        assert c.post("/projects", json={"id": "lim"}).status_code == 201
        yield c


def test_every_limited_field_states_the_configured_limit(spec: dict[str, Any]) -> None:
    wrong = []
    for component, fields in EXPECTED.items():
        for where, keyword, limit in fields:
            got = _field(spec, component, where).get(keyword)
            if got != _value(limit, ODD):
                wrong.append(f"{component}.{where} {keyword}={got}, wanted {_value(limit, ODD)}")
    for method, path, name, keyword, limit in QUERY_PARAMS:
        params = {p["name"]: p for p in spec["paths"][path][method]["parameters"]}
        got = _target(params[name]["schema"]).get(keyword)
        if got != _value(limit, ODD):
            wrong.append(f"{method} {path} ?{name} {keyword}={got}, wanted {_value(limit, ODD)}")
    assert wrong == []


def test_every_limit_setting_is_stated_somewhere() -> None:
    stated = {limit for fields in EXPECTED.values() for *_, limit in fields}
    stated |= {limit for *_, limit in QUERY_PARAMS}
    assert set(Limits.model_fields) - stated == set()


def _request_components(spec: dict[str, Any]) -> set[str]:
    """Every schema a request body can reach."""
    found: set[str] = set()
    todo = [
        m.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        for methods in spec["paths"].values()
        for m in methods.values()
    ]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref and ref.rsplit("/", 1)[1] not in found:
                found.add(ref.rsplit("/", 1)[1])
                todo.append(spec["components"]["schemas"][ref.rsplit("/", 1)[1]])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


def test_no_request_text_or_list_is_unbounded_unless_listed(spec: dict[str, Any]) -> None:
    unbounded = []
    for name in sorted(_request_components(spec)):
        for field, prop in spec["components"]["schemas"][name].get("properties", {}).items():
            node = _target(prop)
            if node.get("type") == "array":
                if "maxItems" not in node:
                    unbounded.append(f"{name}.{field}")
                node = _target(node["items"])
                field += "[]"
            if node.get("type") == "string" and not {"enum", "format", "maxLength"} & set(node):
                unbounded.append(f"{name}.{field}")
    assert set(unbounded) - UNLIMITED == set()


def _draft(**extra: Any) -> dict[str, Any]:
    return {"kind": "fact", "content": "limit probe", **extra}


MEM, BATCH, SEARCH = (
    "/projects/lim/memories",
    "/projects/lim/memories:batch",
    "/projects/lim/search",
)


def _bytes(n: int) -> str:
    """Text of exactly ``n`` UTF-8 bytes, mostly two-byte characters."""
    return "é" * (n // 2) + "x" * (n % 2)


def _batch(n: int) -> dict[str, Any]:
    return {"memories": [_draft(content=f"b{i}") for i in range(n)]}


# (limit, method, path, request of size n, status one past it): at the limit the request
# succeeds; one past it memsvc refuses it with its own error body and a documented status.
BOUNDARIES = [
    ("title_chars", "post", MEM, lambda n: _draft(title="t" * n), 422),
    ("content_bytes", "post", MEM, lambda n: _draft(content=_bytes(n)), 413),
    ("tags", "post", MEM, lambda n: _draft(tags=[f"t{i}" for i in range(n)]), 422),
    ("tag_chars", "post", MEM, lambda n: _draft(tags=["t" * n]), 422),
    ("paths", "post", MEM, lambda n: _draft(paths=[f"p{i}" for i in range(n)]), 422),
    ("path_chars", "post", MEM, lambda n: _draft(paths=["p" * n]), 422),
    ("provenance_field_chars", "post", MEM, lambda n: _draft(provenance={"origin": "o" * n}), 422),
    ("batch_size", "post", BATCH, _batch, 413),
    ("query_chars", "post", SEARCH, lambda n: {"query": "q" * n}, 422),
    ("search_limit", "post", SEARCH, lambda n: {"query": "q", "limit": n}, 422),
    ("budget_tokens", "post", "/projects/lim/context", lambda n: {"budget_tokens": n}, 422),
    ("project_name_chars", "post", "/projects", lambda n: {"id": f"p{n}", "name": "n" * n}, 422),
    (
        "project_description_chars",
        "patch",
        "/projects/lim",
        lambda n: {"description": "d" * n},
        422,
    ),
    (
        "paths",
        "patch",
        "/projects/lim",
        lambda n: {"root_paths": [f"/r{i}" for i in range(n)]},
        422,
    ),
]


@pytest.mark.parametrize(("limit", "method", "path", "body", "status"), BOUNDARIES)
def test_the_stated_limit_is_the_enforced_one(
    api: httpx.Client, limit: str, method: str, path: str, body: Any, status: int
) -> None:
    what = f"{method} {path} {limit}"
    n = _value(limit, ODD)
    at = api.request(method, path, json=body(n))
    assert at.status_code < 300, (what, at.text)
    over = api.request(method, path, json=body(n + 1))
    assert over.status_code == status, (what, over.text)
    assert set(over.json()) == {"error", "detail"}
    assert str(n) in over.json()["detail"]


def test_the_list_page_size_is_the_configured_one(api: httpx.Client) -> None:
    assert api.get("/projects/lim/memories", params={"limit": ODD.list_limit}).status_code == 200
    over = api.get("/projects/lim/memories", params={"limit": ODD.list_limit + 1})
    assert over.status_code == 422
    assert over.json()["error"] == "InvalidInput"
