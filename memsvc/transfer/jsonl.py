"""memsvc's export format: JSON Lines, one record per line, streamable both ways.

```
{"type": "memsvc-export", "format_version": 1, "exported_at": "…", "memsvc": "0.1.0"}
{"type": "project", "id": "acme", "name": "…", "description": "…", "root_paths": [], …}
{"type": "memory", "id": "01J…", "project_id": "acme", "kind": "rule", "content": "…", …}
{"type": "version", "memory_id": "01J…", "version": 1, "change": "create", "snapshot": {…}}
…
```

A file may hold several projects; each project's record comes before its memories and
their versions. Memory and version records carry every stored column (ids, times,
provenance, supersession links, status), so an import restores them exactly; importing
the same file again adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from memsvc.errors import InvalidInput

__all__ = ["FORMAT", "FORMAT_VERSION", "ProjectBlock", "dump_line", "read_blocks"]

FORMAT = "memsvc-export"
FORMAT_VERSION = 1
MAX_LINE_CHARS = 4 * 1024 * 1024


def dump_line(record: dict[str, Any]) -> str:
    """One record as one line (newline included)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


@dataclass
class ProjectBlock:
    """One project's records from an export."""

    project: dict[str, Any]
    memories: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)


def read_blocks(lines: Iterable[str]) -> Iterator[ProjectBlock]:
    """The projects of an export, one at a time; a malformed file is ``InvalidInput``
    naming the line."""
    block: ProjectBlock | None = None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _parse(line, n)
        kind = record.pop("type", None)
        if n == 1 or kind == FORMAT:
            _check_header(kind, record, n)
            continue
        if kind == "project":
            if block is not None:
                yield block
            block = ProjectBlock(project=record)
        elif kind in ("memory", "version"):
            if block is None:
                raise InvalidInput(f"line {n}: a {kind} record before any project record")
            (block.memories if kind == "memory" else block.versions).append(record)
        else:
            raise InvalidInput(f"line {n}: unknown record type {str(kind)[:40]!r}")
    if block is not None:
        yield block


def _parse(line: str, n: int) -> dict[str, Any]:
    if len(line) > MAX_LINE_CHARS:
        raise InvalidInput(f"line {n} is longer than {MAX_LINE_CHARS} characters")
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise InvalidInput(f"line {n} is not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise InvalidInput(f"line {n} is not a JSON object")
    return record


def _check_header(kind: Any, record: dict[str, Any], n: int) -> None:
    if kind != FORMAT:
        raise InvalidInput(f"line {n}: not a memsvc export (expected a {FORMAT!r} header)")
    version = record.get("format_version")
    if version != FORMAT_VERSION:
        raise InvalidInput(f"line {n}: format_version {version!r} is not supported (1 is)")
