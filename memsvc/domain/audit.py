"""The audit log as callers read it: events, the read and write action names, queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from memsvc.domain.vocabulary import Channel, CleanText, Outcome, _Wire


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
        "delete_quarantined",
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
