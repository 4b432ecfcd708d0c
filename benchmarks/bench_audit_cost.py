"""The fixed cost of a read's audit event: the SQL statements of one search's audit write
(``Calls._record_alone``) with their time, and the in-process search latency of two code
versions side by side in one run.

    # the statements of one search's audit write, on SQLite and (with --url) PostgreSQL
    .venv/bin/python benchmarks/bench_audit_cost.py statements [--url postgresql://...]

    # what PRAGMA synchronous=FULL (an fsync per commit) would add to it on SQLite
    .venv/bin/python benchmarks/bench_audit_cost.py statements --synchronous FULL

    # before/after: a worker process per code version over copies of one 10k data dir,
    # alternating blocks of cached-query searches
    .venv/bin/python benchmarks/bench_audit_cost.py compare --before <commit> [--rounds 12]

    # the same over MCP stdio: a `memsvc mcp` per version, search_memories round trips
    .venv/bin/python benchmarks/bench_audit_cost.py mcp --before <commit> [--rounds 12]

``compare`` fills ``--data`` with ``bench_scale.fill_dir`` (one project of ``--memories``,
hash vectors under MiniLM's identity, so the real model embeds the queries), copies it
once per version, and runs ``search_memories`` in each worker; the workers take turns, a
block of ``--block`` searches each, so a noisy machine slows both alike. The "before"
worker (and ``memsvc mcp`` server) imports the packages of ``git archive <commit>``
(``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("PYTHONPATH"):  # with one, the version it names is measured
    sys.path.insert(0, str(ROOT))


# -- statements ---------------------------------------------------------------------------


@contextmanager
def captured(engine_cls: Any) -> Iterator[list[tuple[str, float]]]:
    """Every statement run on any engine while active, with its execution time."""
    from sqlalchemy import event

    out: list[tuple[str, float]] = []
    starts: list[float] = []

    def before(*_: Any) -> None:
        starts.append(time.perf_counter())

    def after(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        out.append((" ".join(statement.split()), time.perf_counter() - starts.pop()))

    event.listen(engine_cls, "before_cursor_execute", before)
    event.listen(engine_cls, "after_cursor_execute", after)
    try:
        yield out
    finally:
        event.remove(engine_cls, "before_cursor_execute", before)
        event.remove(engine_cls, "after_cursor_execute", after)


def statements(url: str | None, searches: int, synchronous: str | None = None) -> str:
    """The statements of one search's audit write, and medians over ``searches`` runs."""
    from sqlalchemy import Engine, event

    from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, SearchQuery, Settings
    from memsvc.bootstrap import build_components
    from memsvc.domain import Kind
    from memsvc.operations.calls import Calls
    from memsvc.retrieval.embedder import HashEmbedder

    actor = Actor.local(Channel.CLI)
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "d", background=False, embedder="hash", database_url=url
        )
        with build_components(settings, embedder=HashEmbedder(64)) as parts:
            svc = parts.service
            svc.create_project(actor, ProjectCreate(id="p"))
            drafts = [
                MemoryDraft(kind=Kind.FACT, content=f"note {i}: the deploy uses host {i % 17}")
                for i in range(200)
            ]
            svc.add_memories(actor, "p", drafts)
            if synchronous is not None:  # what a stricter SQLite setting would cost
                writer = parts.db._writer

                @event.listens_for(writer, "connect")
                def _strict(dbapi_conn: Any, _record: Any) -> None:
                    dbapi_conn.execute(f"PRAGMA synchronous={synchronous}")

                writer.dispose()
            real = Calls._record_alone
            audit_s: list[float] = []
            per: dict[str, list[float]] = {}
            shown: list[tuple[str, float]] = []

            def timed(self: Calls, call: Any, outcome: Any, *, strict: bool) -> None:
                with captured(Engine) as got:
                    begin = time.perf_counter()
                    real(self, call, outcome, strict=strict)
                    audit_s.append(time.perf_counter() - begin)
                for n, (sql, took) in enumerate(got):
                    per.setdefault(f"{n:02d} {sql}", []).append(took)
                shown[:] = got

            Calls._record_alone = timed  # type: ignore[method-assign]
            try:
                for i in range(searches + 5):
                    if i == 5:
                        audit_s.clear()
                        per.clear()
                    svc.search_memories(actor, "p", SearchQuery(query=f"deploy host {i % 17}"))
            finally:
                Calls._record_alone = real  # type: ignore[method-assign]
            dialect = parts.db.dialect
    pragma = f", PRAGMA synchronous={synchronous}" if synchronous else ""
    lines.append(f"### {dialect}{pragma}: {searches} searches, {len(shown)} statements in the last")
    lines.append("")
    lines.append(f"Whole audit write (`Calls._record_alone`) median {_ms(audit_s)} ms.")
    lines.append("")
    lines.append("| # | statement | searches that ran it | median ms |")
    lines.append("|---|---|---|---|")
    total = 0.0
    for key, values in per.items():
        n, sql = key.split(" ", 1)
        med = statistics.median(values) * 1000
        total += med
        sql = sql if len(sql) <= 110 else sql[:107] + "..."
        lines.append(f"| {int(n) + 1} | `{sql}` | {len(values)} | {med:.3f} |")
    lines.append(f"| | sum of statement medians | | {total:.3f} |")
    return "\n".join(lines)


# -- compare ------------------------------------------------------------------------------

SOURCES = ("memsvc", "benchmarks", "migrations", "mcp_server", "memsvc_cli")


def versions_side_by_side(filled: Path, work: Path, before: str) -> dict[str, tuple[Path, str]]:
    """Per version, a copy of the filled data dir and the ``PYTHONPATH`` that imports it."""
    out: dict[str, tuple[Path, str]] = {}
    for name, commit in (("before", before), ("after", None)):
        copy = work / name
        shutil.copytree(filled, copy)
        if commit is None:
            out[name] = (copy, str(ROOT))
            continue
        src = work / f"src-{name}"
        src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, *SOURCES], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        out[name] = (copy, str(src))
    return out


def worker(data: Path, project: str, queries: int) -> None:
    """One code version: search on command (``<first> <count>`` per line), reply with the
    wall and CPU seconds of each search and of its audit write."""
    from benchmarks.common import synthetic_queries
    from memsvc import Actor, Channel, SearchQuery, Settings
    from memsvc.bootstrap import build_components
    from memsvc.operations.calls import Calls

    actor = Actor.local(Channel.CLI)
    real = Calls._record_alone
    audit: list[float] = []
    audit_cpu: list[float] = []

    def timed(self: Calls, call: Any, outcome: Any, *, strict: bool) -> None:
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        real(self, call, outcome, strict=strict)
        audit.append(time.perf_counter() - begin)
        audit_cpu.append(time.thread_time() - begin_cpu)

    Calls._record_alone = timed  # type: ignore[method-assign]
    settings = Settings(data_dir=data, background=False, embedder="minilm")
    texts = synthetic_queries(queries, seed=3)
    with build_components(settings) as parts:
        svc = parts.service
        for q in texts:  # every query's vector cached: the model is out of the timing
            svc.search_memories(actor, project, SearchQuery(query=q))
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            first, count = map(int, line.split())
            wall, cpu = [], []
            audit.clear()
            audit_cpu.clear()
            for i in range(first, first + count):
                begin, begin_cpu = time.perf_counter(), time.thread_time()
                svc.search_memories(actor, project, SearchQuery(query=texts[i % len(texts)]))
                wall.append(time.perf_counter() - begin)
                cpu.append(time.thread_time() - begin_cpu)
            reply = {"wall": wall, "cpu": cpu, "audit": audit, "audit_cpu": audit_cpu}
            print(json.dumps(reply), flush=True)


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def _range(values: list[float]) -> str:
    v = sorted(x * 1000 for x in values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return f"{statistics.median(v):.2f} (p95 {p95:.2f}; {v[0]:.2f}-{v[-1]:.2f})"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _header(args: argparse.Namespace, mode: str, load: tuple[float, float]) -> list[str]:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return [
        f"- command: `.venv/bin/python benchmarks/bench_audit_cost.py {mode} --before "
        f"{args.before} --memories {args.memories} --rounds {args.rounds} --block {args.block}`",
        f"- commits: before `{args.before}`, after `{head}` (working tree)",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {load[0]:.2f} at start, "
        f"{load[1]:.2f} at end",
        f"- {args.rounds} rounds x {args.block} searches per version, alternating (the order "
        f"flips every round); {args.rounds * args.block} searches each, every query's vector "
        "cached",
        "",
    ]


def mcp(args: argparse.Namespace) -> str:
    """``search_memories`` round trips over stdio: a ``memsvc mcp`` per version."""
    import anyio
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from benchmarks.bench_scale import fill_dir
    from benchmarks.common import synthetic_queries

    filled = args.data / f"one-{args.memories}"
    fill_dir(filled, {"scale": args.memories}, "minilm", _log)
    work = Path(tempfile.mkdtemp(prefix="audit-cost-mcp-"))
    texts = synthetic_queries(100, seed=3)
    memsvc = str(Path(sys.executable).with_name("memsvc"))
    got: dict[str, list[float]] = {"before": [], "after": []}
    load_start = os.getloadavg()[0]

    async def run() -> None:
        sides = versions_side_by_side(filled, work, args.before)
        clients: dict[str, Any] = {}
        async with AsyncExitStack() as stack:
            devnull = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115
            for name, (copy, path) in sides.items():
                env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSVC_")}
                env.update(MEMSVC_DATA_DIR=str(copy), MEMSVC_EMBEDDER="minilm", PYTHONPATH=path)
                params = StdioServerParameters(
                    command=memsvc, args=["mcp", "--project", "scale"], env=env, cwd=str(work)
                )
                client = Client(stdio_client(params, errlog=devnull), mode="legacy")
                clients[name] = await stack.enter_async_context(client)
                for q in texts:  # every query's vector cached
                    await clients[name].call_tool("search_memories", {"query": q, "limit": 10})
            order = list(clients)
            for r in range(args.rounds):
                for name in order if r % 2 == 0 else order[::-1]:
                    for i in range(r * args.block, (r + 1) * args.block):
                        query = {"query": texts[i % len(texts)], "limit": 10}
                        begin = time.perf_counter()
                        result = await clients[name].call_tool("search_memories", query)
                        got[name].append(time.perf_counter() - begin)
                        assert not result.is_error, result.content

    try:
        anyio.run(run)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = _header(args, "mcp", (load_start, os.getloadavg()[0]))
    lines += [
        "| ms, median (p95; min-max) | before | after |",
        "|---|---|---|",
        f"| stdio `search_memories` round trip (limit 10) | {_range(got['before'])} | "
        f"{_range(got['after'])} |",
    ]
    return "\n".join(lines)


def compare(args: argparse.Namespace) -> str:
    from benchmarks.bench_scale import fill_dir

    data: Path = args.data
    filled = data / f"one-{args.memories}"
    fill_dir(filled, {"scale": args.memories}, "minilm", _log)
    work = Path(tempfile.mkdtemp(prefix="audit-cost-"))
    procs: dict[str, subprocess.Popen[str]] = {}
    load_start = os.getloadavg()[0]
    try:
        for name, (copy, path) in versions_side_by_side(filled, work, args.before).items():
            procs[name] = subprocess.Popen(
                [sys.executable, __file__, "worker", "--data", str(copy)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=dict(os.environ, PYTHONPATH=path),
                cwd=str(work),
            )
        for name, proc in procs.items():
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline())
            assert ready["ready"], name
        got: dict[str, dict[str, list[float]]] = {
            n: {"wall": [], "cpu": [], "audit": [], "audit_cpu": []} for n in procs
        }
        order = list(procs)
        for r in range(args.rounds):
            for name in order if r % 2 == 0 else order[::-1]:
                proc = procs[name]
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(f"{r * args.block} {args.block}\n")
                proc.stdin.flush()
                reply = json.loads(proc.stdout.readline())
                for key in got[name]:
                    got[name][key].extend(reply[key])
    finally:
        for proc in procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    lines = _header(args, "compare", (load_start, os.getloadavg()[0]))
    lines += ["| ms, median (p95; min-max) | before | after |", "|---|---|---|"]
    labels = {
        "wall": "search_memories, wall",
        "cpu": "search_memories, CPU (calling thread)",
        "audit": "of which the audit write (`_record_alone`), wall",
        "audit_cpu": "of which the audit write, CPU",
    }
    for key, label in labels.items():
        lines.append(f"| {label} | {_range(got['before'][key])} | {_range(got['after'][key])} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    st = sub.add_parser("statements")
    st.add_argument("--url", default=None, help="a PostgreSQL URL (default: SQLite)")
    st.add_argument("--searches", type=int, default=200)
    st.add_argument("--synchronous", default=None, help="SQLite: e.g. FULL instead of NORMAL")
    for mode in ("compare", "mcp"):
        cp = sub.add_parser(mode)
        cp.add_argument("--before", required=True, help="the commit to compare with")
        cp.add_argument("--data", type=Path, default=Path("/tmp/memsvc-audit-cost"))
        cp.add_argument("--memories", type=int, default=10_000)
        cp.add_argument("--rounds", type=int, default=12)
        cp.add_argument("--block", type=int, default=25)
    wk = sub.add_parser("worker")
    wk.add_argument("--data", type=Path, required=True)
    wk.add_argument("--project", default="scale")
    wk.add_argument("--queries", type=int, default=100)
    args = p.parse_args()
    if args.mode == "statements":
        print(statements(args.url, args.searches, args.synchronous))
    elif args.mode == "compare":
        print(compare(args))
    elif args.mode == "mcp":
        print(mcp(args))
    else:
        worker(args.data, args.project, args.queries)


if __name__ == "__main__":
    main()
