"""Importers: other tools' memories and agents' instruction files as memsvc drafts.

Each importer is a pure function from a file's text to ``MemoryDraft`` objects with
``origin`` set to where each came from; the service stores them through the ordinary write
path (validation, redaction, duplicate checks) with channel ``import``.

- ``mcp-memory``: the official MCP memory server's JSONL knowledge graph (entities with
  observations, relations): each observation and each relation becomes a fact.
- ``mem0``: a mem0 / OpenMemory export (a JSON list, or ``{"results": […]}`` /
  ``{"memories": […]}``): each memory becomes a fact, its categories tags.
- ``basic-memory``: basic-memory's markdown notes (front matter, ``- [category] text #tag``
  observations, ``- relation [[Target]]`` relations).
- ``instructions``: ``CLAUDE.md``, ``AGENTS.md``, ``.cursor/rules/*.mdc``: each bullet
  becomes a rule when it states a constraint (must, never, always, do not, only) and a
  preference otherwise; Cursor rules' ``globs`` become the memories' paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from memsvc.domain import Kind, MemoryDraft, ProvenanceIn
from memsvc.errors import InvalidInput

__all__ = ["FORMATS", "convert", "detect_format"]

MAX_TAG = 64
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?P<text>.+?)\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")
_CONSTRAINT = re.compile(
    r"\b(must|never|always|do not|don't|dont|only|required?|forbidden|mandatory|shall)\b", re.I
)
_OBSERVATION = re.compile(r"^\s*-\s*\[(?P<cat>[^\]]+)\]\s*(?P<text>.+?)\s*$")
_RELATION = re.compile(r"^\s*-\s*(?P<rel>[\w -]+?)\s*\[\[(?P<target>[^\]]+)\]\]")
_HASHTAG = re.compile(r"(?<!\w)#([\w-]+)")
_CATEGORY_KIND = {
    "decision": Kind.DECISION,
    "preference": Kind.PREFERENCE,
    "rule": Kind.RULE,
    "requirement": Kind.RULE,
    "convention": Kind.RULE,
    "constraint": Kind.RULE,
}


def _origin(source: str) -> ProvenanceIn:
    return ProvenanceIn(origin=source[:500], origin_type="file")


def _tag(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text.strip().lower()).strip("-")[:MAX_TAG]


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple ``key: value`` front matter (no YAML library: values stay strings)."""
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        return {}, text
    meta: dict[str, str] = {}
    for line in text[3:end].splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, text[end + 4 :].lstrip("\n")


def _list_value(value: str) -> list[str]:
    value = value.strip().strip("[]")
    return [v.strip().strip("\"'") for v in value.split(",") if v.strip().strip("\"'")]


def from_mcp_memory(text: str, source: str) -> list[MemoryDraft]:
    """The official MCP memory server's ``memory.jsonl``."""
    drafts: list[MemoryDraft] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise InvalidInput(f"{source} line {n} is not JSON") from None
        if not isinstance(item, dict):
            continue
        if item.get("type") == "entity":
            name, etype = str(item.get("name", "")), str(item.get("entityType", ""))
            for obs in item.get("observations") or []:
                drafts.append(
                    MemoryDraft(
                        kind=Kind.FACT,
                        content=f"{name} ({etype}): {obs}" if etype else f"{name}: {obs}",
                        tags=[t for t in (_tag(etype), _tag(name)) if t],
                        provenance=_origin(source),
                    )
                )
        elif item.get("type") == "relation":
            rel = str(item.get("relationType", "")).replace("_", " ")
            content = f"{item.get('from', '')} {rel} {item.get('to', '')}"
            drafts.append(
                MemoryDraft(
                    kind=Kind.FACT, content=content, tags=["relation"], provenance=_origin(source)
                )
            )
    return drafts


def from_mem0(text: str, source: str) -> list[MemoryDraft]:
    """A mem0 / OpenMemory JSON export."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{source} is not JSON") from None
    if isinstance(data, dict):
        data = data.get("results") or data.get("memories") or []
    if not isinstance(data, list):
        raise InvalidInput(f"{source}: expected a list of memories")
    drafts = []
    for item in data:
        if not isinstance(item, dict) or item.get("state") in ("deleted", "archived"):
            continue
        content = item.get("memory") or item.get("content") or item.get("text")
        if not content:
            continue
        categories = item.get("categories") or (item.get("metadata") or {}).get("categories")
        agent = item.get("app_name") or item.get("agent_id")
        drafts.append(
            MemoryDraft(
                kind=Kind.FACT,
                content=str(content),
                tags=[t for t in (_tag(str(c)) for c in categories or []) if t][:20],
                valid_from=item.get("created_at"),
                provenance=ProvenanceIn(
                    origin=f"{source}#{item.get('id', '')}"[:500],
                    origin_type="file",
                    agent=str(agent)[:200] if agent else None,
                ),
            )
        )
    return drafts


def from_basic_memory(text: str, source: str) -> list[MemoryDraft]:
    """One basic-memory markdown note."""
    meta, body = _front_matter(text)
    title = meta.get("title") or PurePath(source).stem
    tags = [t for t in (_tag(v) for v in _list_value(meta.get("tags", ""))) if t]
    drafts = []
    for line in body.splitlines():
        obs = _OBSERVATION.match(line)
        if obs:
            kind = _CATEGORY_KIND.get(obs["cat"].strip().lower(), Kind.FACT)
            words = obs["text"]
            hashtags = [_tag(t) for t in _HASHTAG.findall(words)]
            content = _HASHTAG.sub("", words).strip()
            drafts.append(
                MemoryDraft(
                    kind=kind,
                    content=content,
                    title=title[:200],
                    tags=list(dict.fromkeys([*tags, _tag(obs["cat"]), *hashtags]))[:20],
                    provenance=_origin(source),
                )
            )
            continue
        rel = _RELATION.match(line)
        if rel:
            drafts.append(
                MemoryDraft(
                    kind=Kind.FACT,
                    content=f"{title} {rel['rel'].strip().replace('_', ' ')} {rel['target']}",
                    title=title[:200],
                    tags=[*tags, "relation"][:20],
                    provenance=_origin(source),
                )
            )
    if not drafts and body.strip():
        drafts.append(
            MemoryDraft(
                kind=Kind.FACT,
                content=body.strip(),
                title=title[:200],
                tags=tags[:20],
                provenance=_origin(source),
            )
        )
    return drafts


def from_instructions(text: str, source: str) -> list[MemoryDraft]:
    """An agent instruction file: CLAUDE.md, AGENTS.md or a Cursor rule (.mdc)."""
    meta, body = _front_matter(text)
    paths = _list_value(meta.get("globs", ""))
    drafts = []
    section: list[str] = []
    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading:
            depth = len(heading["hashes"])
            section = [*section[: depth - 1], heading["title"]]
            continue
        bullet = _BULLET.match(line)
        if not bullet:
            continue
        content = bullet["text"]
        kind = Kind.RULE if _CONSTRAINT.search(content) else Kind.PREFERENCE
        drafts.append(
            MemoryDraft(
                kind=kind,
                content=content,
                title=" / ".join(section)[:200] or None,
                tags=[t for t in (_tag(s) for s in section[-1:]) if t],
                paths=paths[:20],
                provenance=_origin(source),
            )
        )
    return drafts


Importer = Callable[[str, str], list[MemoryDraft]]
FORMATS: dict[str, Importer] = {
    "mcp-memory": from_mcp_memory,
    "mem0": from_mem0,
    "basic-memory": from_basic_memory,
    "instructions": from_instructions,
}


def detect_format(source: str, text: str) -> str:
    """The format of a file by its name and first bytes: ``memsvc`` for memsvc's own."""
    name = PurePath(source).name.lower()
    head = text.lstrip()[:400]
    if name in ("claude.md", "agents.md", "agent.md", ".cursorrules") or name.endswith(".mdc"):
        return "instructions"
    first = head.splitlines()[0] if head else ""
    if '"memsvc-export"' in first:
        return "memsvc"
    if first.startswith("{") and ('"entity"' in first or '"relation"' in first):
        return "mcp-memory"
    if head.startswith(("[", "{")):
        return "mem0"
    if name.endswith(".md"):
        return "basic-memory"
    raise InvalidInput(f"cannot tell the format of {source}; pass --format")


def convert(fmt: str, text: str, source: str) -> list[MemoryDraft]:
    """Drafts from ``text`` in format ``fmt`` (one of ``FORMATS``)."""
    try:
        importer = FORMATS[fmt]
    except KeyError:
        raise InvalidInput(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}") from None
    return importer(text, source)
