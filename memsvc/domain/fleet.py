"""The fleet: review policy, proposals, quarantine, and the fleet dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from memsvc.domain.vocabulary import Channel, CleanText, Kind, Role, _Wire


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
    propose=[ReviewRule(kinds=[Kind.RULE, Kind.DECISION], channels=[Channel.MCP, Channel.IMPORT])]
)
"""Rules and decisions written by agents over MCP, and those imported from other tools'
files (channel ``import``: instruction files, mem0 or MCP-memory exports), wait for review;
humans in the inspector, REST and CLI callers (curators and scripts) write active. An
imported file's rules were written by someone else (a cloned repository's ``AGENTS.md``, an
agent's memory dump) and would be served to every agent as binding, so a curator approves
them first; a policy without ``import`` in its channels trusts imports. Restoring memsvc's
own export is not a write and keeps every status as it was."""


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
    deleted_at: datetime | None = None
    """Set when the quarantined memories were deleted (``delete_quarantined``) instead."""
    deleted_by: str | None = None


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
