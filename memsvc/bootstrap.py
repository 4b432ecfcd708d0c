"""The composition root: ``build_service(settings)`` wires storage, retrieval, audit and
the service, and closes them again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from memsvc.audit import AuditLog
from memsvc.checkpoints import Checkpointer
from memsvc.indexing import IndexSync
from memsvc.retrieval.dense import DenseCache
from memsvc.retrieval.embedder import Embedder, make_embedder
from memsvc.retrieval.search import Retriever
from memsvc.retrieval.tokens import TokenCounter
from memsvc.service import MemoryService
from memsvc.settings import Settings
from memsvc.store.database import Database, upgrade
from memsvc.store.index import LanceIndex

__all__ = ["build_service"]

log = logging.getLogger(__name__)


@contextmanager
def build_service(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    audit: AuditLog | None = None,
) -> Iterator[MemoryService]:
    """A ready service over ``settings.data_dir``: migrated, reconciled, maintained."""
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
        reports = sync.reconcile_all()
        fixed = [r for r in reports if r.embedded or r.updated or r.removed]
        if fixed:
            log.info("index reconciled at start-up: %s", fixed)
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
