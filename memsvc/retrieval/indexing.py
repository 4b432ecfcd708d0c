"""Keeping the LanceDB index in step with SQL: the outbox applier, start-up reconciliation,
``reindex``, and background maintenance (retries, compaction) off the request path."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from memsvc.clock import Periodic, utcnow
from memsvc.domain import Status
from memsvc.retrieval.ann import AnnBuilder
from memsvc.retrieval.cache import ProjectCache
from memsvc.retrieval.compaction import CompactionPolicy
from memsvc.retrieval.embedder import Embedder
from memsvc.store import outbox
from memsvc.store.database import Database
from memsvc.store.index import IndexRow, LanceIndex
from memsvc.store.models import MemoryRow

__all__ = ["IndexSync", "ReconcileReport", "index_text", "memory_time", "searchable_text"]

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]


def searchable_text(title: str | None, content: str, tags: list[str]) -> str:
    """What is embedded and full-text indexed for a memory."""
    return "\n".join(p for p in (title or "", content, " ".join(tags)) if p)


def index_text(row: MemoryRow) -> str:
    """The text a memory is indexed by: title, content and tags."""
    return searchable_text(row.title, row.content, list(row.tags))


def memory_time(row: MemoryRow) -> float:
    """When the memory holds, as epoch seconds: ``valid_from``, else when it was written."""
    return _epoch(row.valid_from or row.created_at)


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _sort_changes(
    entries: list[outbox.Entry], rows: dict[str, MemoryRow]
) -> tuple[list[str], list[MemoryRow], list[MemoryRow]]:
    """What the index must do per memory: delete, re-embed and upsert, or change metadata."""
    ops: dict[str, set[str]] = defaultdict(set)
    for _, mid, op in entries:
        ops[mid].add(op)
    deletes, upserts, metas = [], [], []
    for mid, wanted in ops.items():
        mem = rows.get(mid)
        if mem is None or mem.status == Status.DELETED:
            deletes.append(mid)
        elif "upsert" in wanted:
            upserts.append(mem)
        else:
            metas.append(mem)
    return deletes, upserts, metas


@dataclass
class ReconcileReport:
    """What reconciling one project's index with SQL changed."""

    project: str
    embedded: int = 0
    updated: int = 0
    removed: int = 0


class IndexSync:
    """Keeps LanceDB and the in-memory cache in step with SQL through the outbox: apply, reconcile,
    reindex, compact."""

    def __init__(
        self,
        db: Database,
        index: LanceIndex,
        embedder: Embedder,
        cache: ProjectCache,
        compact_every: int = 64,
        policy: CompactionPolicy | None = None,
    ) -> None:
        self.db = db
        self.index = index
        self.embedder = embedder
        self.cache = cache
        self.policy = policy or CompactionPolicy()
        self._compact_every = compact_every
        self._writes: dict[str, int] = defaultdict(int)
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._cleanup_at: dict[str, float] = {}
        self._runner: Periodic | None = None
        self.ann: AnnBuilder | None = None
        """Builds big projects' vector indices on a thread of its own (set by bootstrap)."""

    # -- applying the outbox ------------------------------------------------------------

    def apply(
        self, outbox_ids: list[int] | None = None, vectors: dict[str, Vector] | None = None
    ) -> int:
        """Apply pending outbox entries (these ids, or all); returns how many were applied.

        Failures are logged and left pending for the background retry: an acknowledged
        write is never lost because the index was briefly unavailable.
        """
        with self.db.read() as s:
            entries = outbox.pending(s, outbox_ids)
        by_project: dict[str, list[outbox.Entry]] = defaultdict(list)
        for oid, project, mid, op in entries:
            by_project[project].append((oid, mid, op))
        done = 0
        for project, items in by_project.items():
            done += self._guarded(project, items, None, vectors or {})
        return done

    def apply_rows(
        self,
        project: str,
        entries: list[outbox.Entry],
        rows: list[MemoryRow],
        vectors: dict[str, Vector] | None = None,
    ) -> int:
        """Apply entries a write just committed, given the rows it wrote (no re-read)."""
        if not entries:
            return 0
        return self._guarded(project, entries, {r.id: r for r in rows}, vectors or {})

    def _guarded(
        self,
        project: str,
        entries: list[outbox.Entry],
        rows: dict[str, MemoryRow] | None,
        vectors: dict[str, Vector],
    ) -> int:
        try:
            return self._apply_project(project, entries, rows, vectors)
        except Exception as exc:  # noqa: BLE001 - any index failure must stay retryable
            log.warning("index apply failed for %s: %s", project, exc)
            self._note_failure([e[0] for e in entries], str(exc))
            return 0

    def _apply_project(
        self,
        project: str,
        entries: list[outbox.Entry],
        rows: dict[str, MemoryRow] | None,
        vectors: dict[str, Vector],
    ) -> int:
        with self.index.lock(project):
            if rows is None:  # the background path: another applier may have done some
                with self.db.read() as s:
                    still = {e[0] for e in outbox.pending(s, [e[0] for e in entries])}
                    entries = [e for e in entries if e[0] in still]
                    rows = outbox.rows_by_id(s, list(dict.fromkeys(e[1] for e in entries)))
            if not entries:
                return 0
            deletes, upserts, metas = _sort_changes(entries, rows)
            index_rows = self._index_rows(upserts, vectors)
            self.index.delete(project, deletes)
            self.index.upsert(project, index_rows)
            for mem in metas:
                self.index.set_meta(project, mem.id, mem.kind, mem.status)
            before, after = self._mark_applied(project, [e[0] for e in entries])
            if after != before:
                changed = [(m.id, m.kind, m.status) for m in metas]
                self.cache.applied(project, before, after, index_rows, changed, deletes)
            self._count_writes(project, len(entries))
            return len(entries)

    def _index_rows(self, rows: list[MemoryRow], vectors: dict[str, Vector]) -> list[IndexRow]:
        missing = [r for r in rows if r.id not in vectors]
        if missing:
            fresh = self.embedder.embed([index_text(r) for r in missing])
            vectors = {**vectors, **{r.id: fresh[i] for i, r in enumerate(missing)}}
        return [
            IndexRow(
                id=r.id,
                kind=r.kind,
                status=r.status,
                text=index_text(r),
                content_hash=r.content_hash,
                vector=vectors[r.id],
                time=memory_time(r),
                written=_epoch(r.created_at),
            )
            for r in rows
        ]

    def _mark_applied(self, project: str, ids: list[int]) -> tuple[int, int]:
        with self.db.maintenance() as s:
            return outbox.mark_applied(s, project, ids, utcnow())

    def _note_failure(self, ids: list[int], error: str) -> None:
        try:
            with self.db.maintenance() as s:
                outbox.note_failure(s, ids, error)
        except Exception:
            log.exception("could not record index failure")

    def pending_count(self) -> int:
        """How many index changes wait to be applied."""
        with self.db.read() as s:
            return outbox.pending_count(s)

    # -- reconciliation -----------------------------------------------------------------

    def reconcile(self, project: str) -> ReconcileReport:
        """Make the project's index match SQL: embed missing or changed rows, fix status,
        remove orphans. Safe to run at any time."""
        report = ReconcileReport(project)
        with self.index.lock(project):
            with self.db.read() as s:
                live = outbox.live_rows(s, project)
            snap = self.index.snapshot(project)
            have = {
                i: (h, k, st)
                for i, h, k, st in zip(
                    snap.ids, snap.hashes, snap.kinds, snap.statuses, strict=True
                )
            }
            orphans = [i for i in have if i not in live]
            stale = [m for i, m in live.items() if i not in have or have[i][0] != m.content_hash]
            metas = [
                m
                for i, m in live.items()
                if i in have and have[i][0] == m.content_hash and have[i][1:] != (m.kind, m.status)
            ]
            duplicates = len(snap.ids) != len(have)
            if duplicates:  # a crash mid-apply can leave a row twice: rewrite those rows
                stale = list(live.values())
            self.index.delete(project, orphans)
            for start in range(0, len(stale), 256):
                self.index.upsert(project, self._index_rows(stale[start : start + 256], {}))
            for m in metas:
                self.index.set_meta(project, m.id, m.kind, m.status)
            report.removed, report.embedded, report.updated = len(orphans), len(stale), len(metas)
        if orphans or stale or metas:
            self._mark_applied(project, [])
            self.cache.forget(project)
        return report

    def reconcile_all(self) -> list[ReconcileReport]:
        """Apply pending outbox rows, then reconcile every project's index with SQL."""
        self.apply()
        with self.db.read() as s:
            projects = outbox.project_ids(s)
        return [self.reconcile(p) for p in projects]

    def reindex(self, project: str) -> ReconcileReport:
        """Drop the project's index table and rebuild it from SQL."""
        with self.index.lock(project):
            self.index.drop(project)
        self.cache.forget(project)
        return self.reconcile(project)

    # -- background maintenance ---------------------------------------------------------

    def _count_writes(self, project: str, n: int) -> None:
        with self._dirty_lock:
            self._dirty.add(project)
            self._writes[project] += n
            wake = self._writes[project] >= self._compact_every
        if wake and self._runner is not None:
            self._runner.wake()

    def compact_due(self) -> list[str]:
        """Compact the tables written since the last round that ``policy`` finds due, and
        drop the old versions of those compacted a grace period ago (background); returns
        the projects whose table was optimized."""
        now = time.monotonic()
        with self._dirty_lock:
            projects, self._dirty = self._dirty, set()
            self._writes.clear()
        projects |= {p for p, at in list(self._cleanup_at.items()) if at <= now}
        done = []
        for project in sorted(projects):
            try:
                if self._compact(project, now):
                    done.append(project)
            except Exception as exc:  # noqa: BLE001 - retried at the next round
                log.warning("compaction of %s failed: %s", project, exc)
                with self._dirty_lock:
                    self._dirty.add(project)
        return done

    def _compact(self, project: str, now: float) -> bool:
        shape = self.index.shape(project)
        grace = timedelta(seconds=self.policy.cleanup_grace_s)
        if shape is None:
            self._cleanup_at.pop(project, None)
            return False
        if self.policy.due(shape):
            self.index.optimize(project, cleanup_older_than=grace)
            self._cleanup_at[project] = now + self.policy.cleanup_grace_s
            return True
        cleanup = self._cleanup_at.get(project)
        if cleanup is None or cleanup > now:
            return False
        del self._cleanup_at[project]
        if shape.fragments > 1:  # a rewrite would leave its own input behind: the next does it
            return False
        self.index.optimize(project, cleanup_older_than=grace)  # one fragment: only prunes
        return True

    def start(self, interval_s: float) -> None:
        """Retry pending index work and compact in the background until ``stop``."""
        self._runner = Periodic("memsvc-index", interval_s, self._maintain)
        self._runner.start()
        if self.ann is not None:
            self.ann.start(interval_s)

    def _maintain(self) -> None:
        self.apply()
        self.compact_due()

    def stop(self) -> None:
        """Stop the background maintenance after the round under way."""
        if self.ann is not None:
            self.ann.stop()
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
