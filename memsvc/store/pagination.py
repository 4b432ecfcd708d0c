"""Opaque, tamper-checked paging cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

from memsvc.errors import InvalidInput

__all__ = ["decode_cursor", "encode_cursor"]


MAX_CURSOR_CHARS = 512
BIGGEST_SEQ = 2**63 - 1


def encode_cursor(**fields: Any) -> str:
    """An opaque cursor holding ``fields`` (plain JSON values)."""
    raw = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _valid(value: Any, kind: type) -> bool:
    if type(value) is not kind:  # exactly: a bool is no int here
        return False
    if isinstance(value, int):
        return 0 <= value <= BIGGEST_SEQ
    return not isinstance(value, str) or len(value) <= 64


def decode_cursor(cursor: str | None, **keys: type) -> dict[str, Any] | None:
    """The fields of a cursor ``encode_cursor`` made, each checked to be of its type
    (``before=int``); anything else — other JSON, another shape, deep nesting, huge
    numbers — is ``InvalidInput``, never a server error."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or set(data) != set(keys):
            raise ValueError("not a cursor")
        for key, kind in keys.items():
            if not _valid(data[key], kind):
                raise ValueError(f"{key} is not a cursor {kind.__name__}")
        return data
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput("invalid cursor; pass back next_cursor exactly as returned") from exc
