"""The vocabulary every layer shares: ids, clean text, kinds, statuses, channels, roles,
outcomes, the caller (``Actor``) and provenance."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from memsvc.hygiene.text import check_text

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
