"""The composition root: ``build_service(settings)`` wires storage, retrieval, audit and
the service, and closes them again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from memsvc.audit.checkpoints import Checkpointer, KeyPaths
from memsvc.audit.ledger import AuditLog
from memsvc.operations.access import Access
from memsvc.operations.audit import AuditReads
from memsvc.operations.calls import Calls
from memsvc.operations.curation import Curation
from memsvc.operations.dashboard import Dashboard
from memsvc.operations.events import RemoteRuleChanges, RuleEvents
from memsvc.operations.fleet import Fleet
from memsvc.operations.lifecycle import Lifecycle
from memsvc.operations.maintenance import Maintenance
from memsvc.operations.projects import Projects
from memsvc.operations.recall import Recall
from memsvc.operations.transfer import Transfer
from memsvc.operations.writes import Writes
from memsvc.retrieval.ann import AnnBuilder
from memsvc.retrieval.cache import ProjectCache
from memsvc.retrieval.candidates import CandidateSource
from memsvc.retrieval.compaction import CompactionPolicy
from memsvc.retrieval.context import ContextBuilder
from memsvc.retrieval.embedder import Embedder, make_embedder
from memsvc.retrieval.healing import IndexHealth
from memsvc.retrieval.indexing import IndexSync, change_reader
from memsvc.retrieval.neighbours import Neighbours
from memsvc.retrieval.search import Searcher
from memsvc.retrieval.tokens import TokenCounter
from memsvc.service import Collaborators, MemoryService
from memsvc.settings import Settings
from memsvc.store.database import Database, upgrade
from memsvc.store.index import LanceIndex
from memsvc.telemetry.metrics import Metrics

__all__ = ["BACKGROUND_RECONCILE_DELAY_S", "Components", "build_components", "build_service"]

NO_ANN_ROWS = 1 << 62
"""``AnnBuilder``'s size threshold when no search uses the LanceDB vector index."""
BACKGROUND_RECONCILE_DELAY_S = 2.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Components:
    """Everything ``build_components`` wired, for operators' tools and tests of the parts;
    the doors use ``service`` only."""

    service: MemoryService
    db: Database
    index: LanceIndex
    cache: ProjectCache
    sync: IndexSync
    audit: AuditLog
    source: CandidateSource


@contextmanager
def build_service(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    audit: AuditLog | None = None,
    reconcile_in_background: bool = False,
) -> Iterator[MemoryService]:
    """A ready service over ``settings.data_dir``: migrated, reconciled, maintained.

    ``reconcile_in_background`` returns before the start-up index reconciliation has run
    (``memsvc mcp`` answers ``initialize`` at once; it starts two seconds later); until it
    finishes, a search may miss writes that a crash left unindexed. Writes and SQL reads
    are unaffected.
    """
    with build_components(
        settings, embedder=embedder, audit=audit, reconcile_in_background=reconcile_in_background
    ) as parts:
        yield parts.service


def embedder_from(settings: Settings) -> Embedder:
    """The embedder ``settings`` name, with its backend and query options."""
    return make_embedder(
        settings.embedder,
        settings.embed_batch_size,
        backend=settings.embedder_backend,
        quantized_queries=settings.quantized_queries,
    )


@contextmanager
def build_components(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    audit: AuditLog | None = None,
    reconcile_in_background: bool = False,
) -> Iterator[Components]:
    """``build_service``, also handing out the parts it wired."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.auto_migrate:
        upgrade(settings.sqlalchemy_url)
    if audit is None:  # loads (or makes) the signing key before anything else is opened
        audit = AuditLog(settings.hash_audit_queries, Checkpointer.from_settings(settings))
    checkpoints = audit.checkpoints
    db = Database(settings.sqlalchemy_url)
    emb = embedder or embedder_from(settings)
    index = LanceIndex(settings.lance_path, emb.identity, emb.dim, settings.lance_storage_options)
    health = IndexHealth()
    cache = ProjectCache(index, emb.dim, settings.cache_mb << 20, change_reader(db), health)
    sync = IndexSync(db, index, emb, cache, settings.compact_every_writes, _policy(settings))
    health.repair = sync.heal
    # the LanceDB vector index is built only for the searches that use it
    ann_rows = settings.exact_scan_max_rows if settings.search_ann == "lance" else NO_ANN_ROWS
    sync.ann = AnnBuilder(index, cache, ann_rows)
    watch: RemoteRuleChanges | None = None
    try:
        if reconcile_in_background:
            # projects with pending index work answer IndexRebuilding from the first
            # request until theirs is reconciled; the rest serve at once
            sync.hold_pending()
            # a moment later: importing lancedb holds the interpreter for about a second,
            # which the process's first answers should not wait behind
            timer = threading.Timer(BACKGROUND_RECONCILE_DELAY_S, sync.startup)
            timer.daemon = True
            timer.start()
        else:
            sync.startup()
        if settings.background:
            sync.start(settings.maintenance_interval_s)
            if checkpoints is not None:
                checkpoints.start(db)
        source = CandidateSource(
            index, emb, cache, settings.exact_scan_max_rows, ann=settings.search_ann
        )
        metrics = Metrics()
        metrics.bind_gauges(
            sync.pending_count, cache.project_count, cache.row_count, cache.held_bytes
        )
        metrics.bind_index_health(
            lambda: len(health.held()), lambda: cache.loads, lambda: cache.catch_ups
        )
        metrics.bind_ann(sync.ann.building)
        events = RuleEvents()
        watch = RemoteRuleChanges(db, events, settings.rules_watch_interval_s)
        if settings.background:
            watch.start()
        parts = _collaborators(
            settings, db, audit, emb, index, cache, sync, source, metrics, events
        )
        service = MemoryService(settings, parts, metrics)
        yield Components(service, db, index, cache, sync, audit, source)
    finally:
        if watch is not None:
            watch.stop()
        sync.stop()
        if checkpoints is not None:
            checkpoints.stop()
            try:  # sign what is unsigned so a clean shutdown leaves no unsigned tail
                checkpoints.checkpoint_all(db)
            except Exception:
                log.exception("could not sign the audit chains at shutdown")
        db.dispose()


def _collaborators(
    settings: Settings,
    db: Database,
    audit: AuditLog,
    emb: Embedder,
    index: LanceIndex,
    cache: ProjectCache,
    sync: IndexSync,
    source: CandidateSource,
    metrics: Metrics,
    events: RuleEvents,
) -> Collaborators:
    """The service's collaborators, each given exactly what it uses."""
    limits, tokens = settings.limits, TokenCounter()
    calls = Calls(db, audit, metrics, events)
    searcher = Searcher(
        db, source, cache, settings.near_duplicate_cosine, metrics, settings.rerank_depth
    )
    context = ContextBuilder(db, searcher, tokens, limits.query_chars)
    neighbours = Neighbours(
        cache,
        settings.near_duplicate_cosine,
        settings.conflict_cosine,
        exact_max_rows=settings.exact_scan_max_rows,
    )
    writes = Writes(calls, emb, neighbours, sync, tokens, limits)
    return Collaborators(
        projects=Projects(calls, context, limits),
        writes=writes,
        recall=Recall(calls, searcher, context, audit, limits),
        curation=Curation(calls, cache, sync, audit),
        audit=AuditReads(calls, audit, KeyPaths.from_settings(settings)),
        access=Access(calls),
        maintenance=Maintenance(db, sync, emb),
        transfer=Transfer(calls, writes, sync, limits),
        lifecycle=Lifecycle(calls, sync, index, cache),
        fleet=Fleet(calls, sync, tokens, limits),
        dashboard=Dashboard(calls),
    )


def _policy(settings: Settings) -> CompactionPolicy:
    return CompactionPolicy(
        min_fragments=settings.compact_min_fragments,
        growth=settings.compact_growth,
        max_fragments=settings.compact_max_fragments,
        cleanup_grace_s=settings.index_cleanup_grace_s,
    )
