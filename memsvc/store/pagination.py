"""Opaque, tamper-checked paging cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

from memsvc.errors import InvalidInput

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(**fields: Any) -> str:
    """An opaque, URL-safe cursor holding ``fields``."""
    raw = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *keys: str) -> dict[str, Any] | None:
    """The fields of a cursor made by ``encode_cursor`` (None for none); ``InvalidInput`` if
    malformed."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or any(k not in data for k in keys):
            raise ValueError("missing keys")
        return data
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor; pass back next_cursor exactly as returned") from exc
