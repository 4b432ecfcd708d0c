"""Search latency with episodes per writer stream (issue 14): one project of ``--rows``
memories written through ``MemoryService`` by ``--writers`` agents whose writes
interleave in time, searched in process by two versions of the library in turn (this
checkout and ``--base``, another checkout), each in a subprocess of its own, alternated.

    python benchmarks/bench_streams.py --base /tmp/base --rows 10000 --writers 1 2 --rounds 4

The data dir is built once per writer count (by this checkout: its table has the stream
column, which an earlier version does not read). Each timing subprocess loads the
project (one search, not timed), then times ``--searches`` searches of
``synthetic_queries`` (hash embedder, the exact scan, audit write included) and prints
the median and p95 of the wall time and the median thread CPU time per search.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
PROJECT = "streams"


def _library(root: Path) -> None:
    sys.path.insert(0, str(root))
    sys.path.insert(1, str(HERE))


def build(data_dir: Path, rows: int, writers: int) -> None:
    _library(HERE)
    from benchmarks.common import synthetic_memories
    from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, Settings
    from memsvc.bootstrap import build_components
    from memsvc.domain import Kind, ProvenanceIn

    actor = Actor.local(Channel.REST)
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    settings = Settings(data_dir=data_dir, background=False, embedder="hash")
    with build_components(settings) as parts:
        parts.service.create_project(actor, ProjectCreate(id=PROJECT))
        drafts = [
            MemoryDraft(
                kind=Kind(kind),
                content=text,
                # a write every ~40 s with an hour's pause every ~200 rows, writers in turn
                valid_from=start + timedelta(seconds=40 * i + 4000 * (i // 200)),
                provenance=ProvenanceIn(agent=f"agent-{i % writers}"),
            )
            for i, (kind, text) in enumerate(synthetic_memories(rows, seed=7))
        ]
        for at in range(0, rows, 500):
            parts.service.add_memories(actor, PROJECT, drafts[at : at + 500])


def timed(data_dir: Path, code: Path, searches: int) -> dict[str, float]:
    _library(code)
    import memsvc
    from benchmarks.common import synthetic_queries
    from memsvc import Actor, Channel, SearchQuery, Settings
    from memsvc.bootstrap import build_components

    actor = Actor.local(Channel.REST)
    queries = synthetic_queries(searches + 1, seed=3)
    settings = Settings(data_dir=data_dir, background=False, embedder="hash")
    wall: list[float] = []
    cpu: list[float] = []
    with build_components(settings) as parts:
        parts.service.search_memories(actor, PROJECT, SearchQuery(query=queries[-1]))
        for text in queries[:searches]:
            began, began_cpu = time.perf_counter(), time.thread_time()
            parts.service.search_memories(actor, PROJECT, SearchQuery(query=text))
            cpu.append(time.thread_time() - began_cpu)
            wall.append(time.perf_counter() - began)
    wall.sort()
    assert Path(memsvc.__file__).resolve().is_relative_to(code.resolve()), memsvc.__file__
    return {
        "p50_ms": 1000 * statistics.median(wall),
        "p95_ms": 1000 * wall[round(0.95 * (len(wall) - 1))],
        "cpu_ms": 1000 * statistics.median(cpu),
    }


def compare(args: argparse.Namespace) -> None:
    codes = {"before": Path(args.base).resolve(), "after": HERE}
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="memsvc-streams-") as tmp:
        for writers in args.writers:
            data_dir = Path(tmp) / f"w{writers}"
            _run(["--build", str(data_dir)], args, writers)
            got: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
            for _ in range(args.rounds):
                for name, code in codes.items():
                    out = _run(["--time", str(data_dir), "--code", str(code)], args, writers)
                    got[name].append(json.loads(out.strip().splitlines()[-1]))
            for name, runs in got.items():
                p50 = [r["p50_ms"] for r in runs]
                cpu = [r["cpu_ms"] for r in runs]
                p95 = [r["p95_ms"] for r in runs]
                print(
                    f"| {args.rows} | {writers} | {name} | {statistics.median(p50):.2f} "
                    f"({min(p50):.2f}-{max(p50):.2f}) | {statistics.median(p95):.2f} | "
                    f"{statistics.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) |",
                    flush=True,
                )


def _run(extra: list[str], args: argparse.Namespace, writers: int) -> str:
    command = [sys.executable, __file__, *extra, "--rows", str(args.rows)]
    command += ["--writers", str(writers), "--searches", str(args.searches)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="the checkout to compare with (the code before)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--time", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build(args.build, args.rows, args.writers[0])
    elif args.time:
        result: Any = timed(args.time, args.code, args.searches)
        print(json.dumps(result))
    else:
        if not args.base:
            parser.error("--base is required")
        compare(args)


if __name__ == "__main__":
    main()
