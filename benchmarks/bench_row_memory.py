"""Memory held per memory by a project's in-memory search state (``CachedProject``:
ids, kinds, statuses, times, the keyword index and the vector matrix), measured with
tracemalloc over rows put the way the cache loads them; with ``--data-dir``, the process's
RSS over a real data dir instead: after start-up (which reconciles the index with SQL)
and after loading the project's state, each also after returning freed memory to the OS
(``malloc_trim``, Arrow's pool ``release_unused``), as JSON.

    .venv/bin/python benchmarks/bench_row_memory.py --rows 10000
    .venv/bin/python benchmarks/bench_row_memory.py --data-dir /tmp/memsvc-scale/one-50000 \
        --project scale --identity all-MiniLM-L6-v2
"""

from __future__ import annotations

import argparse
import gc
import json
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


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _trimmed() -> float:
    import ctypes

    gc.collect()
    pa.default_memory_pool().release_unused()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return _rss_mb()


def rss_probe(data: Path, project: str, identity: str) -> dict[str, float]:
    """RSS (MB) of a process opening ``data`` and loading ``project``'s search state."""
    import lancedb  # noqa: F401 - imported before the baseline, as a server has it

    from memsvc import Settings
    from memsvc.bootstrap import build_components
    from memsvc.retrieval.embedder import HashEmbedder

    class Named(HashEmbedder):  # the table's identity; no query is embedded here
        def __init__(self) -> None:
            super().__init__(DIM)
            self.identity = identity

    out = {"baseline": _trimmed()}
    settings = Settings(data_dir=data, background=False)
    with build_components(settings, embedder=Named()) as parts:
        out["after start-up"], out["after start-up, trimmed"] = _rss_mb(), _trimmed()
        entry = parts.cache.entry(project, 1 << 62)
        out["after loading"], out["after loading, trimmed"] = _rss_mb(), _trimmed()
        out["rows"] = entry.n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--project", default="scale")
    parser.add_argument("--identity", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    if args.data_dir is not None:
        print(json.dumps(rss_probe(args.data_dir, args.project, args.identity)))
        return
    print("| corpus | bytes/row beyond the vector | bytes/row in all (matrix capacity included) |")
    print("|---|---:|---:|")
    for name, texts in corpora(args.rows).items():
        beyond, total = held_per_row(texts)
        print(f"| {name} | {beyond:.0f} | {total:.0f} |")


if __name__ == "__main__":
    main()
