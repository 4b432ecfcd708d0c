"""Every text field of every request model refuses invalid Unicode, naming the field; a
new field typed plain ``str`` fails the structural test below."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from memsvc import domain
from memsvc.hygiene.text import check_text

BAD = "bot-\ud83d"

# Filters built by REST routes from query strings (which cannot carry surrogates): a
# validation error there would not reach FastAPI's 422 handler. An Actor's principal and
# grants come from the server's own token table.
EXEMPT = {
    ("Actor", "principal"),
    ("Actor", "grants"),
}

REQUEST_MODELS = [
    m
    for m in vars(domain).values()
    if isinstance(m, type) and issubclass(m, domain._Wire) and m is not domain._Wire
] + [domain.Actor]


def _str_leaves(annotation: Any, checked: bool = False) -> list[bool]:
    """For each ``str`` inside ``annotation``: whether check_text validates it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        has = any(getattr(m, "func", None) is check_text for m in meta)
        return _str_leaves(base, checked or has)
    if annotation is str:
        return [checked]
    if origin in (list, dict, tuple, set, typing.Union, types.UnionType):
        return [x for arg in typing.get_args(annotation) for x in _str_leaves(arg, checked)]
    return []


@pytest.mark.parametrize("model", REQUEST_MODELS, ids=lambda m: m.__name__)
def test_every_text_field_of_every_request_model_is_clean_text(model: type[BaseModel]) -> None:
    hints = typing.get_type_hints(model, include_extras=True)
    unchecked = [
        name
        for name in model.model_fields
        if (model.__name__, name) not in EXEMPT and not all(_str_leaves(hints[name]))
    ]
    assert unchecked == []


def test_the_structural_check_catches_a_plain_str_field() -> None:
    class Careless(domain._Wire):
        note: str | None = None

    assert _str_leaves(typing.get_type_hints(Careless, include_extras=True)["note"]) == [False]


CASES: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (domain.MemoryDraft, {"kind": "fact", "content": BAD}, "content"),
    (domain.MemoryDraft, {"kind": "fact", "content": "x", "title": BAD}, "title"),
    (domain.MemoryDraft, {"kind": "fact", "content": "x", "tags": ["ok", BAD]}, "tags.1"),
    (domain.MemoryDraft, {"kind": "fact", "content": "x", "paths": [BAD]}, "paths.0"),
    (
        domain.MemoryDraft,
        {"kind": "fact", "content": "x", "provenance": {"agent": BAD}},
        "provenance.agent",
    ),
    (
        domain.MemoryDraft,
        {"kind": "fact", "content": "x", "provenance": {"session": BAD}},
        "provenance.session",
    ),
    (
        domain.MemoryDraft,
        {"kind": "fact", "content": "x", "provenance": {"origin": "a\x00"}},
        "provenance.origin",
    ),
    (domain.MemoryPatch, {"content": "\ufffe"}, "content"),
    (domain.MemoryPatch, {"tags": [BAD]}, "tags.0"),
    (domain.ProjectCreate, {"id": "p", "name": BAD}, "name"),
    (domain.ProjectCreate, {"id": "p", "description": BAD}, "description"),
    (domain.ProjectCreate, {"id": "p", "root_paths": ["/src", BAD]}, "root_paths.1"),
    (domain.ProjectPatch, {"description": BAD}, "description"),
    (domain.SearchQuery, {"query": BAD}, "query"),
    (domain.SearchQuery, {"query": "x", "tags": [BAD]}, "tags.0"),
    (domain.ContextRequest, {"task": BAD}, "task"),
    (domain.HandoffDraft, {"summary": BAD}, "summary"),
    (domain.HandoffDraft, {"summary": "s", "next": [BAD]}, "next.0"),
    (domain.HandoffDraft, {"summary": "s", "open_questions": ["\x01"]}, "open_questions.0"),
    (domain.Actor, {"principal": "p", "channel": "mcp", "agent": BAD}, "agent"),
]


@pytest.mark.parametrize(("model", "data", "field"), CASES)
def test_invalid_unicode_is_a_validation_error_naming_the_field(
    model: type[BaseModel], data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    locs = [".".join(str(p) for p in e["loc"]) for e in info.value.errors()]
    assert locs == [field]
    assert "surrogate" in str(info.value) or "U+" in str(info.value)
