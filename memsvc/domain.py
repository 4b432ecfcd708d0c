"""Domain types: what the service takes and returns. They are also the wire shapes."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_MIN_RELEVANCE",
    "PROJECT_ID_RE",
    "Actor",
    "AddResult",
    "AuditEvent",
    "AuditPage",
    "AuditQuery",
    "Change",
    "Channel",
    "ContextPack",
    "ContextRequest",
    "IssuedToken",
    "Kind",
    "Memory",
    "MemoryDraft",
    "MemoryPage",
    "MemoryPatch",
    "MemoryVersion",
    "Omitted",
    "OpenedProject",
    "Outcome",
    "Project",
    "ProjectCreate",
    "ProjectExport",
    "ProjectPatch",
    "ProjectStats",
    "Provenance",
    "ProvenanceIn",
    "ReviewAction",
    "ReviewItem",
    "ReviewPage",
    "Role",
    "SearchHit",
    "SearchQuery",
    "Status",
    "TagCount",
    "TokenInfo",
    "WhoAmI",
]

PROJECT_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MEMORY_ID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class Kind(StrEnum):
    RULE = "rule"
    PREFERENCE = "preference"
    DECISION = "decision"
    FACT = "fact"
    HANDOFF = "handoff"


class Status(StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    ARCHIVED = "archived"
    DELETED = "deleted"


class Channel(StrEnum):
    REST = "rest"
    MCP = "mcp"
    WEB = "web"
    CLI = "cli"
    IMPORT = "import"


class Role(StrEnum):
    READER = "reader"
    WRITER = "writer"
    CURATOR = "curator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]


_ROLE_RANK = {Role.READER: 1, Role.WRITER: 2, Role.CURATOR: 3, Role.ADMIN: 4}


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Actor(BaseModel):
    """Who is calling, through which door. Built by a transport, never by the caller's body.

    ``grants`` maps a project id (or ``"*"`` for every project) to a role.
    """

    model_config = ConfigDict(frozen=True)

    principal: str
    channel: Channel
    grants: dict[str, Role] = Field(default_factory=dict)
    client: str | None = None
    client_version: str | None = None
    agent: str | None = None
    session: str | None = None
    request_id: str | None = None

    @classmethod
    def local(cls, channel: Channel, **kw: Any) -> Actor:
        """The implicit single user of local mode: admin everywhere."""
        return cls(principal="local", channel=channel, grants={"*": Role.ADMIN}, **kw)

    def role_in(self, project: str) -> Role | None:
        return self.grants.get(project) or self.grants.get("*")

    def allows(self, project: str, needed: Role) -> bool:
        role = self.role_in(project)
        return role is not None and role.rank >= needed.rank


class ProvenanceIn(_Wire):
    """What a caller may say about where a memory came from."""

    agent: str | None = None
    session: str | None = None
    client: str | None = None
    client_version: str | None = None
    origin: str | None = None
    """Where the knowledge came from: a file path, commit, URL or conversation id."""
    origin_type: Literal["file", "commit", "url", "conversation", "other"] | None = None


class Provenance(BaseModel):
    """Who wrote a memory and how. ``principal`` and ``channel`` come from the server."""

    principal: str
    channel: Channel
    agent: str | None = None
    session: str | None = None
    client: str | None = None
    client_version: str | None = None
    origin: str | None = None
    origin_type: str | None = None
    request_id: str | None = None

    def line(self, when: datetime | None = None) -> str:
        """A compact one-line form: ``alice via mcp (claude-code 1.2, agent x) 2026-11-20``."""
        who = self.principal
        extras = [p for p in (self.client, self.client_version) if p]
        detail = " ".join(extras)
        if self.agent:
            detail = f"{detail}, agent {self.agent}" if detail else f"agent {self.agent}"
        out = f"{who} via {self.channel.value}"
        if detail:
            out += f" ({detail})"
        if when is not None:
            out += f" {when:%Y-%m-%d %H:%M}Z"
        if self.origin:
            out += f" from {self.origin}"
        return out


class ProjectCreate(_Wire):
    id: str
    name: str | None = None
    description: str | None = None
    root_paths: list[str] = Field(default_factory=list)


class ProjectPatch(_Wire):
    name: str | None = None
    description: str | None = None
    root_paths: list[str] | None = None


class Project(BaseModel):
    id: str
    name: str
    description: str
    root_paths: list[str]
    created_at: datetime
    last_active_at: datetime
    counts: dict[str, int] = Field(default_factory=dict)
    """Active memories by kind."""


class MemoryDraft(_Wire):
    kind: Kind
    content: str
    title: str | None = None
    tags: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    pinned: bool = False
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    provenance: ProvenanceIn | None = None


class MemoryPatch(_Wire):
    """Any draft field; content changes are refused for rules and decisions (supersede)."""

    content: str | None = None
    title: str | None = None
    tags: list[str] | None = None
    paths: list[str] | None = None
    pinned: bool | None = None
    importance: float | None = Field(default=None, ge=0.0, le=1.0)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: Literal["active", "archived"] | None = None
    kind: Kind | None = None
    provenance: ProvenanceIn | None = None
    expected_version: int | None = None
    """Optimistic concurrency: refuse with 409 unless the memory is at this version."""


class Memory(BaseModel):
    id: str
    project: str
    kind: Kind
    content: str
    title: str | None
    tags: list[str]
    paths: list[str]
    status: Status
    pinned: bool
    importance: float
    version: int
    supersedes: str | None
    superseded_by: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime
    updated_at: datetime
    provenance: Provenance
    content_hash: str
    token_count: int
    embedding_model: str
    duplicate_of: str | None = None
    """Set when the memory was a near-duplicate of this one at write time (review queue)."""
    conflicts_with: str | None = None
    """Set when a new rule or decision was close to (not a duplicate of) this active one of
    the same kind at write time: a possible contradiction for a curator to review."""
    redactions: int = 0
    """How many secrets were redacted from the content before it was stored."""


class AddResult(BaseModel):
    memory: Memory
    created: bool
    """False when an identical active memory existed; ``memory`` is that one."""


class Change(BaseModel):
    """One entry of "since you were last here"."""

    memory_id: str
    kind: Kind
    title: str | None
    change: str
    version: int
    at: datetime
    by: str


class MemoryVersion(BaseModel):
    version: int
    change: str
    changed_at: datetime
    changed_by: Provenance
    memory: Memory


class MemoryPage(BaseModel):
    memories: list[Memory]
    next_cursor: str | None


DEFAULT_MIN_RELEVANCE = 0.5
"""The relevance a hit needs by default: more likely relevant than not (``relevance``
estimates that probability). Agents pay for every token they read, so a weaker hit is
left out; pass ``min_relevance=0`` to see everything ranked."""


class SearchQuery(_Wire):
    query: str
    kinds: list[Kind] | None = None
    tags: list[str] | None = None
    paths: list[str] | None = None
    status: list[Status] | None = None
    """Default: active only."""
    as_of: datetime | None = None
    """Search the project as it was then; relative times in ``query`` are read from it."""
    limit: int = 10
    min_relevance: float = Field(default=DEFAULT_MIN_RELEVANCE, ge=0.0, le=1.0)
    """Leave out hits whose ``relevance`` is below this (0 keeps every ranked hit)."""

    def empty_hint(self) -> str:
        """What a door tells the caller when this query found nothing: an empty list
        means no memory is relevant enough, which is an answer, not an error."""
        return (
            f"No memory in this project is relevant to this query (min_relevance "
            f"{self.min_relevance:g}). Nothing about it has been stored here: go ahead "
            "without recalled memory, rephrase with the project's own words, or repeat "
            "the search with min_relevance=0 to see the weak matches."
        )


class SearchHit(BaseModel):
    memory: Memory
    score: float
    """The ranking score: orders the hits of one query, not comparable across queries."""
    parts: dict[str, float | int | None]
    """Why it ranked: dense/lexical ranks and scores, fusion, kind/pin/importance/recency,
    and the absolute ``cosine`` and ``coverage`` that ``relevance`` is computed from."""
    relevance: float = 0.0
    """Estimated probability (0..1) that the memory is relevant to the query: comparable
    across queries and projects (see ``memsvc/retrieval/relevance.py``)."""
    provenance_line: str


class ContextRequest(_Wire):
    task: str | None = None
    budget_tokens: int = 2000
    paths: list[str] | None = None
    """Files being worked on: rules scoped to other paths are left out."""


class Omitted(BaseModel):
    id: str
    kind: Kind
    reason: str
    tokens: int
    relevance: float | None = None
    """Set when it was left out for low relevance to the task."""


class ContextPack(BaseModel):
    project: str
    text: str
    items: list[Memory]
    omitted: list[Omitted]
    tokens: int
    budget_tokens: int
    min_relevance: float | None = None
    """The relevance task-matched memories needed (None: no task, nothing was ranked)."""


class OpenedProject(BaseModel):
    project: Project
    context: ContextPack
    since: list[Change]
    """What changed in the project since the caller was last active in it."""
    last_seen_at: datetime | None


class AuditEvent(BaseModel):
    seq: int
    project: str | None
    ts: datetime
    principal: str
    channel: Channel
    client: str | None
    action: str
    target_ids: list[str]
    returned_ids: list[str]
    outcome: Outcome
    request_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditQuery(_Wire):
    action: str | None = None
    principal: str | None = None
    memory_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: str | None = None


class AuditPage(BaseModel):
    events: list[AuditEvent]
    next_cursor: str | None


class WhoAmI(BaseModel):
    """The calling principal as the server sees it (the inspector hides what it cannot do)."""

    principal: str
    channel: Channel
    grants: dict[str, Role]
    client: str | None = None


class TagCount(BaseModel):
    tag: str
    count: int


class ProjectStats(BaseModel):
    """Memory counts for filters: ``counts[status][kind]``, tags in use, review backlog."""

    project: str
    counts: dict[str, dict[str, int]]
    tags: list[TagCount]
    review: int


class ReviewAction(StrEnum):
    KEEP = "keep"
    """Both stay; the flag is cleared."""
    MERGE = "merge"
    """Tags, paths, pin and importance fold into the other memory; the flagged one is deleted."""
    SUPERSEDE = "supersede"
    """The flagged memory replaces the other, which becomes ``superseded``."""
    DELETE = "delete"
    """The flagged memory is deleted; the other stays."""


class ReviewItem(BaseModel):
    """A memory flagged at write time, next to the memory it was flagged against."""

    memory: Memory
    other: Memory | None
    """None when the other memory has since been deleted."""
    reason: Literal["duplicate", "conflict"]
    similarity: float | None


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    next_cursor: str | None


class ProjectExport(BaseModel):
    """A project's memories (every status but deleted) and its whole audit chain."""

    format: str = "memsvc-export/1"
    exported_at: datetime
    project: Project
    memories: list[Memory]
    audit: list[AuditEvent]


class TokenInfo(BaseModel):
    """An access token as listed: never the token itself, which is shown once."""

    token_id: str
    principal: str
    grants: dict[str, Role]
    """The principal's roles (shared by all its tokens): project id or ``*`` → role."""
    created_at: datetime
    revoked_at: datetime | None


class IssuedToken(TokenInfo):
    token: str
    """The bearer token. Stored only as a hash: it cannot be shown again."""
