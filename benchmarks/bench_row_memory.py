"""Memory held per memory by a project's in-memory search state (``CachedProject``:
ids, kinds, statuses, times, the keyword index and the vector matrix), measured with
tracemalloc over rows put the way the cache loads them.

    .venv/bin/python benchmarks/bench_row_memory.py --rows 10000
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import synthetic_memories
from memsvc.retrieval.analysis import analyze
from memsvc.retrieval.cache import ProjectCache
from memsvc.store.index import IndexSnapshot

DIM = 384


def corpora(rows: int) -> dict[str, list[str]]:
    """Short synthetic notes (~12 terms) and longer ones (~45 terms, three notes joined)."""
    short = [c for _, c in synthetic_memories(rows)]
    rng = random.Random(3)
    long = [" ".join(rng.sample(short, 3)) + f" ref-{i}" for i in range(rows)]
    return {"short notes (~12 terms)": short, "long notes (~45 terms)": long}


def held_per_row(texts: list[str]) -> tuple[float, float]:
    """(bytes per row beyond the vector matrix, bytes per row in all) for these texts."""
    for text in texts:  # the stemmer's cache is process-wide, not per row: fill it first
        analyze(text)
    gc.collect()
    tracemalloc.start()
    cache = ProjectCache(_Index(_snapshot(texts)), DIM)  # type: ignore[arg-type]
    entry = cache.entry("p", 1)  # the path a search takes: ProjectCache._load
    cache._index = None  # type: ignore[assignment]  # drop the snapshot: the entry is what stays
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert entry.n == len(texts)
    return (held - entry.matrix.nbytes) / len(texts), held / len(texts)


def _snapshot(texts: list[str]) -> IndexSnapshot:
    """What LanceDB hands the cache: columns through pyarrow's ``to_pylist`` (so each
    string is its own object, as in ``LanceIndex.snapshot``)."""
    n = len(texts)
    vectors = np.random.default_rng(1).standard_normal((n, DIM)).astype(np.float32)
    table = pa.table(
        {
            "id": [f"01J{i:023d}" for i in range(n)],
            "kind": ["fact"] * n,
            "status": ["active"] * n,
            "time": [float(i) for i in range(n)],
        }
    )
    col = table.column
    ids, kinds, statuses = col("id").to_pylist(), col("kind").to_pylist(), col("status").to_pylist()
    times = col("time").to_pylist()
    return IndexSnapshot(ids, kinds, statuses, ["h"] * n, vectors, texts, times, list(times))


class _Index:
    def __init__(self, snap: IndexSnapshot) -> None:
        self._snap = snap

    def snapshot(self, project: str) -> IndexSnapshot:
        return self._snap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    print("| corpus | bytes/row beyond the vector | bytes/row in all (matrix capacity included) |")
    print("|---|---:|---:|")
    for name, texts in corpora(args.rows).items():
        beyond, total = held_per_row(texts)
        print(f"| {name} | {beyond:.0f} | {total:.0f} |")


if __name__ == "__main__":
    main()
