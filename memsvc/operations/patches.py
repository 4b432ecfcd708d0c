"""Applying a ``MemoryPatch`` to a memory row: which fields may change, how, and what the
change means for the index."""

from __future__ import annotations

from typing import Any

from memsvc.clock import as_utc, utcnow
from memsvc.domain import Kind, MemoryPatch, Status
from memsvc.errors import InvalidInput, InvalidTransition, VersionConflict
from memsvc.hygiene.drafts import (
    check_provenance,
    check_window,
    content_hash,
    prepare_content,
    prepare_str_list,
    prepare_title,
)
from memsvc.retrieval.tokens import TokenCounter
from memsvc.settings import Limits
from memsvc.store.models import MemoryRow

__all__ = ["apply_patch"]

INDEXED_FIELDS = {"content", "title", "tags", "valid_from"}  # time is indexed too
EDITED_BY_SUPERSEDE = (Kind.RULE.value, Kind.DECISION.value)


def apply_patch(
    row: MemoryRow, patch: MemoryPatch, limits: Limits, tokens: TokenCounter
) -> tuple[str | None, str | None]:
    """Change ``row`` in place; returns (change name, index op), or (None, None) if the
    patch changes nothing."""
    _check_patchable(row, patch)
    if patch.provenance is not None:
        check_provenance(patch.provenance, limits)
    changed = _patch_content(row, patch, limits, tokens)
    changed += _patch_fields(row, patch, limits)
    check_window(row.valid_from, row.valid_until)
    index_op = "upsert" if INDEXED_FIELDS & set(changed) else None
    if patch.status is not None and patch.status != row.status:
        row.status = patch.status
        row.status_changed_at = utcnow()
        return ("archive" if patch.status == "archived" else "restore"), index_op or "meta"
    return ("update" if changed else None), index_op


def _check_patchable(row: MemoryRow, patch: MemoryPatch) -> None:
    if patch.expected_version is not None and patch.expected_version != row.version:
        raise VersionConflict(
            f"memory {row.id} is at version {row.version}, not {patch.expected_version}; "
            "reload it and apply your change again"
        )
    if patch.kind is not None and patch.kind.value != row.kind:
        raise InvalidInput("kind cannot change; supersede the memory with one of the new kind")
    if row.status == Status.QUARANTINED:
        raise InvalidTransition(
            f"memory {row.id} is quarantined; restore its quarantine (or delete it) first"
        )
    if row.status == Status.PROPOSED and patch.status is not None:
        raise InvalidTransition(
            f"memory {row.id} is proposed: it becomes active only when a curator approves it "
            "(approve_memory)"
        )
    if row.status == Status.SUPERSEDED:
        raise InvalidTransition(
            f"memory {row.id} was superseded by {row.superseded_by}; change that one instead"
        )


def _patch_content(
    row: MemoryRow, patch: MemoryPatch, limits: Limits, tokens: TokenCounter
) -> list[str]:
    if patch.content is None:
        return []
    content, redactions = prepare_content(patch.content, limits)
    if content == row.content:
        return []
    if row.kind in EDITED_BY_SUPERSEDE:
        raise InvalidTransition(
            f"a {row.kind}'s text is not edited in place; call supersede_memory so "
            "its history stays queryable"
        )
    row.content, row.redactions = content, redactions
    row.content_hash = content_hash(content)
    row.token_count = tokens.count(content)
    return ["content"]


def _patch_fields(row: MemoryRow, patch: MemoryPatch, limits: Limits) -> list[str]:
    simple: dict[str, Any] = {
        "title": prepare_title(patch.title, limits) if patch.title is not None else None,
        "pinned": patch.pinned,
        "importance": patch.importance,
        "valid_from": as_utc(patch.valid_from),
        "valid_until": as_utc(patch.valid_until),
    }
    if patch.tags is not None:
        simple["tags"] = prepare_str_list(patch.tags, "tags", limits.tags, limits.tag_chars)
    if patch.paths is not None:
        simple["paths"] = prepare_str_list(patch.paths, "paths", limits.paths, limits.path_chars)
    changed = []
    for name, value in simple.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    return changed
