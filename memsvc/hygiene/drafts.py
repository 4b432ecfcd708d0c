"""Validation and normalisation of what callers write. Everything is checked before any
storage is touched, so a rejected request stores nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memsvc.clock import as_utc
from memsvc.domain import (
    PROJECT_ID_RE,
    Actor,
    Kind,
    MemoryDraft,
    ProjectCreate,
    Provenance,
    ProvenanceIn,
)
from memsvc.errors import InvalidInput, PayloadTooLarge
from memsvc.hygiene.text import clean_text, normalize, redact_secrets
from memsvc.settings import Limits

__all__ = [
    "PreparedDraft",
    "check_project_id",
    "check_provenance",
    "check_window",
    "content_hash",
    "merge_provenance",
    "prepare_content",
    "prepare_draft",
    "prepare_project",
    "prepare_str_list",
    "prepare_title",
]


@dataclass(frozen=True)
class PreparedDraft:
    """A draft after validation, normalisation and redaction: what the write path stores."""

    kind: Kind
    content: str
    content_hash: str
    redactions: int
    title: str | None
    tags: list[str]
    paths: list[str]
    pinned: bool
    importance: float
    valid_from: datetime | None
    valid_until: datetime | None
    provenance_in: ProvenanceIn | None


def content_hash(content: str) -> str:
    """SHA-256 hex of the normalised content (the exact de-duplication key)."""
    return hashlib.sha256(content.encode()).hexdigest()


def check_project_id(project: str) -> None:
    """Refuse a project id that is not a 1-64 character lowercase slug."""
    if not PROJECT_ID_RE.match(project):
        raise InvalidInput(
            f"invalid project id {project[:80]!r}: use 1-64 lowercase letters, digits and "
            "dashes, starting and ending with a letter or digit (e.g. 'acme-api')"
        )


def prepare_content(content: str, limits: Limits) -> tuple[str, int]:
    """Size-check, normalise and redact content; the clean text and the number of redactions."""
    if len(content.encode()) > limits.content_bytes:
        raise PayloadTooLarge(
            f"content is {len(content.encode())} bytes; the limit is {limits.content_bytes}. "
            "Split it into several memories"
        )
    cleaned, redactions = clean_text(content)
    if not cleaned:
        raise InvalidInput("content is empty; a memory needs some text")
    return cleaned, redactions


def _title(title: str | None, limits: Limits) -> tuple[str | None, int]:
    if title is None:
        return None, 0
    cleaned = normalize(title).replace("\n", " ")
    if len(cleaned) > limits.title_chars:
        raise InvalidInput(f"title is longer than {limits.title_chars} characters")
    cleaned, redactions = redact_secrets(cleaned)
    return cleaned or None, redactions


def prepare_title(title: str | None, limits: Limits) -> str | None:
    """The title normalised to one line, length-checked, secrets redacted."""
    return _title(title, limits)[0]


def _str_list(values: list[str], what: str, most: int, chars: int) -> tuple[list[str], int]:
    if len(values) > most:
        raise InvalidInput(f"at most {most} {what} per memory; got {len(values)}")
    out: dict[str, None] = {}
    redactions = 0
    for value in values:
        cleaned = normalize(value)
        if not cleaned:
            raise InvalidInput(f"{what} must not be empty strings")
        if len(cleaned) > chars or "\n" in cleaned:
            raise InvalidInput(f"each of {what} is one line of at most {chars} characters")
        # a token pasted as a tag or path is as stored as one in the content
        cleaned, n = redact_secrets(cleaned)
        redactions += n
        out.setdefault(cleaned, None)
    return list(out), redactions


def prepare_str_list(values: list[str], what: str, most: int, chars: int) -> list[str]:
    """One-line values (tags, paths, roots) normalised, checked, redacted, deduplicated."""
    return _str_list(values, what, most, chars)[0]


def check_window(start: datetime | None, end: datetime | None) -> None:
    """Refuse a validity window that ends before it starts."""
    start, end = as_utc(start), as_utc(end)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("valid_until must be later than valid_from")


def prepare_draft(draft: MemoryDraft, limits: Limits) -> PreparedDraft:
    """Validate, normalise and redact every field of a draft within ``limits``."""
    content, redactions = prepare_content(draft.content, limits)
    valid_from, valid_until = as_utc(draft.valid_from), as_utc(draft.valid_until)
    check_window(valid_from, valid_until)
    if draft.provenance is not None:
        check_provenance(draft.provenance, limits)
    title, in_title = _title(draft.title, limits)
    tags, in_tags = _str_list(draft.tags, "tags", limits.tags, limits.tag_chars)
    paths, in_paths = _str_list(draft.paths, "paths", limits.paths, limits.path_chars)
    return PreparedDraft(
        kind=draft.kind,
        content=content,
        content_hash=content_hash(content),
        redactions=redactions + in_title + in_tags + in_paths,
        title=title,
        tags=tags,
        paths=paths,
        pinned=draft.pinned,
        importance=draft.importance,
        valid_from=valid_from,
        valid_until=valid_until,
        provenance_in=draft.provenance,
    )


def check_provenance(p: ProvenanceIn, limits: Limits) -> None:
    """Refuse a provenance label longer than the limit."""
    for name, value in p.model_dump().items():
        if isinstance(value, str) and len(value) > limits.provenance_field_chars:
            raise InvalidInput(
                f"provenance.{name} is longer than {limits.provenance_field_chars} characters"
            )


def _label(value: str | None) -> str | None:
    """A caller-given provenance label as kept: normalised, secrets redacted."""
    if value is None:
        return None
    cleaned = redact_secrets(normalize(value).replace("\n", " "))[0]
    return cleaned or None


def merge_provenance(actor: Actor, given: ProvenanceIn | None) -> dict[str, Any]:
    """The caller's claims merged with what the server knows; the server's fields win.
    Every free-text label is normalised and redacted: agents paste tokens anywhere."""
    claims = given or ProvenanceIn()
    merged = Provenance(
        principal=actor.principal,
        channel=actor.channel,
        request_id=_label(actor.request_id),
        client=_label(actor.client or claims.client),
        client_version=_label(actor.client_version or claims.client_version),
        agent=_label(claims.agent or actor.agent),
        session=_label(claims.session or actor.session),
        origin=_label(claims.origin),
        origin_type=claims.origin_type,
    )
    return merged.model_dump(mode="json")


def prepare_project(body: ProjectCreate, limits: Limits) -> ProjectCreate:
    """Validate and normalise a new project's id, name, description and root paths."""
    check_project_id(body.id)
    name = normalize(body.name or body.id).replace("\n", " ")
    if not name or len(name) > limits.project_name_chars:
        raise InvalidInput(f"project name must be 1-{limits.project_name_chars} characters")
    description = normalize(body.description or "")
    if len(description) > limits.project_description_chars:
        raise InvalidInput(
            f"project description must be at most {limits.project_description_chars} characters"
        )
    name, description = redact_secrets(name)[0], redact_secrets(description)[0]
    roots = prepare_str_list(body.root_paths, "root_paths", limits.paths, limits.path_chars)
    for root in roots:
        if not root.startswith("/") and not (len(root) > 2 and root[1] == ":"):
            raise InvalidInput(f"root path {root[:80]!r} must be absolute")
    return ProjectCreate(
        id=body.id,
        name=name,
        description=description,
        root_paths=[r.rstrip("/") or "/" for r in roots],
    )
