"""Operator maintenance of the derived index, and liveness facts."""

from __future__ import annotations

import os
from typing import Any

from memsvc.retrieval.embedder import Embedder
from memsvc.retrieval.indexing import IndexSync, ReconcileReport
from memsvc.store import outbox
from memsvc.store.database import Database
from memsvc.store.schema import schema_state

__all__ = ["Maintenance"]


class Maintenance:
    """Index upkeep an operator runs (reindex) and the health facts a probe reads."""

    def __init__(self, db: Database, sync: IndexSync, embedder: Embedder) -> None:
        self.db = db
        self.sync = sync
        self.embedder = embedder
        self.embedder_identity = embedder.identity

    def health(self) -> dict[str, Any]:
        """Liveness facts: the embedder and the index backlog (not audited; no data)."""
        return {
            "status": "ok",
            "embedder": self.embedder_identity,
            "pending_index_writes": self.sync.pending_count(),
            # which process answered: several share an address under `serve --workers`
            "process": os.getpid(),
        }

    def readiness(self) -> dict[str, Any]:
        """Whether this process should get traffic: the database answers, its schema is
        current, the model is loaded, the start-up index reconciliation is done. The index
        backlog and the projects whose index is being repaired (they answer 503 to
        searches, the others serve) are reported without failing it."""
        checks: dict[str, Any] = {}
        try:
            have, want = schema_state(self.db)
            checks["database"] = "ok"
            checks["migrations"] = "ok" if have == want else f"at {have}, code expects {want}"
            pending = self.sync.pending_count()
            checks["index"] = "ok" if pending == 0 else f"{pending} changes pending"
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
            checks["database"] = f"unreachable: {type(exc).__name__}"
        model_ready = bool(getattr(self.embedder, "ready", True))
        checks["model"] = "ok" if model_ready else "loading"
        health = self.sync.cache.health
        checks["startup"] = "ok" if health.started.is_set() else "reconciling the index"
        held = health.held()
        checks["projects_unavailable"] = {p: held[p] for p in sorted(held)[:50]}
        wanted = ("database", "migrations", "model", "startup")
        ready = all(checks.get(k) == "ok" for k in wanted)
        out: dict[str, Any] = {"ready": ready, "checks": checks}
        if self.sync.ann is not None:  # informational: a big project searches exactly meanwhile
            out["vector_index"] = self.sync.ann.status()
        out["coarse_index"] = self.sync.cache.coarse_status()  # the same, for search_ann=coarse
        return out

    def project_ids(self) -> list[str]:
        """Every project id (for maintenance commands run by the operator)."""
        with self.db.read() as s:
            return outbox.project_ids(s)

    def reindex(self, project: str) -> ReconcileReport:
        """Drop a project's index and rebuild it from SQL."""
        return self.sync.reindex(project)
