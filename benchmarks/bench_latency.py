"""Latency and throughput of memsvc with the real model: add, search and context p50/p95 at
1k and 10k memories, through the service and through HTTP (a real `memsvc serve`), plus
batch ingest throughput beside the model's raw embedding throughput in the same run.

    make bench            # writes benchmarks/results/latency.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    RESULTS,
    header,
    summary,
    synthetic_memories,
    synthetic_queries,
)
from memsvc import (
    Actor,
    Channel,
    ContextRequest,
    MemoryDraft,
    ProjectCreate,
    SearchQuery,
    Settings,
    build_service,
)
from memsvc.domain import Kind
from memsvc.retrieval.embedder import MiniLMEmbedder

ACTOR = Actor.local(Channel.CLI)


def raw_embedding_rate(model: MiniLMEmbedder, texts: list[str]) -> float:
    model.embed(texts[:64])
    start = time.perf_counter()
    for i in range(0, len(texts), 64):
        model.embed(texts[i : i + 64])
    return len(texts) / (time.perf_counter() - start)


def ingest(svc: object, project: str, items: list[tuple[str, str]], batch: int) -> float:
    drafts = [MemoryDraft(kind=Kind(k), content=c) for k, c in items]
    start = time.perf_counter()
    for i in range(0, len(drafts), batch):
        svc.add_memories(ACTOR, project, drafts[i : i + batch])  # type: ignore[attr-defined]
    return len(drafts) / (time.perf_counter() - start)


def time_calls(fn: object, args: list[object]) -> list[float]:
    out = []
    for a in args:
        start = time.perf_counter()
        fn(a)  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def service_latencies(svc: object, project: str, n: int) -> dict[str, tuple[float, float]]:
    queries = synthetic_queries(n, seed=len(project))
    s = svc  # type: ignore[assignment]
    search = time_calls(
        lambda q: s.search_memories(ACTOR, project, SearchQuery(query=q, limit=10)), queries
    )
    cached = time_calls(
        lambda q: s.search_memories(ACTOR, project, SearchQuery(query=q, limit=10)), queries
    )
    context = time_calls(
        lambda q: s.get_context(ACTOR, project, ContextRequest(task=q, budget_tokens=2000)),
        queries[: n // 2],
    )
    adds = [c for _, c in synthetic_memories(n // 2, seed=99)]
    add = time_calls(
        lambda c: s.add_memory(ACTOR, project, MemoryDraft(kind=Kind.FACT, content=f"new {c}")),
        adds,
    )
    return {
        "search (new query)": summary(search),
        "search (cached query vector)": summary(cached),
        "get_context (task, 2000 tokens)": summary(context),
        "add_memory": summary(add),
    }


def http_latencies(data_dir: Path, project: str, n: int) -> dict[str, tuple[float, float]]:
    port = 18765 + os.getpid() % 1000
    env = {**os.environ, "MEMSVC_DATA_DIR": str(data_dir)}
    exe = str(Path(sys.executable).with_name("memsvc"))
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            for _ in range(600):
                try:
                    if c.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            c.post(f"/projects/{project}/search", json={"query": "warm up the model"})
            queries = synthetic_queries(n, seed=len(project) + 1)
            search = time_calls(
                lambda q: c.post(
                    f"/projects/{project}/search", json={"query": q}
                ).raise_for_status(),
                queries,
            )
            context = time_calls(
                lambda q: c.post(
                    f"/projects/{project}/context", json={"task": q, "budget_tokens": 2000}
                ).raise_for_status(),
                queries[: n // 2],
            )
            add = time_calls(
                lambda q: c.post(
                    f"/projects/{project}/memories", json={"kind": "fact", "content": f"http {q}"}
                ).raise_for_status(),
                queries[: n // 2],
            )
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
    return {
        "search (new query)": summary(search),
        "get_context (task, 2000 tokens)": summary(context),
        "add_memory": summary(add),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default=str(RESULTS / "latency.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    model = MiniLMEmbedder()
    model.warm()
    lines = header("Latency and throughput", "make bench  # python benchmarks/bench_latency.py")
    corpus = synthetic_memories(max(sizes))
    raw = raw_embedding_rate(model, [c for _, c in corpus[:2048]])
    rows: list[str] = []
    ingest_rows: list[str] = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            settings = Settings(data_dir=data, background=False)
            project = f"bench-{size}"
            with build_service(settings, embedder=model) as svc:
                svc.create_project(ACTOR, ProjectCreate(id=project))
                rate = ingest(svc, project, corpus[:size], batch=500)
                ingest_rows.append(f"| {size} | {rate:.0f} | {raw:.0f} | {100 * rate / raw:.0f}% |")
                for name, (p50, p95) in service_latencies(svc, project, args.queries).items():
                    rows.append(f"| {size} | service | {name} | {p50:.1f} | {p95:.1f} |")
            for name, (p50, p95) in http_latencies(data, project, args.queries).items():
                rows.append(f"| {size} | HTTP | {name} | {p50:.1f} | {p95:.1f} |")
        print(f"done {size}", flush=True)
    lines += [
        "Real all-MiniLM-L6-v2 (torch CPU), real SQLite + LanceDB in a temp dir, one project, "
        "audit on. Synthetic engineering notes (benchmarks/common.py); every timed search uses "
        f"a query not seen before unless marked cached; {args.queries} searches per row, half "
        "as many contexts and adds. HTTP rows go through a real `memsvc serve` subprocess, "
        "one request at a time over loopback.",
        "",
        "## Latency (ms)",
        "",
        "| memories | path | operation | p50 | p95 |",
        "|---:|---|---|---:|---:|",
        *rows,
        "",
        "## Batch ingest throughput (memories/s)",
        "",
        "Batches of 500 through `add_memories` (validation, redaction, dedup, SQL, audit, "
        "outbox, LanceDB) beside the model's raw `encode` rate on batches of 64 in the same run.",
        "",
        "| memories | ingest/s | raw embedding/s | ratio |",
        "|---:|---:|---:|---:|",
        *ingest_rows,
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
