"""Domain types: what the service takes and returns. They are also the wire shapes."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from memsvc.hygiene.text import check_text

__all__ = [
    "DEFAULT_MIN_RELEVANCE",
    "DEFAULT_REVIEW_POLICY",
    "PROJECT_ID_RE",
    "READ_ACTIONS",
    "WRITE_ACTIONS",
    "Actor",
    "AddResult",
    "AuditEvent",
    "AuditPage",
    "AuditQuery",
    "Change",
    "Channel",
    "CleanText",
    "ContextPack",
    "ContextRequest",
    "HandoffDraft",
    "ImportReport",
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
    "ProjectImport",
    "ProjectPatch",
    "ProjectStats",
    "ProposalEdit",
    "Provenance",
    "ProvenanceIn",
    "Quarantine",
    "QuarantineCreate",
    "ReviewAction",
    "ReviewItem",
    "ReviewPage",
    "ReviewPolicy",
    "ReviewRule",
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

CleanText = Annotated[str, AfterValidator(check_text)]
"""Every text field a caller sends: lone surrogates, Unicode non-characters and C0 controls
other than tab and line ends are refused by validation (a 422 naming the field), so such
text never reaches storage, JSON rendering or the audit log. Normalisation and secret
redaction happen later, on the write path (memsvc.hygiene)."""


class Kind(StrEnum):
    """What a memory is."""

    RULE = "rule"
    PREFERENCE = "preference"
    DECISION = "decision"
    FACT = "fact"
    HANDOFF = "handoff"


class Status(StrEnum):
    """A memory's lifecycle state."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    ARCHIVED = "archived"
    DELETED = "deleted"
    PROPOSED = "proposed"
    """Written under a review policy: searchable on request, never served as a rule."""
    QUARANTINED = "quarantined"
    """Hidden because of who wrote it (``quarantine_memories``) until restored."""


class Channel(StrEnum):
    """The door a call came through."""

    REST = "rest"
    MCP = "mcp"
    WEB = "web"
    CLI = "cli"
    IMPORT = "import"


class Role(StrEnum):
    """What a principal may do in a project; each includes the ones before it."""

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
    client: CleanText | None = None
    client_version: CleanText | None = None
    agent: CleanText | None = None
    session: CleanText | None = None
    request_id: CleanText | None = None

    @classmethod
    def local(cls, channel: Channel, **kw: Any) -> Actor:
        """The implicit single user of local mode: admin everywhere."""
        return cls(principal="local", channel=channel, grants={"*": Role.ADMIN}, **kw)

    @property
    def identity(self) -> str:
        """The agent identity this call's activity is kept under: the explicit ``agent``,
        else (over MCP) the client's ``clientInfo`` name; ``""`` when none is known. The
        inspector (channel ``web``) is a human, never an agent."""
        if self.channel is Channel.WEB:
            return ""
        if self.agent:
            return self.agent[:200]
        return (self.client or "")[:200] if self.channel is Channel.MCP else ""

    def role_in(self, project: str) -> Role | None:
        return self.grants.get(project) or self.grants.get("*")

    def allows(self, project: str, needed: Role) -> bool:
        role = self.role_in(project)
        return role is not None and role.rank >= needed.rank


class ProvenanceIn(_Wire):
    """What a caller may say about where a memory came from."""

    agent: CleanText | None = None
    session: CleanText | None = None
    client: CleanText | None = None
    client_version: CleanText | None = None
    origin: CleanText | None = None
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
    """A new project: its id, and optionally a name, description and root paths."""

    id: CleanText
    name: CleanText | None = None
    description: CleanText | None = None
    root_paths: list[CleanText] = Field(default_factory=list)


class ProjectPatch(_Wire):
    name: CleanText | None = None
    description: CleanText | None = None
    root_paths: list[CleanText] | None = None


class Project(BaseModel):
    """A project: the unit of isolation."""

    id: str
    name: str
    description: str
    root_paths: list[str]
    created_at: datetime
    last_active_at: datetime
    counts: dict[str, int] = Field(default_factory=dict)
    """Active memories by kind."""
    archived_at: datetime | None = None
    """Set while archived: the project is read-only and ``open_last_project`` skips it."""


class MemoryDraft(_Wire):
    """A memory as a caller writes it, before validation and redaction."""

    kind: Kind
    content: CleanText
    title: CleanText | None = None
    tags: list[CleanText] = Field(default_factory=list)
    paths: list[CleanText] = Field(default_factory=list)
    pinned: bool = False
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    provenance: ProvenanceIn | None = None


class MemoryPatch(_Wire):
    """Any draft field; content changes are refused for rules and decisions (supersede)."""

    content: CleanText | None = None
    title: CleanText | None = None
    tags: list[CleanText] | None = None
    paths: list[CleanText] | None = None
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
    """A stored memory at its current version."""

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
    """How many secrets were redacted from the content, title, tags and paths before it was
    stored."""


class AddResult(BaseModel):
    """A write's result: the memory and whether it is new."""

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
    summary: str = ""
    """The memory's text in one line (truncated), enough to act on without fetching it."""
    status: str | None = None
    """The memory's status now (``proposed`` changes are not yet rules)."""
    supersedes: str | None = None
    supersedes_summary: str | None = None
    """What the memory replaced, in one line."""


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
    """A recall request: the query text and its filters."""

    query: CleanText
    kinds: list[Kind] | None = None
    tags: list[CleanText] | None = None
    paths: list[CleanText] | None = None
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
    """One search result: the memory and its score."""

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
    """A request for a context pack: the task and a token budget."""

    task: CleanText | None = None
    budget_tokens: int = 2000
    paths: list[CleanText] | None = None
    """Files being worked on: rules scoped to other paths are left out."""


class HandoffDraft(_Wire):
    """A session's closing summary, as REST and MCP take it (validated like every draft)."""

    summary: CleanText
    done: list[CleanText] = Field(default_factory=list)
    next: list[CleanText] = Field(default_factory=list)
    open_questions: list[CleanText] = Field(default_factory=list)


class Omitted(BaseModel):
    id: str
    kind: Kind
    reason: str
    tokens: int
    relevance: float | None = None
    """Set when it was left out for low relevance to the task."""


class ContextPack(BaseModel):
    """Memories packed into a token budget as one delimited text block."""

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
    """What changed in the project since this agent identity was last active in it (other
    principals' and other agents' changes), within the token budget."""
    last_seen_at: datetime | None
    agent: str = ""
    """The agent identity the project was resolved for (``""``: none was given)."""
    since_omitted: int = 0
    """Changes left out of ``since`` to stay within the token budget."""
    workspace_project: str | None = None
    """The project whose root paths hold the caller's workspace, when one does (an agent
    started in a checkout almost always wants that one): offered, not opened."""


class AuditEvent(BaseModel):
    """One audited call and its outcome."""

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


READ_ACTIONS = frozenset(
    {
        "get_memory",
        "list_memories",
        "memory_history",
        "search_memories",
        "get_context",
        "open_project",
        "open_last_project",
        "list_projects",
        "get_project",
        "project_stats",
        "list_review_queue",
        "list_audit_events",
        "export_project",
        "export_audit",
        "list_tokens",
        "whoami",
        "export_memories",
        "fleet_dashboard",
        "get_review_policy",
        "list_quarantines",
    }
)
"""Audit actions that change nothing; ``AuditQuery.hide_reads_from`` leaves them out."""

WRITE_ACTIONS = frozenset(
    {
        "create_project",
        "update_project",
        "add_memory",
        "add_memories",
        "update_memory",
        "supersede_memory",
        "delete_memory",
        "write_handoff",
        "resolve_review",
        "create_token",
        "revoke_token",
        "archive_project",
        "unarchive_project",
        "delete_project",
        "restore_memory",
        "import_memories",
        "set_review_policy",
        "approve_memory",
        "reject_memory",
        "quarantine_memories",
        "restore_quarantine",
        "set_require_tokens",
    }
)
"""Audit actions that change state."""


class AuditQuery(_Wire):
    action: CleanText | None = None
    principal: CleanText | None = None
    memory_id: CleanText | None = None
    channel: Channel | None = None
    client: CleanText | None = None
    """The calling client as recorded (an MCP client name or HTTP User-Agent): per agent."""
    hide_reads_from: list[Channel] | None = None
    """Leave out read actions (``READ_ACTIONS``) made over these channels, e.g. ``web``:
    the inspector's own browsing otherwise buries what agents did."""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: CleanText | None = None


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
    reason: Literal["duplicate", "conflict", "proposed"]
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
    """This token's roles: project id or ``*`` → role (tokens from before per-token grants
    carry their principal's)."""
    created_at: datetime
    revoked_at: datetime | None


class IssuedToken(TokenInfo):
    token: str
    """The bearer token. Stored only as a hash: it cannot be shown again."""


class ProjectImport(BaseModel):
    """What importing one project of an export did."""

    project: str
    created_project: bool
    memories_added: int
    memories_skipped: int
    """Already stored (same id): importing a file twice adds nothing."""
    versions_added: int


class ImportReport(BaseModel):
    """What an import did, project by project."""

    projects: list[ProjectImport]


class ReviewRule(_Wire):
    """Writes matching every given field land ``proposed`` (an omitted field matches all)."""

    kinds: list[Kind]
    channels: list[Channel] | None = None
    roles: list[Role] | None = None
    """The writer's role in the project."""


class ReviewPolicy(_Wire):
    """Which writes need a curator's approval before they are trusted."""

    propose: list[ReviewRule] = Field(default_factory=list)
    show_proposed: bool = True
    """Context packs show proposed memories in their own ``proposed, not reviewed`` section
    (True) or leave them out (False). They are never served as rules either way."""

    def proposes(self, kind: Kind, channel: Channel, role: Role | None) -> bool:
        """Whether a memory of ``kind`` written through ``channel`` at ``role`` is proposed."""
        return any(
            kind in r.kinds
            and (r.channels is None or channel in r.channels)
            and (r.roles is None or (role is not None and role in r.roles))
            for r in self.propose
        )


DEFAULT_REVIEW_POLICY = ReviewPolicy(
    propose=[ReviewRule(kinds=[Kind.RULE, Kind.DECISION], channels=[Channel.MCP])]
)
"""Rules and decisions written by agents over MCP wait for review; humans in the inspector,
REST and CLI callers (curators and scripts) write active."""


class ProposalEdit(_Wire):
    """Edit-then-approve: what a curator changes in a proposed memory as it is approved."""

    content: CleanText | None = None
    title: CleanText | None = None
    tags: list[CleanText] | None = None
    pinned: bool | None = None
    importance: float | None = Field(default=None, ge=0.0, le=1.0)


class QuarantineCreate(_Wire):
    """Hide every memory of the project written by this agent, principal or session."""

    agent: CleanText | None = None
    principal: CleanText | None = None
    session: CleanText | None = None
    since: datetime | None = None
    """Only memories written at or after this time."""
    reason: CleanText = Field(default="", max_length=500)


class Quarantine(BaseModel):
    id: str
    project: str
    field: Literal["agent", "principal", "session"]
    value: str
    since: datetime | None
    reason: str
    created_at: datetime
    created_by: str
    memory_ids: list[str]
    restored_at: datetime | None
    restored_by: str | None


# -- fleet dashboard (additive) -----------------------------------------------------------


class ActivityDay(BaseModel):
    """One UTC day of successful audited calls: ``reads`` change nothing, ``writes`` do."""

    day: str
    reads: int
    writes: int


class DashboardCaller(BaseModel):
    """Activity of one caller as the audit log records it (principal, channel, client):
    events carry no agent name, so this is the closest per-agent series the ledger holds."""

    principal: str
    channel: str
    client: str | None
    last_event_at: datetime
    reads: int
    writes: int
    days: list[ActivityDay]


class DashboardAgent(BaseModel):
    """One agent identity of one principal in a project (``agent_activity``) with the
    memories its provenance names, by status."""

    principal: str
    agent: str
    last_active_at: datetime
    memories: dict[str, int]
    quarantined: bool


class DashboardQuarantine(BaseModel):
    """An unrestored quarantine, as a reader may see it."""

    id: str
    field: str
    value: str
    created_at: datetime
    memories: int


class DashboardProject(BaseModel):
    project: str
    name: str
    archived: bool
    last_active_at: datetime | None
    counts: dict[str, dict[str, int]]
    """``counts[status][kind]``, as ``ProjectStats``."""
    review: int
    """Waiting for review: proposed memories and flagged duplicates or conflicts."""
    proposed: int
    agents: list[DashboardAgent]
    callers: list[DashboardCaller]
    quarantines: list[DashboardQuarantine]
    activity: list[ActivityDay]


class FleetDashboard(BaseModel):
    """Per project the caller may read: last activity, reads and writes per day, memories
    by kind and status, the review backlog, agent identities and quarantines."""

    generated_at: datetime
    days: int
    projects: list[DashboardProject]


__all__ += [
    "ActivityDay",
    "DashboardAgent",
    "DashboardCaller",
    "DashboardProject",
    "DashboardQuarantine",
    "FleetDashboard",
]
