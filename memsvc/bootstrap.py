"""The composition root: ``build_service(settings)`` wires storage, retrieval, audit and
the service, and closes them again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from memsvc.audit.checkpoints import Checkpointer
from memsvc.audit.ledger import AuditLog
from memsvc.retrieval.dense import DenseCache
from memsvc.retrieval.embedder import Embedder, make_embedder
from memsvc.retrieval.indexing import IndexSync
from memsvc.retrieval.search import Retriever
from memsvc.retrieval.tokens import TokenCounter
from memsvc.service import MemoryService
from memsvc.settings import Settings
from memsvc.store.database import Database, upgrade
from memsvc.store.index import LanceIndex

__all__ = ["BACKGROUND_RECONCILE_DELAY_S", "build_service"]

BACKGROUND_RECONCILE_DELAY_S = 2.0

log = logging.getLogger(__name__)


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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.auto_migrate:
        upgrade(settings.sqlalchemy_url)
    if audit is None:  # loads (or makes) the signing key before anything else is opened
        audit = AuditLog(settings.hash_audit_queries, Checkpointer.from_settings(settings))
    checkpoints = audit.checkpoints
    db = Database(settings.sqlalchemy_url)
    emb = embedder or make_embedder(settings.embedder, settings.embed_batch_size)
    index = LanceIndex(settings.lance_path, emb.identity, emb.dim)
    cache = DenseCache(index, emb.dim)
    sync = IndexSync(db, index, emb, cache, settings.compact_every_writes)
    try:
        if reconcile_in_background:
            # a moment later: importing lancedb holds the interpreter for about a second,
            # which the process's first answers should not wait behind
            timer = threading.Timer(BACKGROUND_RECONCILE_DELAY_S, _reconcile, args=(sync,))
            timer.daemon = True
            timer.start()
        else:
            _reconcile(sync)
        if settings.background:
            sync.start(settings.maintenance_interval_s)
            if checkpoints is not None:
                checkpoints.start(db)
        yield MemoryService(
            settings=settings,
            db=db,
            retriever=Retriever(index, emb, cache, settings.exact_scan_max_rows),
            sync=sync,
            audit=audit,
            tokens=TokenCounter(),
        )
    finally:
        sync.stop()
        if checkpoints is not None:
            checkpoints.stop()
            try:  # sign what is unsigned so a clean shutdown leaves no unsigned tail
                checkpoints.checkpoint_all(db)
            except Exception:
                log.exception("could not sign the audit chains at shutdown")
        db.dispose()


def _reconcile(sync: IndexSync) -> None:
    try:
        reports = sync.reconcile_all()
    except Exception:  # the maintenance thread retries; a failed start must not kill a server
        log.exception("start-up index reconciliation failed")
        return
    fixed = [r for r in reports if r.embedded or r.updated or r.removed]
    if fixed:
        log.info("index reconciled at start-up: %s", fixed)
