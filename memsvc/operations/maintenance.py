"""Operator maintenance of the derived index, and liveness facts."""

from __future__ import annotations

from typing import Any

from memsvc.retrieval.indexing import IndexSync, ReconcileReport
from memsvc.store import outbox
from memsvc.store.database import Database

__all__ = ["Maintenance"]


class Maintenance:
    """Index upkeep an operator runs (reindex) and the health facts a probe reads."""

    def __init__(self, db: Database, sync: IndexSync, embedder_identity: str) -> None:
        self.db = db
        self.sync = sync
        self.embedder_identity = embedder_identity

    def health(self) -> dict[str, Any]:
        """Liveness facts: the embedder and the index backlog (not audited; no data)."""
        return {
            "status": "ok",
            "embedder": self.embedder_identity,
            "pending_index_writes": self.sync.pending_count(),
        }

    def project_ids(self) -> list[str]:
        """Every project id (for maintenance commands run by the operator)."""
        with self.db.read() as s:
            return outbox.project_ids(s)

    def reindex(self, project: str) -> ReconcileReport:
        """Drop a project's index and rebuild it from SQL."""
        return self.sync.reindex(project)
