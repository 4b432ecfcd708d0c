"""Several processes appending to one PostgreSQL ledger at once: one valid chain per project,
a gap-free global sequence, exactly one event per call, no errors.

Real processes (``multiprocessing`` with ``spawn``), each with its own ``build_service`` over
one shared database and one shared data dir (so one signing key and one head record), doing
reads and writes as fast as they can for a bounded time.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from memsvc import Actor, Channel, ProjectCreate, Role, build_service
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.models import AuditCheckpointRow, AuditEventRow
from tests.audit.helpers import ledger
from tests.conftest import make_settings

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS = 4
RUN_S = 6.0
PROJECTS = ("acme", "beta")


def _worker(url: str, data_dir: str, wid: int, go: Any, out: Any) -> None:
    """One process: once all are ready, reads and writes through the service for ``RUN_S``
    seconds; reports its counts."""
    from memsvc import Settings
    from memsvc.domain import ProjectPatch

    settings = Settings(
        data_dir=Path(data_dir),
        database_url=url,
        embedder="hash",
        background=False,
        auto_migrate=False,
        audit_checkpoint_every=7,  # small, so checkpoints are made concurrently as well
    )
    who = Actor(principal=f"worker{wid}", channel=Channel.REST, grants={"*": Role.ADMIN})
    ops = 0
    errors: list[str] = []
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        out.put(("ready", wid))
        go.wait(timeout=300)
        stop_at = time.monotonic() + RUN_S
        n = 0
        while time.monotonic() < stop_at:
            project = PROJECTS[n % len(PROJECTS)]
            try:
                match n % 4:
                    case 0:
                        svc.update_project(who, project, ProjectPatch(description=f"{wid}:{n}"))
                    case 1:
                        svc.get_project(who, project)
                    case 2:
                        svc.list_projects(who)
                    case _:
                        svc.list_memories(who, project)
                ops += 1
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            n += 1
    out.put((wid, ops, errors))


def test_concurrent_processes_on_postgresql_keep_one_valid_gap_free_chain(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = make_settings(tmp_path / "data", database_url=postgres_url)
    admin = Actor.local(Channel.CLI)
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        for project in PROJECTS:
            svc.create_project(admin, ProjectCreate(id=project))
        with ledger(svc).read() as s:
            setup_events = int(s.exec(select(func.count()).select_from(AuditEventRow)).one())

    ctx = multiprocessing.get_context("spawn")
    out, go = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(postgres_url, str(settings.data_dir), wid, go, out))
        for wid in range(WORKERS)
    ]
    for p in procs:
        p.start()
    # every process imports memsvc and opens its service first, then all start together
    assert sorted(out.get(timeout=240) for _ in procs) == [("ready", w) for w in range(WORKERS)]
    go.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0

    errors = [e for _, _, errs in results for e in errs]
    assert errors == [], errors[:5]
    ops = {f"worker{wid}": n for wid, n, _ in results}
    assert all(n >= 5 for n in ops.values()), ops

    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        with ledger(svc).read() as s:
            seqs = list(s.exec(select(AuditEventRow.seq).order_by(col(AuditEventRow.seq))))
            per_principal = dict(
                s.exec(
                    select(AuditEventRow.principal, func.count())
                    .where(col(AuditEventRow.principal).startswith("worker"))
                    .group_by(AuditEventRow.principal)
                ).all()
            )
            prevs = list(s.exec(select(AuditEventRow.chain, AuditEventRow.prev_hash)))
            order = list(
                s.exec(
                    select(AuditEventRow.principal)
                    .where(col(AuditEventRow.principal).startswith("worker"))
                    .order_by(col(AuditEventRow.seq))
                )
            )
            checkpoints = int(s.exec(select(func.count()).select_from(AuditCheckpointRow)).one())
            key_ids = set(s.exec(select(AuditCheckpointRow.key_id)))
        # the processes really wrote alongside each other: their events interleave
        switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
        assert switches >= 2 * WORKERS, order
        # exactly one event per call, none dropped, none doubled
        assert per_principal == ops
        assert len(seqs) == setup_events + sum(ops.values())
        # the global sequence has neither gaps nor duplicates
        assert seqs == list(range(1, len(seqs) + 1))
        # no fork: no two events of a chain link to the same predecessor
        assert len(prevs) == len(set(prevs))
        assert checkpoints > WORKERS and len(key_ids) == 1
        # memsvc's own verifier: chains, checkpoints, signatures and the head record
        assert svc.verify_audit() == (len(seqs), None)
