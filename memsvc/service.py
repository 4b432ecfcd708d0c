"""MemoryService: the only object the doors (REST, MCP, CLI, inspector) touch.

A thin facade. Each method names who may call it and what it audits, and hands the work
to one collaborator in ``memsvc/operations/`` (wired in ``memsvc.bootstrap``). Every
method that touches a project takes the caller (an ``Actor``) and the project explicitly,
checks the caller's role on it, and leaves exactly one audit event, whether it succeeds,
is denied or fails (``memsvc.operations.calls``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memsvc.domain import (
    Actor,
    AddResult,
    AuditPage,
    AuditQuery,
    Channel,
    ContextPack,
    ContextRequest,
    FleetDashboard,
    ImportReport,
    IssuedToken,
    Kind,
    Memory,
    MemoryDraft,
    MemoryPage,
    MemoryPatch,
    MemoryVersion,
    OpenedProject,
    Project,
    ProjectCreate,
    ProjectExport,
    ProjectPatch,
    ProjectStats,
    ProposalEdit,
    Quarantine,
    QuarantineCreate,
    ReviewAction,
    ReviewPage,
    ReviewPolicy,
    SearchHit,
    SearchQuery,
    Status,
    TokenInfo,
    WhoAmI,
)
from memsvc.errors import PermissionDenied
from memsvc.operations.writes import handoff_draft
from memsvc.settings import Settings
from memsvc.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from memsvc.audit.export import AuditBundle
    from memsvc.audit.verifier import Finding
    from memsvc.operations.access import Access
    from memsvc.operations.audit import AuditReads
    from memsvc.operations.curation import Curation
    from memsvc.operations.dashboard import Dashboard
    from memsvc.operations.fleet import Fleet
    from memsvc.operations.lifecycle import Lifecycle
    from memsvc.operations.maintenance import Maintenance
    from memsvc.operations.projects import Projects
    from memsvc.operations.recall import Recall
    from memsvc.operations.transfer import Transfer
    from memsvc.operations.writes import Writes
    from memsvc.retrieval.indexing import ReconcileReport

__all__ = ["Collaborators", "MemoryService"]


@dataclass(frozen=True)
class Collaborators:
    """The plain objects that do the service's work, one per concern."""

    projects: Projects
    writes: Writes
    recall: Recall
    curation: Curation
    audit: AuditReads
    access: Access
    maintenance: Maintenance
    transfer: Transfer
    lifecycle: Lifecycle
    fleet: Fleet
    dashboard: Dashboard


class MemoryService:
    """Projects, memories, recall, curation, audit and access, behind one object.

    Roles: reader < writer < curator < admin, per project (``*`` for all). Build one with
    ``memsvc.build_service(settings)``.
    """

    def __init__(self, settings: Settings, parts: Collaborators, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        """This service's Prometheus metrics (the doors count requests and tool calls)."""
        self._p = parts

    # -- projects ---------------------------------------------------------------------

    def create_project(self, actor: Actor, body: ProjectCreate) -> Project:
        """Create an empty project. Admin of that id (or ``*``). Audits ``create_project``."""
        return self._p.projects.create(actor, body)

    def update_project(self, actor: Actor, project: str, patch: ProjectPatch) -> Project:
        """Change name, description or root paths. Admin. Audits ``update_project``."""
        return self._p.projects.update(actor, project, patch)

    def list_projects(self, actor: Actor) -> list[Project]:
        """The projects the caller may read, most recently active first. Audits
        ``list_projects`` with the ids listed."""
        return self._p.projects.readable(actor)

    def get_project(self, actor: Actor, project: str) -> Project:
        """A project with its counts of active memories. Reader. Audits ``get_project``."""
        return self._p.projects.get(actor, project)

    def resolve_project_by_paths(self, actor: Actor, paths: list[str]) -> str | None:
        """The readable project whose root path holds one of ``paths`` (longest root
        wins), or None. Used by MCP to place a call from the client's workspace roots;
        not audited (the call it places is)."""
        return self._p.projects.resolve_by_paths(actor, paths)

    def open_project(self, actor: Actor, name: str, budget_tokens: int = 2000) -> OpenedProject:
        """A project by id or (fuzzy) name with its context pack and what changed since the
        caller was last there. Reader. Audits ``open_project`` with the ids packed."""
        return self._p.projects.open(actor, name, budget_tokens)

    def open_last_project(
        self, actor: Actor, budget_tokens: int = 2000, workspace: list[str] | None = None
    ) -> OpenedProject:
        """``open_project`` on the project this agent identity last worked in (writes,
        handoffs, context loads; never the inspector's browsing), naming the project its
        ``workspace`` paths match, if any. Reader. Audits ``open_last_project``."""
        return self._p.projects.open_last(actor, budget_tokens, workspace)

    def archive_project(self, actor: Actor, project: str, archived: bool = True) -> Project:
        """Archive a project (read-only, skipped by ``open_last_project``) or, with
        ``archived=False``, unarchive it. Admin. Audits ``archive_project`` /
        ``unarchive_project``."""
        return self._p.lifecycle.set_archived(actor, project, archived)

    def delete_project(self, actor: Actor, project: str, confirm: str) -> None:
        """Purge a project's memories, versions and index for good; ``confirm`` repeats its
        id. The audit chain stays verifiable. Admin. Audits ``delete_project``."""
        self._p.lifecycle.delete_project(actor, project, confirm)

    # -- reading ----------------------------------------------------------------------

    def get_memory(self, actor: Actor, project: str, memory_id: str) -> Memory:
        """One memory by id. Reader. Audits ``get_memory``."""
        return self._p.recall.get(actor, project, memory_id)

    def list_memories(
        self,
        actor: Actor,
        project: str,
        *,
        kinds: list[Kind] | None = None,
        statuses: list[Status] | None = None,
        tag: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        pinned: bool | None = None,
    ) -> MemoryPage:
        """A page of memories (active by default), newest first. Reader. Audits
        ``list_memories`` with the ids returned."""
        return self._p.recall.page(
            actor,
            project,
            kinds=kinds,
            statuses=statuses,
            tag=tag,
            limit=limit,
            cursor=cursor,
            pinned=pinned,
        )

    def memory_history(self, actor: Actor, project: str, memory_id: str) -> list[MemoryVersion]:
        """Every version of a memory. Reader. Audits ``memory_history``."""
        return self._p.recall.history(actor, project, memory_id)

    def search_memories(self, actor: Actor, project: str, query: SearchQuery) -> list[SearchHit]:
        """Hybrid search with score parts. Reader. Audits ``search_memories`` with the
        query (hashed when configured) and the ids returned."""
        return self._p.recall.search(actor, project, query)

    def get_context(self, actor: Actor, project: str, request: ContextRequest) -> ContextPack:
        """Rules, the newest handoff and the memories relevant to the task, within the
        token budget. Reader. Audits ``get_context`` with the ids packed."""
        return self._p.recall.pack(actor, project, request)

    # -- writing ----------------------------------------------------------------------

    def add_memory(self, actor: Actor, project: str, draft: MemoryDraft) -> AddResult:
        """Store one memory (an exact duplicate returns the existing one). Writer. Audits
        ``add_memory`` in the write's own transaction."""
        return self._p.writes.add(actor, project, [draft], "add_memory")[0]

    def add_memories(
        self, actor: Actor, project: str, drafts: list[MemoryDraft]
    ) -> list[AddResult]:
        """Store a batch, all or nothing: one invalid draft stores nothing. Writer. Audits
        ``add_memories``."""
        return self._p.writes.add(actor, project, drafts, "add_memories")

    def update_memory(
        self, actor: Actor, project: str, memory_id: str, patch: MemoryPatch
    ) -> Memory:
        """Patch a memory as a new version. Writer (curator for another's). Audits
        ``update_memory``."""
        return self._p.writes.update(actor, project, memory_id, patch)

    def supersede_memory(
        self, actor: Actor, project: str, memory_id: str, draft: MemoryDraft
    ) -> Memory:
        """Replace an active memory by a new one, linked both ways. Writer (curator for
        another's). Audits ``supersede_memory``."""
        return self._p.writes.supersede(actor, project, memory_id, draft)

    def delete_memory(self, actor: Actor, project: str, memory_id: str) -> None:
        """Tombstone a memory (history stays). Writer (curator for another's). Audits
        ``delete_memory``."""
        self._p.writes.delete(actor, project, memory_id)

    def restore_memory(self, actor: Actor, project: str, memory_id: str) -> Memory:
        """Bring a deleted memory back as active. Writer (curator for another's). Audits
        ``restore_memory``."""
        return self._p.lifecycle.restore_memory(actor, project, memory_id)

    def write_handoff(
        self,
        actor: Actor,
        project: str,
        summary: str,
        done: list[str] | None = None,
        next_steps: list[str] | None = None,
        open_questions: list[str] | None = None,
    ) -> AddResult:
        """Store a session's closing summary; the newest leads every context pack.
        Writer. Audits ``write_handoff``."""
        draft = handoff_draft(summary, done, next_steps, open_questions)
        return self._p.writes.add(actor, project, [draft], "write_handoff")[0]

    # -- curation ---------------------------------------------------------------------

    def whoami(self, actor: Actor) -> WhoAmI:
        """The caller's principal and grants. Anyone. Audits ``whoami``."""
        return self._p.curation.whoami(actor)

    def project_stats(self, actor: Actor, project: str) -> ProjectStats:
        """Counts by kind and status, top tags, review backlog. Reader. Audits
        ``project_stats``."""
        return self._p.curation.stats(actor, project)

    def list_review_queue(
        self, actor: Actor, project: str, *, limit: int = 20, cursor: str | None = None
    ) -> ReviewPage:
        """Possible duplicates and conflicts waiting for a curator. Reader. Audits
        ``list_review_queue``."""
        return self._p.curation.review_queue(actor, project, limit=limit, cursor=cursor)

    def resolve_review(
        self, actor: Actor, project: str, memory_id: str, action: ReviewAction
    ) -> Memory:
        """Keep, merge, supersede or delete a flagged memory. Curator. Audits
        ``resolve_review`` with the decision."""
        return self._p.curation.resolve_review(actor, project, memory_id, action)

    def export_project(self, actor: Actor, project: str) -> ProjectExport:
        """Every memory but the deleted, and the audit chain. Curator. Audits
        ``export_project``."""
        return self._p.curation.export_project(actor, project)

    # -- moving memories in and out --------------------------------------------------

    def export_memories(self, actor: Actor, projects: list[str]) -> Iterator[str]:
        """The projects' memories, every version and provenance, as memsvc JSONL lines.
        Curator of each. Audits ``export_memories`` per project before anything streams."""
        return self._p.transfer.export_lines(actor, projects)

    def import_memories(self, actor: Actor, lines: Iterable[str]) -> ImportReport:
        """Restore an export exactly (ids, versions, times, provenance); idempotent.
        Curator (admin to create a project). Audits ``import_memories`` per project."""
        return self._p.transfer.import_lines(actor, lines)

    def import_drafts(
        self, actor: Actor, project: str, drafts: list[MemoryDraft]
    ) -> list[AddResult]:
        """Store memories converted from another tool, with channel ``import``, under the
        project's review policy (by default rules and decisions land ``proposed``). Writer.
        Audits ``import_memories`` per batch."""
        return self._p.transfer.import_drafts(actor, project, drafts)

    def import_file(
        self, actor: Actor, project: str, fmt: str, text: str, source: str
    ) -> list[AddResult]:
        """``import_drafts`` of a file in another tool's format (``mcp-memory``, ``mem0``,
        ``basic-memory``, ``instructions``), each memory's origin set to ``source``."""
        return self._p.transfer.import_file(actor, project, fmt, text, source)

    # -- fleet: review before trust, quarantine ---------------------------------------

    def get_review_policy(self, actor: Actor, project: str) -> ReviewPolicy:
        """Which writes land ``proposed``. Reader. Audits ``get_review_policy``."""
        return self._p.fleet.policy(actor, project)

    def set_review_policy(self, actor: Actor, project: str, policy: ReviewPolicy) -> ReviewPolicy:
        """Replace the project's review policy. Admin. Audits ``set_review_policy`` with it."""
        return self._p.fleet.set_policy(actor, project, policy)

    def approve_memory(
        self, actor: Actor, project: str, memory_id: str, edit: ProposalEdit | None = None
    ) -> Memory:
        """Make a proposed memory active, edited first if ``edit`` is given. Curator.
        Audits ``approve_memory`` with the decision and who made it."""
        return self._p.fleet.approve(actor, project, memory_id, edit)

    def reject_memory(self, actor: Actor, project: str, memory_id: str, reason: str = "") -> Memory:
        """Tombstone a proposed memory. Curator. Audits ``reject_memory`` with the reason."""
        return self._p.fleet.reject(actor, project, memory_id, reason)

    def quarantine_memories(self, actor: Actor, project: str, body: QuarantineCreate) -> Quarantine:
        """Hide every memory one agent, principal or session wrote (optionally since a time)
        from search and context. Curator. Audits ``quarantine_memories`` with the ids."""
        return self._p.fleet.quarantine(actor, project, body)

    def restore_quarantine(self, actor: Actor, project: str, quarantine_id: str) -> Quarantine:
        """Undo a quarantine: each memory gets its former status back. Curator. Audits
        ``restore_quarantine``."""
        return self._p.fleet.restore(actor, project, quarantine_id)

    def delete_quarantined(self, actor: Actor, project: str, quarantine_id: str) -> Quarantine:
        """Close a quarantine by deleting its memories that are still quarantined (they stay
        restorable one by one with ``restore_memory``). Curator. Audits
        ``delete_quarantined`` with the ids."""
        return self._p.fleet.purge(actor, project, quarantine_id)

    def list_quarantines(self, actor: Actor, project: str) -> list[Quarantine]:
        """The project's quarantines, newest first. Curator. Audits ``list_quarantines``."""
        return self._p.fleet.quarantines(actor, project)

    def fleet_dashboard(self, actor: Actor, days: int = 14) -> FleetDashboard:
        """Per readable project: activity per day, memories by kind and status, the review
        backlog, agent identities and open quarantines. Anyone; only projects the caller may
        read appear. Audits ``fleet_dashboard`` (outside any project) with the ids shown."""
        return self._p.dashboard.fleet(actor, days)

    def rules_changed(self, actor: Actor, project: str) -> bool:
        """Whether ``project``'s rules changed since this agent identity last loaded its
        context, as its latest call in this process saw it (the "rules changed" hint of
        tool results). Anyone. Not audited: it reads nothing the audited call did not."""
        return self._p.projects.calls.news.changed(actor, project)

    def on_memory_changes(self, listener: Callable[[str, str], None]) -> Callable[[], None]:
        """Call ``listener(project, "rules" | "handoff")`` after each committed change to a
        project's rules or handoffs (live rules for MCP subscriptions); returns the
        unsubscribe. Not audited: it reads nothing."""
        return self._p.projects.calls.events.subscribe(listener)

    # -- audit ------------------------------------------------------------------------

    def list_audit_events(self, actor: Actor, project: str, query: AuditQuery) -> AuditPage:
        """A page of the project's audit events. Curator. Audits ``list_audit_events``."""
        return self._p.audit.list_events(actor, project, query)

    def verify_audit(self, project: str | None = None) -> tuple[int, Finding | None]:
        """Check the chains against the signed checkpoints: (events, first break).
        Operator (no actor: run by the CLI on the data dir); not audited."""
        report = self._p.audit.verify(project)
        return report.events, report.first

    def checkpoint_audit(self) -> int:
        """Sign every chain's unsigned events now; how many chains. Operator."""
        return self._p.audit.checkpoint()

    def export_audit(self, actor: Actor, project: str) -> AuditBundle:
        """Events, checkpoints and public key, signed up to now. Curator. Audits
        ``export_audit``."""
        return self._p.audit.export(actor, project)

    # -- access -----------------------------------------------------------------------

    def tokens_configured(self) -> bool:
        """Whether every transport requires a token: a persisted setting, switched on by
        the first token; revoking tokens never turns it off."""
        return self._p.access.tokens_configured()

    def authenticate(
        self, token: str | None, channel: Channel, *, allow_local: bool = False, **extra: Any
    ) -> Actor:
        """The caller behind a bearer token (``extra``: client, client_version, agent,
        session, request_id for provenance). Audits only a refusal (``authenticate``)."""
        return self._p.access.authenticate(token, channel, allow_local=allow_local, **extra)

    def refuse_session(self, actor: Actor, session: str, owner: str) -> PermissionDenied:
        """The error for ``actor`` presenting MCP session ``session``, which principal
        ``owner`` opened (the HTTP door binds sessions to principals). Audits a denied
        ``authenticate`` (reason ``foreign_session``)."""
        return self._p.access.refuse_session(actor, session, owner)

    def create_token(self, actor: Actor, name: str, project: str, role: str) -> IssuedToken:
        """Issue principal ``name`` a token holding one role in ``project`` (an existing
        project or ``*``); other tokens keep their rights. Admin. Audits ``create_token``
        (never the secret)."""
        return self._p.access.create_token(actor, name, project, role)

    def set_require_tokens(self, actor: Actor, required: bool) -> bool:
        """Require tokens from every caller, or not. Global admin. Audits
        ``set_require_tokens``."""
        return self._p.access.require_tokens(actor, required)

    def list_tokens(self, actor: Actor) -> list[TokenInfo]:
        """Every token without its secret. Global admin. Audits ``list_tokens``."""
        return self._p.access.list_tokens(actor)

    def revoke_token(self, actor: Actor, token_id: str) -> TokenInfo:
        """Revoke a token at once. Global admin. Audits ``revoke_token``."""
        return self._p.access.revoke_token(actor, token_id)

    # -- operations -------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Liveness facts: embedder identity, index backlog. Not audited; no data."""
        return self._p.maintenance.health()

    def readiness(self) -> dict[str, Any]:
        """Readiness facts: database reachable, migrations current, model loaded, index
        backlog; ``ready`` is false while any but the backlog is not ok. Not audited."""
        return self._p.maintenance.readiness()

    def sync_projects(self) -> list[str]:
        """Every project id, for operator maintenance commands. Not audited."""
        return self._p.maintenance.project_ids()

    def reindex(self, project: str) -> ReconcileReport:
        """Rebuild a project's index from SQL. Operator (CLI); not audited."""
        return self._p.maintenance.reindex(project)
