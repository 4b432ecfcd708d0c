"""Reading the audit ledger: events, verification, signed export, checkpoints."""

from __future__ import annotations

from memsvc.audit.checkpoints import KeyPaths
from memsvc.audit.export import AuditBundle, collect_bundle
from memsvc.audit.ledger import AuditLog
from memsvc.audit.verification import LedgerReport, verify_database
from memsvc.domain import Actor, AuditPage, AuditQuery, Role
from memsvc.errors import InvalidInput
from memsvc.operations.calls import Calls

__all__ = ["AuditReads"]


class AuditReads:
    """What curators and operators read of the ledger."""

    def __init__(self, calls: Calls, audit: AuditLog, keys: KeyPaths) -> None:
        self.calls = calls
        self.db = calls.db
        self.audit = audit
        self.keys = keys

    def list_events(self, actor: Actor, project: str, query: AuditQuery) -> AuditPage:
        """A page of the project's events, newest first (curator)."""
        with self.calls.call(actor, "list_audit_events", project) as call, self.db.read() as s:
            call.require(Role.CURATOR)
            if not 1 <= query.limit <= 1000:
                raise InvalidInput("limit must be between 1 and 1000")
            call.project_row(s)
            page = self.audit.list(s, project, query)
            call.detail["events"] = len(page.events)
            return page

    def verify(self, project: str | None = None) -> LedgerReport:
        """Check the chains (one project's, or all) against the signed checkpoints and the
        head record outside the database."""
        return verify_database(self.db, self.keys, project)

    def checkpoint(self) -> int:
        """Sign every chain's unsigned events now (operator maintenance); how many chains."""
        if self.audit.checkpoints is None:
            return 0
        return len(self.audit.checkpoints.checkpoint_all(self.db))

    def export(self, actor: Actor, project: str) -> AuditBundle:
        """A project's events, checkpoints and public key, signed up to now (curator)."""
        with self.calls.call(actor, "export_audit", project) as call:
            call.require(Role.CURATOR)
            with self.db.read() as s:
                call.project_row(s)
            if self.audit.checkpoints is not None:
                with self.db.maintenance() as s:
                    self.audit.checkpoints.checkpoint(s, project)
            with self.db.read() as s:
                bundle = collect_bundle(s, project, self.keys)
            call.detail["events"] = len(bundle.events)
            return bundle
