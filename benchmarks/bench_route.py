"""The REST search route's cost outside retrieval: two code trees on one data dir, at once.

Serves a filled data dir (``bench_scale.py`` fills ``<root>/one-<size>``) twice, one
server per code tree (``PYTHONPATH`` picks the ``memsvc`` package: a worktree of the base
commit and the change), and measures both in one run so the machine's noise falls on
both: one client alternating its searches between the servers (p50/p95, each server's
CPU per search from /proc, and the route's time outside the search stages from its own
metrics), then rounds of ``--clients`` concurrent clients against each in turn
(searches/s), the order flipped every round.

    python benchmarks/bench_route.py --data /tmp/memsvc-scale/one-100000 \\
        --trees base=/work/wt-route-base,new=/work/wt-route
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_scale import (
    concurrent,
    cpu_seconds,
    first_answer,
    loadavg,
    served,
    server_embedder,
    stage_means,
    stage_totals,
)
from benchmarks.bench_workers import settled
from benchmarks.common import synthetic_queries

RESULTS = Path(__file__).parent / "results"
PROJECT = "scale"


@dataclass
class Tree:
    """One server's code tree and what was measured on it."""

    name: str
    path: Path
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment of its server (``--tree-env``)."""
    base: str = ""
    pid: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    outside: list[float] = field(default_factory=list)
    stages: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)


def parse_trees(spec: str, envs: str = "") -> list[Tree]:
    """``name=path,name=path`` as trees; ``envs``: ``name:KEY=VALUE,...`` for their
    servers (one tree served twice with a setting on and off)."""
    out = []
    for part in spec.split(","):
        name, _, path = part.partition("=")
        out.append(Tree(name, Path(path)))
    for part in filter(None, envs.split(",")):
        name, _, assignment = part.partition(":")
        key, _, value = assignment.partition("=")
        for tree in out:
            if tree.name == name:
                tree.env[key] = value
    return out


@contextlib.contextmanager
def serving(trees: list[Tree], data: Path) -> Iterator[None]:
    """Every tree served on ``data`` (its own process and port), warmed up."""
    with contextlib.ExitStack() as stack:
        for tree in trees:
            env = {"PYTHONPATH": str(tree.path), **tree.env}
            proc, tree.base = stack.enter_context(served(data, server_embedder("minilm"), env))
            tree.pid = proc.pid
        for tree in trees:
            first_answer(tree.base, PROJECT, time.perf_counter())
            settled(tree.base, 1)
            with httpx.Client(base_url=tree.base, timeout=300) as c:
                for q in synthetic_queries(30, seed=999):  # warm the code paths
                    c.post(f"/projects/{PROJECT}/search", json={"query": q}).raise_for_status()
        yield


def search(c: httpx.Client, body: dict[str, Any]) -> float:
    """Seconds one search took, answered 200."""
    begin = time.perf_counter()
    c.post(f"/projects/{PROJECT}/search", json=body).raise_for_status()
    return time.perf_counter() - begin


def alternating(trees: list[Tree], queries: list[str], extra: dict[str, Any]) -> None:
    """One client, each query sent to every server in turn (the first one alternating)."""
    clients = [httpx.Client(base_url=t.base, timeout=300) for t in trees]
    scrapes = [stage_totals(c) for c in clients]
    cpu0 = [cpu_seconds(t.pid) for t in trees]
    try:
        for i, query in enumerate(queries):
            order = range(len(trees)) if i % 2 == 0 else reversed(range(len(trees)))
            for k in order:
                trees[k].latencies.append(search(clients[k], {"query": query, **extra}))
        for k, tree in enumerate(trees):
            tree.cpu.append(1000 * (cpu_seconds(tree.pid) - cpu0[k]) / len(queries))
            means = stage_means(scrapes[k], stage_totals(clients[k]))
            tree.outside.append(means.get("request, outside the stages", float("nan")))
            tree.stages.append(means["request"] - tree.outside[-1])
    finally:
        for c in clients:
            c.close()


def throughput(trees: list[Tree], rnd: int, n: int, clients: int) -> None:
    """``clients`` concurrent clients against each server in turn, the order flipped."""
    queries = synthetic_queries(n, seed=500 + rnd)
    for tree in trees if rnd % 2 == 0 else trees[::-1]:
        rate, _ = concurrent(tree.base, [(PROJECT, q) for q in queries], clients)
        tree.rates.append(rate)


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float]) -> str:
    """Median (every round's value)."""
    each = ", ".join(f"{v:.1f}" for v in values)
    return f"{statistics.median(values):.1f} ({each})"


def round_p50(tree: Tree, rounds: int) -> list[float]:
    """Each round's p50 in ms (the latencies are kept in round order)."""
    per = len(tree.latencies) // rounds
    return [pct(tree.latencies[i * per : (i + 1) * per], 0.5) for i in range(rounds)]


def render(trees: list[Tree], args: argparse.Namespace, load: str) -> str:
    """The results as markdown."""
    lines = [
        "# REST search route: base vs change, one data dir, interleaved",
        "",
        f"- command: `python benchmarks/bench_route.py --data {args.data} --trees {args.trees} "
        + (f"--tree-env {args.tree_env} " if args.tree_env else "")
        + f"--rounds {args.rounds} --queries {args.queries}"
        + (f" --min-relevance {args.min_relevance}" if args.min_relevance is not None else "")
        + "`",
        f"- machine: {os.cpu_count()} CPUs (nproc), {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; load average {load} at the start, "
        f"{loadavg()} at the end (another session shares the machine)",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- per round: {args.queries} distinct queries from one client, each sent to every "
        "server in turn (which goes first alternates); then "
        f"{args.queries} searches from {args.clients} clients at once against each server, "
        "the order flipped every round. The real MiniLM embeds every query. CPU: the "
        "server's utime + stime from /proc over the one-client phase, per search. Outside "
        "the stages: the route's mean (its own request histogram) minus the search stages",
        "",
        "| tree | p50 ms (per round) | p95 ms | CPU ms per search (rounds) | "
        "stages ms (rounds) | outside the stages ms (rounds) | "
        f"{args.clients} clients searches/s (rounds) |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in trees:
        lines.append(
            f"| {t.name} | {spread(round_p50(t, args.rounds))} | {pct(t.latencies, 0.95):.1f} | "
            f"{spread(t.cpu)} | {spread(t.stages)} | {spread(t.outside)} | {spread(t.rates)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--trees", required=True, help="name=path,name=path (PYTHONPATH of each)")
    p.add_argument("--tree-env", default="", help="name:KEY=VALUE,... for a tree's server")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--min-relevance", type=float, default=None, help="0: every search hits")
    p.add_argument("--out", type=Path, default=RESULTS / "route.md")
    args = p.parse_args()
    trees = parse_trees(args.trees, args.tree_env)
    extra = {} if args.min_relevance is None else {"min_relevance": args.min_relevance}
    load = loadavg()
    with serving(trees, args.data):
        for rnd in range(args.rounds):
            alternating(trees, synthetic_queries(args.queries, seed=100 + rnd), extra)
            throughput(trees, rnd, args.queries, args.clients)
            print(rnd, [(t.name, round_p50(t, rnd + 1)[-1], t.rates[-1]) for t in trees])
    text = render(trees, args, load)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
