"""Lean JSON Schemas for tools/list. Pydantic's schemas are written for humans reading a
generated form: a ``title`` on every property and model, and ``anyOf [X, null]`` for every
optional value. Agents pay for each character of tools/list in every session, so the
listed schemas drop what does not change which documents validate (titles; model
docstrings in output schemas, which the tool descriptions already carry) and write
``anyOf [X, null]`` as ``type: [x, "null"]``. Validation is unchanged: the server still
checks results against the pydantic models, and a client's check against the lean schema
accepts exactly the same documents."""

from __future__ import annotations

from typing import Any

__all__ = ["lean_schema", "outline_schema"]

# Keywords that constrain one JSON type only, so a null passes them: ``anyOf [S, null]``
# equals S with "null" added to its type when S holds nothing else.
_TYPED_ONLY = frozenset(
    {
        "type",
        "format",
        "items",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "description",
    }
)
# Keywords whose value is a map of name -> subschema.
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
# Keywords whose value is one subschema (or, for the combinators, a list of them).
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains")
# What an unconstrained subschema admits.
_ANY = ("object", "array", "string", "number", "boolean", "null")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


def lean_schema(schema: dict[str, Any], *, descriptions: bool = True) -> dict[str, Any]:
    """A copy of ``schema`` without titles (and, unless ``descriptions``, descriptions),
    optional values written as type lists; it accepts the same documents as ``schema``."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "description" and not descriptions):
            continue
        if key == "default" and value is None:
            # An omitted optional argument is None already; saying so costs every session.
            continue
        if key == "$defs" and isinstance(value, dict):
            # A model's docstring restates the description of the argument that uses it.
            out[key] = {n: _sub(s, False) for n, s in value.items()}
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {n: _sub(s, descriptions) for n, s in value.items()}
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = lean_schema(value, descriptions=descriptions)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_sub(s, descriptions) for s in value]
        else:
            out[key] = value
    out = _nullable(out)
    # Each pass inlines the definitions the last one freed of references.
    while (inlined := _inline_once(out)) != out:
        out = inlined
    return out


def _refs(node: Any, found: list[str]) -> list[str]:
    """Every local ``$ref`` name under ``node``, with repeats."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.append(ref.removeprefix("#/$defs/"))
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _inline_once(schema: dict[str, Any]) -> dict[str, Any]:
    """Definitions used exactly once, written in place: a ``$defs`` entry and its ``$ref``
    cost more than the definition. Only non-recursive ones whose keywords do not clash with
    the referring schema's, so the result accepts the same documents."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema
    counts: dict[str, int] = {}
    for name in _refs(schema, []):
        counts[name] = counts.get(name, 0) + 1
    once = {n for n, d in defs.items() if counts.get(n) == 1 and not _refs(d, [])}

    def put(node: Any) -> Any:
        if isinstance(node, list):
            return [put(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
        if name in once and not set(defs[name]) & (set(node) - {"$ref"}):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**defs[name], **rest}
        return {k: put(v) for k, v in node.items()}

    out = {k: put(v) for k, v in schema.items() if k != "$defs"}
    kept = {n: put(d) for n, d in defs.items() if n not in once}
    if kept:
        out["$defs"] = kept
    return out


def _sub(schema: Any, descriptions: bool) -> Any:
    return lean_schema(schema, descriptions=descriptions) if isinstance(schema, dict) else schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf [S, {type: null}]`` as S with "null" in its type, where that is the same."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return schema
    (other,) = [o for o in options if o != {"type": "null"}] or [None]
    if (
        not isinstance(other, dict)
        or not isinstance(other.get("type"), str)
        or not set(other) <= _TYPED_ONLY
        or set(other) & (set(schema) - {"anyOf"})
    ):
        return schema
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    merged.update(other, type=[other["type"], "null"])
    return merged


def outline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The top level of an object schema: each field's JSON type(s) and which are required,
    nested objects as plain objects. Every document ``schema`` accepts passes it; the
    server still validates results against the full model, and the text carries the rest."""
    defs = schema.get("$defs", {})
    props = {name: {"type": _types(s, defs)} for name, s in schema.get("properties", {}).items()}
    out: dict[str, Any] = {"type": "object", "properties": props}
    if schema.get("required"):
        out["required"] = schema["required"]
    return out


def _types(schema: dict[str, Any], defs: dict[str, Any]) -> str | list[str]:
    """The JSON type(s) a subschema admits (following $ref and anyOf)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _types(defs.get(ref.removeprefix("#/$defs/"), {}), defs)
    found: list[str] = []
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        sub = _types(option, defs)
        found += [sub] if isinstance(sub, str) else sub
    kind = schema.get("type")
    found += [kind] if isinstance(kind, str) else list(kind or [])
    if not found and "enum" in schema:
        found = sorted({_json_type(v) for v in schema["enum"]})
    unique = list(dict.fromkeys(found)) or list(_ANY)
    return unique[0] if len(unique) == 1 else unique


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"
