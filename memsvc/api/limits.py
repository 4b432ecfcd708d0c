"""The configured size limits, written into ``/openapi.json``.

The limits are settings (``MEMSVC_LIMIT_*``), so the document is patched from the running
service's :class:`Limits` when it is first built: every limited request field gets the
``maxLength`` / ``maxItems`` / ``minimum`` / ``maximum`` memsvc actually enforces. The
checks themselves stay in the core (``memsvc/hygiene``, ``memsvc/operations``), so an
over-limit request still gets memsvc's own error body: 413 for content and batches, 422
for the rest, both documented on every route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from memsvc.settings import Limits

__all__ = ["BODY_LIMITS", "QUERY_LIMITS", "FieldLimit", "install_limits", "patch_schema"]


@dataclass(frozen=True)
class FieldLimit:
    """One limit in the document: where (``"tags[]"`` is each item of ``tags``), which
    JSON Schema keyword and which :class:`Limits` value (or a fixed number)."""

    where: str
    keyword: str
    limit: str | int

    def value(self, limits: Limits) -> int:
        """The number the document states: the named limit, or the fixed one."""
        return self.limit if isinstance(self.limit, int) else int(getattr(limits, self.limit))


def _draft_fields(*, paths: bool = True) -> list[FieldLimit]:
    out = [
        FieldLimit("content", "maxLength", "content_bytes"),
        FieldLimit("title", "maxLength", "title_chars"),
        FieldLimit("tags", "maxItems", "tags"),
        FieldLimit("tags[]", "maxLength", "tag_chars"),
    ]
    if paths:
        out += [
            FieldLimit("paths", "maxItems", "paths"),
            FieldLimit("paths[]", "maxLength", "path_chars"),
        ]
    return out


def _project_fields() -> list[FieldLimit]:
    return [
        FieldLimit("name", "maxLength", "project_name_chars"),
        FieldLimit("description", "maxLength", "project_description_chars"),
        FieldLimit("root_paths", "maxItems", "paths"),
        FieldLimit("root_paths[]", "maxLength", "path_chars"),
    ]


_BUDGET = [
    FieldLimit("budget_tokens", "minimum", 1),
    FieldLimit("budget_tokens", "maximum", "budget_tokens"),
]

BODY_LIMITS: dict[str, list[FieldLimit]] = {
    "MemoryDraft": _draft_fields(),
    "MemoryPatch": _draft_fields(),
    "ProposalEdit": _draft_fields(paths=False),
    "ProvenanceIn": [
        FieldLimit(name, "maxLength", "provenance_field_chars")
        for name in ("agent", "session", "client", "client_version", "origin")
    ],
    "BatchBody": [FieldLimit("memories", "maxItems", "batch_size")],
    "ProjectCreate": [FieldLimit("id", "maxLength", 64), *_project_fields()],
    "ProjectPatch": _project_fields(),
    "SearchQuery": [
        FieldLimit("query", "maxLength", "query_chars"),
        FieldLimit("limit", "minimum", 1),
        FieldLimit("limit", "maximum", "search_limit"),
    ],
    "ContextRequest": _BUDGET,
    "OpenBody": _BUDGET,
    "OpenByNameBody": _BUDGET,
    "HandoffDraft": [FieldLimit("summary", "maxLength", "content_bytes")],
    "FileImport": [FieldLimit("text", "maxLength", "request_bytes")],
}
"""Request schemas (components) and their limited fields."""

QUERY_LIMITS: dict[tuple[str, str], list[FieldLimit]] = {
    ("get", "/api/v1/projects/{project}/memories"): [
        FieldLimit("limit", "minimum", 1),
        FieldLimit("limit", "maximum", "list_limit"),
    ],
}
"""Query parameters whose bounds are settings (fixed ones are declared on the route)."""


def _target(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a limit applies to: the non-null branch of an optional field."""
    for branch in schema.get("anyOf", ()):
        if branch.get("type") != "null":
            return _target(branch)
    return schema


def _apply(schema: dict[str, Any], limit: FieldLimit, limits: Limits) -> None:
    name = limit.where.removesuffix("[]")
    prop = schema.get("properties", {}).get(name)
    if prop is None:
        raise KeyError(f"no field {name!r} to limit in {schema.get('title')!r}")
    node = _target(prop)
    if limit.where.endswith("[]"):
        node = _target(node["items"])
    node[limit.keyword] = limit.value(limits)


def patch_schema(spec: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """Write ``limits`` into an OpenAPI document (in place); a listed field that is not
    in the document is a programming error and raises."""
    components = spec["components"]["schemas"]
    for component, fields in BODY_LIMITS.items():
        for limit in fields:
            _apply(components[component], limit, limits)
    for (method, path), fields in QUERY_LIMITS.items():
        params = {p["name"]: p for p in spec["paths"][path][method].get("parameters", [])}
        for limit in fields:
            _target(params[limit.where]["schema"])[limit.keyword] = limit.value(limits)
    return spec


def install_limits(app: FastAPI, limits: Limits) -> None:
    """Make ``app.openapi()`` state ``limits``: FastAPI builds (and caches) the document
    once, and it is patched as it is first built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            patch_schema(build(), limits)
        return build()

    app.openapi = openapi  # type: ignore[method-assign]
