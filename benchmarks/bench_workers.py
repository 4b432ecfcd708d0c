"""Throughput of `memsvc serve --workers N` against one process, on one data dir.

Serves a filled data dir (see `bench_scale.py`, which fills `<root>/one-<size>`) with each
worker count in turn, alternating the counts over the rounds so the machine's noise falls
on all of them, and reports per count: one client's search p50, 4 clients' searches/s,
the server's CPU seconds per search (supervisor and workers, from /proc) and the resident
memory of all its processes.

    python benchmarks/bench_workers.py --data /tmp/memsvc-scale/one-100000 --workers 1,2
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.bench_scale import (
    concurrent,
    cpu_seconds,
    first_answer,
    loadavg,
    rss_bytes,
    served,
    server_embedder,
    timed_searches,
)
from benchmarks.common import synthetic_queries

RESULTS = Path(__file__).parent / "results"


def tree(pid: int) -> list[int]:
    """``pid`` and its children (the workers)."""
    kids = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(k) for k in kids.read_text().split()] if kids.exists() else []
    return [pid, *children]


def cpu_s(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def workers_up(base: str, want: int, timeout_s: float = 300) -> None:
    """Wait until ``want`` distinct processes answered, each then warmed by searches."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(seen) < want and time.monotonic() < deadline:
        r = httpx.get(base + "/health", headers={"Connection": "close"}, timeout=30)
        seen.add(int(r.json()["process"]))
        time.sleep(0.05)


def settled(base: str, workers: int, timeout_s: float = 1200) -> None:
    """Until every worker has loaded the project and trained its coarse quantizer: warm
    searches and readiness probes on new connections (any worker may take each)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = []
        for _ in range(6 * workers):
            with httpx.Client(base_url=base, timeout=300, headers={"Connection": "close"}) as c:
                timed_searches(c, [("scale", "warm up")])
                coarse = c.get("/ready").json().get("coarse_index") or {}
                states.append(bool(coarse.get("projects")) and not coarse.get("training"))
        if all(states):
            return
        time.sleep(2)


def one_round(base: str, pids: list[int], seed: int, n: int, clients: int) -> dict[str, float]:
    queries = synthetic_queries(2 * n, seed=seed)
    with httpx.Client(base_url=base, timeout=300) as c:
        c0 = cpu_s(pids)
        lat = timed_searches(c, [("scale", q) for q in queries[:n]])
        cpu = (cpu_s(pids) - c0) / n
    rate, _ = concurrent(base, [("scale", q) for q in queries[n:]], clients)
    return {"p50": statistics.median(lat) * 1000, "rate": rate, "cpu": cpu * 1000}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--queries", type=int, default=150)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--out", type=Path, default=RESULTS / "workers.md")
    args = p.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    load_start = loadavg()
    runs: dict[int, list[dict[str, float]]] = {w: [] for w in counts}
    rss: dict[int, list[float]] = {w: [] for w in counts}
    for rnd in range(args.rounds):
        for w in counts if rnd % 2 == 0 else counts[::-1]:
            env = {"MEMSVC_WORKERS": str(w)}
            with served(args.data, server_embedder("minilm"), env) as (proc, base):
                first_answer(base, "scale", time.perf_counter())
                workers_up(base, w)
                settled(base, w)
                pids = tree(proc.pid)
                runs[w].append(one_round(base, pids, 100 + rnd, args.queries, args.clients))
                rss[w].append(sum(rss_bytes(pid) for pid in pids) / 2**20)
                print(w, runs[w][-1], f"rss {rss[w][-1]:.0f} MB, load {loadavg()}", flush=True)
    lines = [
        "# `memsvc serve --workers N`: one data dir, N processes on one address",
        "",
        f"- command: `python benchmarks/bench_workers.py --data {args.data} "
        f"--workers {args.workers} --rounds {args.rounds}`",
        f"- machine: {os.cpu_count()} CPUs (nproc), {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; load average {load_start} at the start, "
        f"{loadavg()} at the end",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_commit()}",
        f"- per round and worker count: {args.queries} searches from one client (p50, and the "
        "server's CPU per search: supervisor and workers, utime + stime from /proc), then "
        f"{args.queries} from {args.clients} clients at once (searches/s); the real MiniLM "
        "(ONNX) embeds every query; counts alternate over the rounds",
        "",
        "| workers | 1 client p50 ms (rounds) | CPU ms per search | "
        f"{args.clients} clients searches/s (rounds) | RSS of all processes, MB |",
        "|---|---|---|---|---|",
    ]
    for w in counts:
        r = runs[w]
        lines.append(
            f"| {w} | {_med(r, 'p50')} | {_med(r, 'cpu')} | {_med(r, 'rate')} | "
            f"{statistics.median(rss[w]):.0f} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())


def _med(rows: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in rows]
    spread = ", ".join(f"{v:.1f}" for v in values)
    return f"{statistics.median(values):.1f} ({spread})"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


if __name__ == "__main__":
    main()
