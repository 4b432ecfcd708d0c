"""The write-time near-duplicate check of one batch of 500 against a project of N held
vectors: the exact matrix product (``ProjectCache.nearest``) against the coarse quantizer
(``retrieval/coarse.py``), and how often they agree, in one process.

    .venv/bin/python benchmarks/bench_neighbours.py --sizes 20000,100000,1000000

Vectors are the fill embedder's (hashed words of ``synthetic_memories``, 384 dims, as
``bench_scale.py`` fills); the batch is 250 rows of the corpus rewritten (upper case,
punctuation: near-duplicates by construction) and 250 new rows. BLAS is kept to one
thread, as a server does once its model is loaded. Agreement: the same nearest row, and
the same flag at the near-duplicate (0.95) and conflict (0.8) thresholds.
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, iter_synthetic_memories
from memsvc.retrieval.cache import CachedProject, ProjectCache
from memsvc.retrieval.coarse import CoarseIndex
from memsvc.retrieval.embedder import HashEmbedder

BATCH = 500


def held(n: int, emb: HashEmbedder) -> CachedProject:
    texts = [c for _, c in itertools.islice(iter_synthetic_memories(7), n)]
    entry = CachedProject(generation=0, dim=emb.dim)
    entry.matrix = np.concatenate([emb.embed(texts[i : i + 20_000]) for i in range(0, n, 20_000)])
    entry.ids = [f"{i:026d}" for i in range(n)]
    entry.statuses, entry.kinds, entry.n = ["active"] * n, ["fact"] * n, n
    return entry


def batch(n: int, emb: HashEmbedder, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corpus = list(itertools.islice(iter_synthetic_memories(7), n + BATCH // 2))
    again = [corpus[int(i)][1].upper() + "!" for i in rng.choice(n, BATCH // 2, replace=False)]
    fresh = [c for _, c in corpus[n:]]
    return emb.embed(again + fresh)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    out, result = [], None
    for _ in range(repeat):
        begin = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - begin)
    return out, result


def measure(n: int, emb: HashEmbedder, repeat: int) -> str:
    """One table row: both checks of one batch against ``n`` held vectors."""
    entry = held(n, emb)
    queries = batch(n, emb, seed=n)
    exact_t, exact = timed(
        lambda: ProjectCache.nearest(entry, queries, {"active"}, [None] * BATCH), repeat
    )
    coarse = CoarseIndex(emb.dim)
    begin = time.perf_counter()
    coarse.train(entry.matrix)
    build = time.perf_counter() - begin
    coarse_t, hits = timed(lambda: coarse.search(entry.matrix, queries, 32), repeat)
    ex = [(int(e[0]), e[1]) if e else (-1, -1.0) for e in exact]
    co = [(int(r[0]), float(s[0])) if len(r) else (-1, -1.0) for r, s in hits]
    same = sum(a[0] == b[0] for a, b in zip(ex, co, strict=True)) / BATCH
    flags = [
        sum((a[1] >= t) == (b[1] >= t) for a, b in zip(ex, co, strict=True)) / BATCH
        for t in (0.95, 0.8)
    ]
    return (
        f"| {n:,} | {ms(exact_t)} | {build:.1f} | {ms(coarse_t)} | {same:.3f} "
        f"| {flags[0]:.3f} / {flags[1]:.3f} |"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="20000,100000")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    threadpool_limits(1, user_api="blas")
    emb = HashEmbedder(384)
    title = "Write-time near-duplicate check: exact product vs coarse quantizer"
    lines = header(title, "python benchmarks/bench_neighbours.py " + shlex.join(sys.argv[1:]))
    lines += [
        f"- load average (1/5/15 min) at start: {loadavg()}",
        "",
        f"One batch of {BATCH} (half near-duplicates of held rows) against N held vectors; "
        f"{args.repeat} repeats, median (min-max) ms.",
        "",
        "| held rows | exact product, ms | coarse: build once, s | coarse: batch, ms "
        "| same nearest row | same flag at 0.95 / 0.8 |",
        "|---:|---|---:|---|---:|---|",
    ]
    for n in (int(s) for s in args.sizes.split(",")):
        lines.append(measure(n, emb, args.repeat))
        print(lines[-1], flush=True)
    lines += ["", f"- load average at the end: {loadavg()}"]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def ms(values: list[float]) -> str:
    v = [x * 1000 for x in values]
    return f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})"


if __name__ == "__main__":
    main()
