"""Audited-operation throughput on SQLite and PostgreSQL with 1 and 2 processes sharing one
database: what the ledger's single-writer lock costs when several servers write.

On PostgreSQL two lock placements are compared in the same run: ``late`` (memsvc's: a
per-project lock at the start of a caller's change, the ledger lock only around the
audit append and commit) and ``early`` (the previous placement, re-created inside the
benchmark's workers: the ledger lock first thing in every write transaction plus one
writer per process), with all workers on one project (``one``) or each on its own
(``own``).

Each process builds its own service (hash embedder, no index work) and runs SQL-only
operations in a loop for ``--seconds``: ``update_project`` (a write plus its audit event in
one transaction) and ``get_project`` (a read plus its audit event in its own write
transaction), alternating. Rounds are interleaved (SQLite 1, PostgreSQL 1, SQLite 2, ...)
and repeated ``--rounds`` times; the table gives medians and ranges over rounds, and every
round ends with ``verify_audit`` (it must pass, or the benchmark fails).

    .venv/bin/python benchmarks/bench_sql_backends.py \
        --postgres-url postgresql://postgres@127.0.0.1:5432/test [--seconds 5 --rounds 3]

The PostgreSQL URL names an admin database; the benchmark creates and drops its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, header, pct  # noqa: E402


def _early_lock() -> None:
    """Re-create the previous placement: ledger lock at the start of every write
    transaction, and one writer at a time inside the process."""
    import threading
    from contextlib import contextmanager

    from sqlmodel import Session

    from memsvc.store import database

    one_writer = threading.Lock()

    @contextmanager
    def transaction(self: Any) -> Any:
        with (
            database.translate_errors(self.url),
            one_writer,
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            database.ledger_lock(session)
            yield session

    database.Database._transaction = transaction  # type: ignore[method-assign]


def _worker(
    url: str | None, data_dir: str, wid: int, seconds: float, go: Any, out: Any, mode: str
) -> None:
    from memsvc import Actor, Channel, Role, Settings, build_service
    from memsvc.domain import ProjectPatch
    from memsvc.retrieval.embedder import HashEmbedder

    settings = Settings(
        data_dir=Path(data_dir),
        database_url=url,
        embedder="hash",
        background=False,
        auto_migrate=False,
    )
    lock, projects = mode.split("/")
    if lock == "early":
        _early_lock()
    project = f"bench{wid}" if projects == "own" else "bench0"
    who = Actor(principal=f"bench{wid}", channel=Channel.REST, grants={"*": Role.ADMIN})
    lat: dict[str, list[float]] = {"update_project": [], "get_project": []}
    errors = 0
    with build_service(settings, embedder=HashEmbedder(64)) as svc:
        out.put("ready")
        go.wait(timeout=300)
        stop = time.monotonic() + seconds
        n = 0
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                if n % 2:
                    svc.get_project(who, project)
                    lat["get_project"].append(time.perf_counter() - t)
                else:
                    svc.update_project(who, project, ProjectPatch(description=f"{wid}:{n}"))
                    lat["update_project"].append(time.perf_counter() - t)
            except Exception:
                errors += 1
            n += 1
    out.put((lat, errors))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute(sql)  # type: ignore[arg-type]


def _round(
    backend: str, procs: int, mode: str, seconds: float, pg_admin: str | None
) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    from memsvc import Actor, Channel, ProjectCreate, Settings, build_service
    from memsvc.retrieval.embedder import HashEmbedder
    from memsvc.store.database import upgrade

    data = Path(tempfile.mkdtemp(prefix="memsvc-bench-sql-"))
    url: str | None = None
    dbname = f"memsvc_bench_{os.getpid()}_{secrets.token_hex(3)}"
    if backend == "postgresql":
        assert pg_admin is not None
        _admin(pg_admin, f'CREATE DATABASE "{dbname}"')
        url = make_url(pg_admin).set(database=dbname).render_as_string(hide_password=False)
    try:
        settings = Settings(data_dir=data, database_url=url, embedder="hash", background=False)
        upgrade(settings.sqlalchemy_url)
        with build_service(settings, embedder=HashEmbedder(64)) as svc:
            for w in range(procs):
                svc.create_project(Actor.local(Channel.CLI), ProjectCreate(id=f"bench{w}"))
        ctx = multiprocessing.get_context("spawn")
        out, go = ctx.Queue(), ctx.Event()
        workers = [
            ctx.Process(target=_worker, args=(url, str(data), w, seconds, go, out, mode))
            for w in range(procs)
        ]
        for p in workers:
            p.start()
        for _ in workers:
            assert out.get(timeout=300) == "ready"
        go.set()
        results = [out.get(timeout=300) for _ in workers]
        for p in workers:
            p.join(timeout=60)
        with build_service(settings, embedder=HashEmbedder(64)) as svc:
            events, broken = svc.verify_audit()
        if broken is not None:
            raise SystemExit(f"audit verify failed on {backend} x{procs}: {broken}")
        lat: dict[str, list[float]] = {"update_project": [], "get_project": []}
        for one, _ in results:
            for k, v in one.items():
                lat[k] += v
        ops = sum(len(v) for v in lat.values())
        return {
            "ops_s": ops / seconds,
            "errors": sum(e for _, e in results),
            "lat": lat,
            "events": events,
        }
    finally:
        if backend == "postgresql" and pg_admin is not None:
            _admin(pg_admin, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "sql_backends.md")
    args = ap.parse_args()
    from sqlalchemy.engine import make_url

    pg_admin = make_url(args.postgres_url).set(drivername="postgresql")
    admin = pg_admin.render_as_string(hide_password=False)
    load = os.getloadavg()[0]
    cells = [("sqlite", n, "late/one") for n in (1, 2)]
    cells += [
        ("postgresql", n, f"{lock}/{projects}")
        for lock in ("early", "late")
        for n, projects in ((1, "one"), (2, "one"), (2, "own"))
    ]
    got: dict[tuple[str, int, str], list[dict[str, Any]]] = {c: [] for c in cells}
    for r in range(args.rounds):
        for backend, procs, mode in cells:
            res = _round(backend, procs, mode, args.seconds, admin)
            got[(backend, procs, mode)].append(res)
            print(f"round {r + 1} {backend} x{procs} {mode}: {res['ops_s']:.1f} ops/s", flush=True)
    command = "python benchmarks/bench_sql_backends.py " + " ".join(
        a if "://" not in a else make_url(a).render_as_string(hide_password=True)
        for a in sys.argv[1:]
    )
    lines = header("SQL backends: audited operations with 1 and 2 processes", command)
    lines += [
        f"- load average at start: {load:.2f} (other work on the machine shows here); "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per cell",
        "- operations: `update_project` and `get_project` alternating, through the service, "
        "each leaving one audit event (hash chain + checkpoints); hash embedder, no index "
        "work. Every round ends with `verify_audit`, which passed in every round.",
        "",
        "| backend | processes | lock / projects | ops/s median | ops/s range "
        "| update p50 / p95 ms | get p50 / p95 ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, procs, mode in cells:
        rs = got[(backend, procs, mode)]
        rates = [x["ops_s"] for x in rs]
        upd = [v * 1000 for x in rs for v in x["lat"]["update_project"]]
        get = [v * 1000 for x in rs for v in x["lat"]["get_project"]]
        lines.append(
            f"| {backend} | {procs} | {mode if backend == 'postgresql' else '-'} | "
            f"{statistics.median(rates):.1f} | "
            f"{min(rates):.1f}-{max(rates):.1f} | "
            f"{statistics.median(upd):.1f} / {pct(upd, 95):.1f} | "
            f"{statistics.median(get):.1f} / {pct(get, 95):.1f} | "
            f"{sum(x['errors'] for x in rs)} |"
        )
    lines.append("")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
