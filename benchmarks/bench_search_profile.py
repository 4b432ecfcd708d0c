"""Where one search's time goes, in process (issue 11): the service's ``search_memories``
over a filled data dir (``bench_scale.py``'s ``one-<size>``) or over a synthetic project
built in memory, timed per stage and optionally under cProfile.

    .venv/bin/python benchmarks/bench_search_profile.py --data-dir /tmp/memsvc-scale/one-10000
    .venv/bin/python benchmarks/bench_search_profile.py --synthetic 100000 --profile 25

The synthetic project holds ``--synthetic`` memories of ``benchmarks.common``'s
engineering notes with random unit vectors (queries get hash vectors), in an in-memory
``CachedProject`` (no SQL, no LanceDB): it times ``CandidateSource`` alone (the exact
scan, or the pool with the ANN hits taken from an exact top-k); a data dir times the
whole service call.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import synthetic_memories, synthetic_queries
from memsvc import Actor, Channel, Settings
from memsvc.bootstrap import build_components
from memsvc.domain import SearchQuery
from memsvc.retrieval import candidates
from memsvc.retrieval.cache import CachedProject
from memsvc.retrieval.candidates import CandidateSource
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.retrieval.pool import pool_rows
from memsvc.retrieval.timeline import Timeline
from memsvc.store.index import IndexRow

ACTOR = Actor.local(Channel.CLI)


def ms(values: list[float]) -> str:
    v = sorted(x * 1000 for x in values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return f"{statistics.median(v):.2f} / {p95:.2f} ({v[0]:.2f}-{v[-1]:.2f})"


def profiled(run: Any, calls: int, top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for i in range(calls):
        run(i)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def data_dir_runner(args: argparse.Namespace) -> tuple[Any, Any]:
    settings = Settings(data_dir=args.data_dir, background=False, embedder=args.embedder)
    stack = build_components(settings)
    parts = stack.__enter__()
    queries = synthetic_queries(args.searches + args.profile + 20, seed=3)

    def run(i: int) -> None:
        parts.service.search_memories(ACTOR, args.project, SearchQuery(query=queries[i]))

    return run, stack


class _Index:
    """Stands in for LanceIndex: the ANN hits are the exact top-k (``--pooled``)."""

    def __init__(self, entry: CachedProject) -> None:
        self.entry = entry

    def ann_built(self, project: str) -> bool:
        return True

    def ann_search(self, project: str, q: Any, k: int, *rest: Any) -> list[list[Any]]:
        # the best of every 50th row: cheap, so the timing is the pool's, not a scan's
        sims = self.entry.matrix[: self.entry.n : 50] @ q[0]
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [[(self.entry.ids[50 * i], float(sims[i])) for i in top]]


class _Cache:
    def __init__(self, entry: CachedProject) -> None:
        self._entry = entry

    def entry(self, project: str, generation: int) -> CachedProject:
        return self._entry


def synthetic_runner(args: argparse.Namespace) -> tuple[Any, Any]:
    dim = 384
    embedder = HashEmbedder(dim)
    entry = CachedProject(generation=0, dim=dim)
    entry.matrix = np.zeros((0, dim), dtype=np.float32)
    items = synthetic_memories(args.synthetic, seed=7)
    # random unit vectors (hash vectors of 100k texts take minutes; timing only)
    vectors = np.random.default_rng(7).standard_normal((len(items), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = 1_700_000_000.0
    for i, ((kind, text), vec) in enumerate(zip(items, vectors, strict=True)):
        # a write every ~40 s with an hour's pause every ~200 rows: many episodes
        t = start + 40.0 * i + 4000.0 * (i // 200)
        entry.put(
            IndexRow(
                id=f"{i:026d}",
                vector=vec,
                text=text,
                content_hash="",
                kind=kind,
                status="active",
                time=t,
                written=t,
            )
        )
    source = CandidateSource(
        _Index(entry),  # type: ignore[arg-type]
        embedder,  # type: ignore[arg-type]
        _Cache(entry),  # type: ignore[arg-type]
        exact_scan_max_rows=0 if args.pooled or args.coarse else 10**9,
        ann="coarse" if args.coarse else "lance",
        train_in_background=False,
    )
    queries = synthetic_queries(args.searches + args.profile + 20, seed=3)

    def run(i: int) -> None:
        source.candidates("p", 0, queries[i], 50, ["active"], None)

    if args.compare:  # the same searches with every row scored, alternating

        def both(i: int) -> None:
            begin, cpu = time.perf_counter(), time.thread_time()
            run(i)
            SPLIT["sparse"].append(time.perf_counter() - begin)
            SPLIT["sparse, CPU"].append(time.thread_time() - cpu)
            real = candidates.sparse_candidates, candidates._lexical_scores, candidates.pool_rows
            candidates.sparse_candidates = lambda *a, **k: None  # type: ignore[assignment]
            candidates._lexical_scores = _every_row_lexical  # type: ignore[assignment]
            candidates.pool_rows = _bare_pool_rows  # type: ignore[assignment]
            try:
                begin, cpu = time.perf_counter(), time.thread_time()
                run(i)
                SPLIT["every row"].append(time.perf_counter() - begin)
                SPLIT["every row, CPU"].append(time.thread_time() - cpu)
            finally:
                candidates.sparse_candidates, candidates._lexical_scores = real[:2]
                candidates.pool_rows = real[2]

        return both, None
    return run, None


SPLIT: dict[str, list[float]] = {
    "sparse": [],
    "every row": [],
    "sparse, CPU": [],
    "every row, CPU": [],
}


def _every_row_lexical(entry: CachedProject, text: str, n: int, timeline: Timeline) -> Any:
    return entry.lexical.scores(text, n, timeline.prev)


def _bare_pool_rows(*args: Any) -> Any:
    """``pool_rows`` with full passes over the timeline (no runs, no successors)."""
    *head, timeline, mask, at, k = args
    bare = Timeline(prev=timeline.prev, episode=timeline.episode)
    return pool_rows(*head, bare, mask, at, k)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--project", default="scale")
    p.add_argument("--embedder", default="minilm")
    p.add_argument("--synthetic", type=int, default=0, help="rows of a synthetic project")
    p.add_argument("--pooled", action="store_true", help="synthetic: the ANN pool path")
    p.add_argument(
        "--coarse",
        action="store_true",
        help="synthetic: the dense top from the coarse quantizer (a project above the exact size)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="synthetic: time the sparse scoring and every row's, alternating",
    )
    p.add_argument("--searches", type=int, default=100)
    p.add_argument("--profile", type=int, default=0, help="profile this many more searches")
    p.add_argument("--top", type=int, default=40)
    p.add_argument(
        "--cached-queries", action="store_true", help="search each query once before timing"
    )
    args = p.parse_args()
    run, stack = synthetic_runner(args) if args.synthetic else data_dir_runner(args)
    try:
        for i in range(5):  # warm: the project's state, the model, the query cache's misses
            run(args.searches + args.profile + 10 + i)
        if args.cached_queries:  # every query's vector in the cache: no model in the timing
            for i in range(args.searches + args.profile):
                run(i)
            for values in SPLIT.values():
                values.clear()
        took, cpu = [], []
        for i in range(args.searches):
            begin, begin_cpu = time.perf_counter(), time.thread_time()
            run(i)
            took.append(time.perf_counter() - begin)
            cpu.append(time.thread_time() - begin_cpu)
        print(f"{args.searches} searches, ms p50 / p95 (min-max): {ms(took)}", flush=True)
        print(f"  the calling thread's CPU time, ms: {ms(cpu)}", flush=True)
        for name, values in SPLIT.items():
            if values:
                print(f"  of which candidates, {name}: {ms(values[-args.searches :])}")
        if args.profile:
            print(profiled(lambda i: run(args.searches + i), args.profile, args.top))
    finally:
        if stack is not None:
            stack.__exit__(None, None, None)


if __name__ == "__main__":
    main()
