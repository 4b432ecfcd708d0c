"""Keeping the LanceDB index in step with SQL: the outbox applier, start-up reconciliation,
``reindex``, and background maintenance (retries, compaction) off the request path."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from memsvc.clock import Periodic, utcnow
from memsvc.domain import Status
from memsvc.retrieval.ann import AnnBuilder
from memsvc.retrieval.cache import Changes, ProjectCache
from memsvc.retrieval.compaction import CompactionPolicy
from memsvc.retrieval.embedder import Embedder
from memsvc.retrieval.healing import REBUILDING, RECONCILING, is_index_damage
from memsvc.store import outbox
from memsvc.store.database import Database
from memsvc.store.fleet import writer_stream
from memsvc.store.index import IndexRow, LanceIndex
from memsvc.store.models import MemoryRow

__all__ = [
    "IndexSync",
    "Indexed",
    "ReconcileReport",
    "change_reader",
    "index_text",
    "memory_time",
    "searchable_text",
]

log = logging.getLogger(__name__)
REBUILD_BATCH = 256
"""Memories embedded per batch by a rebuild."""
RECONCILE_BATCH = 2000
KEYS_SCAN_ROWS = 20_000
"""Above this many rows in a table, reconciliation reads the table's keys in one scan
(~0.2 KB per row, held for the walk) instead of asking for each batch's ids: each such
request is a filtered scan of the whole table, so a 600k-row table cost 600 scans."""
"""Memories compared per batch by reconciliation (its memory is bounded by this)."""
OUTBOX_RETRY_AFTER_S = 10.0
"""The background retry leaves entries younger than this to the server that queued them."""
Vector = npt.NDArray[np.float32]


class Indexed(Protocol):
    """What the index needs of a memory: a ``MemoryRow``, or the column values a write has
    just inserted (building ORM rows for those costs ~1 ms each)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def provenance(self) -> dict[str, Any]: ...


def searchable_text(title: str | None, content: str, tags: list[str]) -> str:
    """What is embedded and full-text indexed for a memory."""
    return "\n".join(p for p in (title or "", content, " ".join(tags)) if p)


def index_text(row: Indexed) -> str:
    """The text a memory is indexed by: title, content and tags."""
    return searchable_text(row.title, row.content, list(row.tags))


def memory_time(row: Indexed) -> float:
    """When the memory holds, as epoch seconds: ``valid_from``, else when it was written."""
    return _epoch(row.valid_from or row.created_at)


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def change_reader(db: Database) -> Changes:
    """What a ``ProjectCache`` asks to catch up with other servers: the memories changed in
    a span of generations, read from the applied outbox entries."""

    def read(project: str, have: int, want: int, limit: int) -> list[str] | None:
        with db.read() as s:
            return outbox.changes_since(s, project, have, want, limit)

    return read


def _sort_changes(
    entries: list[outbox.Entry], rows: Mapping[str, Indexed]
) -> tuple[list[str], list[Indexed], list[Indexed]]:
    """What the index must do per memory: delete, re-embed and upsert, or change metadata."""
    ops: dict[str, set[str]] = defaultdict(set)
    for _, mid, op in entries:
        ops[mid].add(op)
    deletes: list[str] = []
    upserts: list[Indexed] = []
    metas: list[Indexed] = []
    for mid, wanted in ops.items():
        mem = rows.get(mid)
        if mem is None or mem.status == Status.DELETED:
            deletes.append(mid)
        elif "upsert" in wanted:
            upserts.append(mem)
        else:
            metas.append(mem)
    return deletes, upserts, metas


def _with_meta(row: IndexRow, mem: MemoryRow) -> IndexRow:
    """``row`` with the kind and status ``mem`` has now (its text and vector unchanged)."""
    return replace(row, kind=mem.kind, status=mem.status)


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
        self._count_cursor = 0
        self.ann: AnnBuilder | None = None
        """Builds big projects' vector indices on a thread of its own (set by bootstrap)."""

    # -- applying the outbox ------------------------------------------------------------

    def apply(
        self,
        outbox_ids: list[int] | None = None,
        vectors: dict[str, Vector] | None = None,
        min_age_s: float = 0.0,
        project: str | None = None,
    ) -> int:
        """Apply pending outbox entries (these ids, or all; only those queued at least
        ``min_age_s`` ago, or of one project, if given); returns how many were applied.

        Failures are logged and left pending for the background retry: an acknowledged
        write is never lost because the index was briefly unavailable.
        """
        before = utcnow() - timedelta(seconds=min_age_s) if min_age_s > 0 else None
        with self.db.read() as s:
            entries = outbox.pending(s, outbox_ids, created_before=before, project=project)
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
        rows: Sequence[Indexed],
        vectors: dict[str, Vector] | None = None,
        new: bool = False,
    ) -> int:
        """Apply entries a write just committed, given the rows it wrote (no re-read).

        ``new``: the rows are memories this write created (ids it just drew), so the
        table cannot hold them and they are appended without the delete an upsert runs
        first (whose cost grows with the table). Marking them applied (under the lock,
        in the same transaction) checks that no other applier had been at the entries
        meanwhile (the background retry of a write stalled past its 10 s, another
        server's start-up); if one had, the rows are rewritten once each at once.
        """
        if not entries:
            return 0
        return self._guarded(project, entries, {r.id: r for r in rows}, vectors or {}, new)

    def _guarded(
        self,
        project: str,
        entries: list[outbox.Entry],
        rows: Mapping[str, Indexed] | None,
        vectors: dict[str, Vector],
        new: bool = False,
    ) -> int:
        try:
            return self._apply_project(project, entries, rows, vectors, new)
        except Exception as exc:  # noqa: BLE001 - any index failure must stay retryable
            log.warning("index apply failed for %s: %s", project, exc)
            self._note_failure([e[0] for e in entries], str(exc))
            return 0

    def _apply_project(
        self,
        project: str,
        entries: list[outbox.Entry],
        rows: Mapping[str, Indexed] | None,
        vectors: dict[str, Vector],
        new: bool = False,
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
            append = new and not deletes and not metas
            index_rows = (self.index.append if append else self.index.upsert)(project, index_rows)
            for mem in metas:
                self.index.set_meta(project, mem.id, mem.kind, mem.status)
            before, after, alone = self._mark_applied(project, [e[0] for e in entries], append)
            if not alone:  # another applier had been at these entries: one row each again
                self.index.upsert(project, index_rows)
            if after != before:
                changed = [(m.id, m.kind, m.status) for m in metas]
                self.cache.applied(project, before, after, index_rows, changed, deletes)
            self._count_writes(project, len(entries))
            return len(entries)

    def _index_rows(self, rows: Sequence[Indexed], vectors: dict[str, Vector]) -> list[IndexRow]:
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
                stream=writer_stream(r.provenance),
            )
            for r in rows
        ]

    def _mark_applied(
        self, project: str, ids: list[int], appended: bool = False
    ) -> tuple[int, int, bool]:
        """Mark entries applied: (generation before, after, whether no other applier had
        been at them, checked only for ``appended`` rows, in the same transaction)."""
        with self.db.maintenance() as s:
            alone = not appended or len(outbox.untouched(s, ids)) == len(ids)
            before, after = outbox.mark_applied(s, project, ids, utcnow())
        return before, after, alone

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
        remove orphans, rewrite rows a crash left twice. Safe to run at any time, also
        while another server writes the project (on object storage the lock below orders
        nothing across processes).

        Streamed per ``RECONCILE_BATCH`` memories, so memory stays bounded at any project
        size: SQL is read as (id, hash, kind, status) tuples in id order, the index is
        asked for those ids' hash, kind, status and copies (no vectors, no text), and only
        the rows to re-embed are read whole. After that walk each live memory is in the
        table once, so orphans are looked for only when the table holds more rows than
        SQL has live memories (its count is exact under the lock).

        Memories with index work still pending are left to whoever applies it: touching
        them here would race that apply (two delete-then-add of one id can leave it
        twice). Within a batch SQL is read before the table, and for orphans the table
        before SQL, so a write another server applies meanwhile is never taken for an
        orphan (it is in SQL before it is in the table)."""
        report = ReconcileReport(project)
        with self.index.lock(project):
            live = 0
            table_keys = (
                self.index.all_keys(project) if self.index.count(project) > KEYS_SCAN_ROWS else None
            )
            with self.db.read() as s:
                for keys in outbox.live_keys(s, project, RECONCILE_BATCH):
                    live += len(keys)
                    with self.db.read() as s2:  # after the keys: see ``_out_of_step``
                        busy = outbox.pending_memories(s2, project)
                    todo = [k for k in keys if k[0] not in busy]
                    self._reconcile_batch(project, todo, report, table_keys)
            if self.index.count(project) > live:
                report.removed = self._remove_orphans(project)
        if report.removed or report.embedded or report.updated:
            self._mark_applied(project, [])
            self.cache.forget(project)
        return report

    def _reconcile_batch(
        self,
        project: str,
        keys: list[outbox.LiveKey],
        report: ReconcileReport,
        table_keys: dict[str, tuple[str, str, str, int]] | None = None,
    ) -> None:
        """Reconcile these live memories: re-embed the missing, changed or doubled ones,
        fix the kind and status of the others where they differ. ``table_keys``: the table's
        keys read beforehand (a large table), else the batch's ids are asked for."""
        have = (
            self.index.keys_of(project, [k[0] for k in keys]) if table_keys is None else table_keys
        )
        stale: list[str] = []
        metas: list[tuple[str, str, str]] = []
        for mid, digest, kind, status in keys:
            held = have.get(mid)
            if held is None or held[0] != digest or held[3] > 1:
                stale.append(mid)  # missing, changed, or left twice by a crash mid-apply
            elif held[1:3] != (kind, status):
                metas.append((mid, kind, status))
        for start in range(0, len(stale), REBUILD_BATCH):
            chunk = stale[start : start + REBUILD_BATCH]
            with self.db.read() as s:
                rows = outbox.rows_by_id(s, chunk)
            live = [rows[i] for i in chunk if i in rows and rows[i].status != Status.DELETED]
            self.index.upsert(project, self._index_rows(live, {}))
        for mid, kind, status in metas:
            self.index.set_meta(project, mid, kind, status)
        report.embedded += len(stale)
        report.updated += len(metas)

    def _remove_orphans(self, project: str) -> int:
        """Delete the table's rows of memories SQL does not hold live; how many ids."""
        orphans: list[str] = []
        for ids in self.index.iter_ids(project, RECONCILE_BATCH):
            with self.db.read() as s:
                live = outbox.live_among(s, project, list(set(ids)))
                busy = outbox.pending_memories(s, project)
            orphans.extend(i for i in ids if i not in live and i not in busy)
        orphans = list(dict.fromkeys(orphans))
        for start in range(0, len(orphans), RECONCILE_BATCH):
            self.index.delete(project, orphans[start : start + RECONCILE_BATCH])
        return len(orphans)

    def reconcile_all(self) -> list[ReconcileReport]:
        """Apply pending outbox rows, then reconcile every project's index with SQL."""
        self.apply()
        with self.db.read() as s:
            projects = outbox.project_ids(s)
        return [self.reconcile(p) for p in projects]

    def reindex(self, project: str) -> ReconcileReport:
        """Rebuild the project's index table from SQL, swapped in whole (``rebuild``)."""
        return self.rebuild(project)

    def rebuild(self, project: str) -> ReconcileReport:
        """Re-embed every live memory of the project and make them its whole table in one
        commit: other processes read the old table or the new one, never half of it, and
        a rebuild killed midway leaves the old table (so nothing has to be reconciled
        after it). The embedding runs outside the lock; what changed in SQL meanwhile is
        folded in under the lock just before the swap."""
        with self.db.read() as s:
            live = outbox.live_rows(s, project)
        built: dict[str, IndexRow] = {}
        ordered = list(live.values())
        for start in range(0, len(ordered), REBUILD_BATCH):
            for row in self._index_rows(ordered[start : start + REBUILD_BATCH], {}):
                built[row.id] = row
        with self.index.lock(project):
            with self.db.read() as s:  # the generation first: see ``_fold_in``
                swapped_at = outbox.generation(s, project)
                now = outbox.live_rows(s, project)
            stale = [
                m
                for i, m in now.items()
                if i not in built or live[i].content_hash != m.content_hash
            ]
            fresh = {r.id: r for r in self._index_rows(stale, {})}
            rows = [fresh.get(i) or _with_meta(built[i], m) for i, m in now.items()]
            self.index.replace_all(project, rows)
            self._mark_applied(project, [])
            self._fold_in(project, swapped_at)
        self.cache.forget(project)
        return ReconcileReport(project, embedded=len(rows))

    def _fold_in(self, project: str, generation: int) -> None:
        """After a rebuild's swap: redo the changes other servers applied since
        ``generation`` (read just before the rebuild's last SQL read). On object storage
        no lock kept them from landing in the old table just before the swap replaced it.

        What is still pending is left to its applier (redoing it here would race that
        apply). One case stays open: a change already in the old table but not yet marked
        applied when this runs is lost with the old table; the count check finds that
        and repairs it (``check_counts``)."""
        with self.db.read() as s:  # pending first: a change marked in between is redone
            busy = outbox.pending_memories(s, project)
            changed = [m for m in outbox.applied_since(s, project, generation) if m not in busy]
            rows = outbox.rows_by_id(s, changed)
        if not changed:
            return
        gone = [m for m in changed if m not in rows or rows[m].status == Status.DELETED]
        self.index.delete(project, gone)
        self.index.upsert(
            project, self._index_rows([rows[m] for m in changed if m not in gone], {})
        )
        log.info("rebuild of %s: redid %d changes applied during the swap", project, len(changed))

    def heal(self, project: str) -> ReconcileReport:
        """Make a project's index whole: reconcile it with SQL, or rebuild it from SQL when
        its table cannot be read (a lost or corrupt fragment). Runs in the background."""
        try:
            self.index.read_through(project)  # streamed reconciliation reads too little
            report = self.reconcile(project)
        except Exception as exc:
            if not is_index_damage(exc):
                raise
            log.warning(
                "index repair of %s: the table cannot be read to reconcile it (%s: %s); "
                "rebuilding it from SQL",
                project,
                type(exc).__name__,
                exc,
                extra={"project": project, "repair": "rebuild", "error": str(exc)},
            )
            report = self.rebuild(project)
        self.cache.forget(project)
        return report

    def hold_pending(self) -> list[str]:
        """Hold back the projects with pending index work until ``startup`` reconciles them."""
        with self.db.read() as s:
            waiting = outbox.pending_projects(s)
        self.cache.health.hold(waiting, RECONCILING)
        return waiting

    def startup(self) -> None:
        """The start-up reconciliation, meant for a background thread: the projects with
        pending index work answer ``IndexRebuilding`` until theirs is done (each released
        as soon as it is), every other project serves from the start."""
        health = self.cache.health
        try:
            waiting = self.hold_pending()
            with self.db.read() as s:
                everything = outbox.project_ids(s)
            for project in waiting + [p for p in everything if p not in waiting]:
                self._startup_one(project)
        except Exception:  # the maintenance thread retries; a failed start must not kill a server
            log.exception("start-up index reconciliation failed")
        finally:
            for project in health.held():
                if health.held().get(project) == RECONCILING:
                    health.release(project)
            health.started.set()

    def _startup_one(self, project: str) -> None:
        try:
            self.apply(project=project)
            report = self.reconcile(project)
            if report.embedded or report.updated or report.removed:
                log.info("index reconciled at start-up: %s", report)
        except Exception as exc:  # noqa: BLE001 - one project must not stop the others
            damaged = is_index_damage(exc)
            log.warning(
                "start-up reconciliation of %s failed (%s: %s)%s",
                project,
                type(exc).__name__,
                exc,
                "; index repair started" if damaged else "",
                extra={
                    "project": project,
                    "repair": "startup_failed" if damaged else None,
                    "error": str(exc),
                },
            )
            if damaged:
                self.cache.health.release(project)
                self.cache.health.repair_in_background(project, REBUILDING)
                return
        self.cache.health.release(project)

    def check_counts(self, limit: int = 20) -> list[str]:
        """Compare up to ``limit`` projects' row counts with SQL (rotating through them round
        by round); a mismatch starts a background repair. Returns the projects found out
        of step."""
        with self.db.read() as s:
            projects = outbox.project_ids(s)
        if not projects:
            return []
        start = self._count_cursor % len(projects)
        self._count_cursor = start + limit
        chosen = (projects[start:] + projects[:start])[:limit]
        wrong = [p for p in chosen if self._out_of_step(p)]
        for project in wrong:
            self.cache.health.repair_in_background(project, REBUILDING)
        return wrong

    def _out_of_step(self, project: str) -> bool:
        """Whether the table's row count disagrees with SQL, counted so that a change in
        flight (pending, or applied while counting) is never taken for damage: the index
        is counted first, then SQL, and the generation must not move in between. Logs
        why when it says yes (the caller starts a repair).

        The order of the SQL reads matters on PostgreSQL, where each statement sees what
        was committed before it (READ COMMITTED), not one snapshot: the live count comes
        first, then the pending check, then the generation. A change committed in time to
        be counted is then still pending, or its apply moved the generation after the
        first read, or it was in the table before the table was counted. (Checked pending
        before counting, a write committed in between was counted yet seen nowhere as in
        flight: the transient 503 of the two-server test.)"""
        if project in self.cache.health.held():
            return False
        with self.db.read() as s:
            first = outbox.generation(s, project)
        try:
            have = self.index.count(project)
        except Exception as exc:  # noqa: BLE001 - an unreadable table is out of step too
            log.warning(
                "index repair of %s: its table cannot be counted (%s: %s)",
                project,
                type(exc).__name__,
                exc,
                extra={"project": project, "repair": "count_failed", "error": str(exc)},
            )
            return True
        with self.db.read() as s:
            want = outbox.live_count(s, project)
            busy = bool(outbox.pending(s, project=project, limit=1))
            last = outbox.generation(s, project)
        if busy or last != first or have == want:
            return False
        log.warning(
            "index repair of %s: the table holds %d rows, SQL %d live memories "
            "(generation %d, nothing pending)",
            project,
            have,
            want,
            last,
            extra={
                "project": project,
                "repair": "count_mismatch",
                "index_rows": have,
                "sql_rows": want,
                "generation": last,
            },
        )
        return True

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
        # another server applies its own fresh entries right after its commit; taking them
        # too would have two processes delete-then-add one memory at once (on object
        # storage no file lock orders them), leaving it indexed twice
        self.apply(min_age_s=OUTBOX_RETRY_AFTER_S)
        self.compact_due()
        self.check_counts()

    def stop(self) -> None:
        """Stop the background maintenance after the round under way."""
        if self.ann is not None:
            self.ann.stop()
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
