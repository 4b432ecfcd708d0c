"""Keeping the LanceDB index in step with SQL: the outbox applier, start-up reconciliation,
``reindex``, and background maintenance (retries, compaction) off the request path."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import update
from sqlmodel import col, select

from memsvc.clock import utcnow
from memsvc.domain import Status
from memsvc.retrieval.dense import DenseCache
from memsvc.retrieval.embedder import Embedder
from memsvc.store.database import Database
from memsvc.store.index import IndexRow, LanceIndex
from memsvc.store.models import IndexOutboxRow, MemoryRow, ProjectRow

__all__ = ["IndexSync", "ReconcileReport", "index_text", "memory_time", "searchable_text"]

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]


def searchable_text(title: str | None, content: str, tags: list[str]) -> str:
    """What is embedded and full-text indexed for a memory."""
    return "\n".join(p for p in (title or "", content, " ".join(tags)) if p)


def index_text(row: MemoryRow) -> str:
    return searchable_text(row.title, row.content, list(row.tags))


def memory_time(row: MemoryRow) -> float:
    """When the memory holds, as epoch seconds: ``valid_from``, else when it was written."""
    return _epoch(row.valid_from or row.created_at)


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@dataclass
class ReconcileReport:
    project: str
    embedded: int = 0
    updated: int = 0
    removed: int = 0


class IndexSync:
    def __init__(
        self,
        db: Database,
        index: LanceIndex,
        embedder: Embedder,
        cache: DenseCache,
        compact_every: int = 64,
    ) -> None:
        self.db = db
        self.index = index
        self.embedder = embedder
        self.cache = cache
        self._compact_every = compact_every
        self._writes: dict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- applying the outbox ------------------------------------------------------------

    def apply(
        self, outbox_ids: list[int] | None = None, vectors: dict[str, Vector] | None = None
    ) -> int:
        """Apply pending outbox rows (these ids, or all); returns how many were applied.

        Failures are logged and left pending for the background retry: an acknowledged
        write is never lost because the index was briefly unavailable.
        """
        with self.db.read() as s:
            stmt = select(IndexOutboxRow).where(col(IndexOutboxRow.applied_at).is_(None))
            if outbox_ids is not None:
                stmt = stmt.where(col(IndexOutboxRow.id).in_(outbox_ids))
            pending = list(s.exec(stmt.order_by(col(IndexOutboxRow.id)).limit(5000)))
        by_project: dict[str, list[IndexOutboxRow]] = defaultdict(list)
        for row in pending:
            by_project[row.project_id].append(row)
        done = 0
        for project, rows in by_project.items():
            try:
                done += self._apply_project(project, rows, vectors or {})
            except Exception as exc:  # noqa: BLE001 - any index failure must stay retryable
                log.warning("index apply failed for %s: %s", project, exc)
                self._note_failure([r.id for r in rows if r.id is not None], str(exc))
        return done

    def _apply_project(
        self, project: str, rows: list[IndexOutboxRow], vectors: dict[str, Vector]
    ) -> int:
        with self.index.lock(project):
            ids = [r.id for r in rows if r.id is not None]
            with self.db.read() as s:
                still = set(
                    s.exec(
                        select(IndexOutboxRow.id).where(
                            col(IndexOutboxRow.id).in_(ids),
                            col(IndexOutboxRow.applied_at).is_(None),
                        )
                    )
                )
                rows = [r for r in rows if r.id in still]
                mids = list(dict.fromkeys(r.memory_id for r in rows))
                current = {
                    m.id: m for m in s.exec(select(MemoryRow).where(col(MemoryRow.id).in_(mids)))
                }
            if not rows:
                return 0
            ops: dict[str, set[str]] = defaultdict(set)
            for r in rows:
                ops[r.memory_id].add(r.op)
            deletes, upserts, metas = [], [], []
            for mid in mids:
                mem = current.get(mid)
                if mem is None or mem.status == Status.DELETED:
                    deletes.append(mid)
                elif "upsert" in ops[mid]:
                    upserts.append(mem)
                else:
                    metas.append(mem)
            index_rows = self._index_rows(upserts, vectors)
            self.index.delete(project, deletes)
            self.index.upsert(project, index_rows)
            for mem in metas:
                self.index.set_meta(project, mem.id, mem.kind, mem.status)
            before, after = self._mark_applied(project, [r.id for r in rows if r.id is not None])
            self.cache.applied(
                project,
                before,
                after,
                index_rows,
                [(m.id, m.kind, m.status) for m in metas],
                deletes,
            )
            self._count_writes(project, len(rows))
            return len(rows)

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
        now = utcnow()
        with self.db.write() as s:
            if ids:
                s.execute(
                    update(IndexOutboxRow)
                    .where(col(IndexOutboxRow.id).in_(ids))
                    .values(applied_at=now)
                )
            proj = s.get(ProjectRow, project)
            if proj is None:
                return 0, 0
            before = proj.index_generation
            proj.index_generation = before + 1
            s.add(proj)
            return before, before + 1

    def _note_failure(self, ids: list[int], error: str) -> None:
        try:
            with self.db.write() as s:
                for row in s.exec(select(IndexOutboxRow).where(col(IndexOutboxRow.id).in_(ids))):
                    row.attempts += 1
                    row.last_error = error[:500]
                    s.add(row)
        except Exception:
            log.exception("could not record index failure")

    def pending_count(self) -> int:
        with self.db.read() as s:
            return len(
                s.exec(
                    select(IndexOutboxRow.id).where(col(IndexOutboxRow.applied_at).is_(None))
                ).all()
            )

    # -- reconciliation -----------------------------------------------------------------

    def reconcile(self, project: str) -> ReconcileReport:
        """Make the project's index match SQL: embed missing or changed rows, fix status,
        remove orphans. Safe to run at any time."""
        report = ReconcileReport(project)
        with self.index.lock(project):
            with self.db.read() as s:
                live = {
                    m.id: m
                    for m in s.exec(
                        select(MemoryRow).where(
                            MemoryRow.project_id == project,
                            MemoryRow.status != Status.DELETED.value,
                        )
                    )
                }
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
        self.apply()
        with self.db.read() as s:
            projects = list(s.exec(select(ProjectRow.id)))
        return [self.reconcile(p) for p in projects]

    def reindex(self, project: str) -> ReconcileReport:
        """Drop the project's index table and rebuild it from SQL."""
        with self.index.lock(project):
            self.index.drop(project)
        self.cache.forget(project)
        return self.reconcile(project)

    # -- background maintenance ---------------------------------------------------------

    def _count_writes(self, project: str, n: int) -> None:
        self._writes[project] += n
        if self._writes[project] >= self._compact_every:
            self._wake.set()

    def compact_due(self) -> None:
        for project in [p for p, n in list(self._writes.items()) if n >= self._compact_every]:
            self._writes[project] = 0
            try:
                self.index.optimize(project)
            except Exception as exc:  # noqa: BLE001 - retried at the next round
                log.warning("compaction of %s failed: %s", project, exc)

    def start(self, interval_s: float) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(interval_s)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    self.apply()
                    self.compact_due()
                except Exception:
                    log.exception("index maintenance round failed")

        self._thread = threading.Thread(target=loop, name="memsvc-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
