"""Search latency at 10k memories with the ranking's IDF over the query's collection (this
work) and over all rows (before), interleaved query by query in one run so both see the
same machine load. Real MiniLM vectors (from the benchmark vector cache), service calls.

    python benchmarks/bench_search_idf.py   # writes benchmarks/results/search_idf.md
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, header, synthetic_memories, synthetic_queries
from benchmarks.embed_cache import CachedEmbedder
from memsvc import Actor, Channel, Kind, MemoryDraft, ProjectCreate, SearchQuery, Settings
from memsvc.bootstrap import build_components
from memsvc.retrieval import lexical

ACTOR = Actor.local(Channel.CLI)
MEMORIES = 10_000
QUERIES = 200
ROUNDS = 3


def main() -> None:
    embedder = CachedEmbedder()
    queries = synthetic_queries(QUERIES)
    embedder.embed(queries)  # query vectors cached: both variants time retrieval alone
    new_s: list[list[float]] = [[] for _ in range(ROUNDS)]
    old_s: list[list[float]] = [[] for _ in range(ROUNDS)]
    current = lexical.query_collection
    with tempfile.TemporaryDirectory(prefix="memsvc-idf-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            svc = parts.service
            svc.create_project(ACTOR, ProjectCreate(id="p"))
            items = synthetic_memories(MEMORIES)
            drafts = [MemoryDraft(kind=Kind(k), content=c) for k, c in items]
            for i in range(0, len(drafts), 1000):
                svc.add_memories(ACTOR, "p", drafts[i : i + 1000])
            embedder.save()
            docs = parts.cache.entry("p", 0).lexical.documents
            svc.search_memories(ACTOR, "p", SearchQuery(query=queries[0], limit=10))
            for r in range(ROUNDS):
                for q in queries:
                    for which, out in (("new", new_s[r]), ("old", old_s[r])):
                        lexical.query_collection = (  # type: ignore[assignment]
                            current if which == "new" else (lambda _f, d=docs: d)
                        )
                        t0 = time.perf_counter()
                        svc.search_memories(ACTOR, "p", SearchQuery(query=q, limit=10))
                        out.append(time.perf_counter() - t0)
            lexical.query_collection = current  # type: ignore[assignment]
    lines = header(
        "Search latency: IDF over the query's collection vs over all rows",
        "python benchmarks/bench_search_idf.py",
    )
    lines += [
        f"{MEMORIES} synthetic memories in one project, {QUERIES} queries x {ROUNDS} rounds, "
        "limit 10, query vectors cached (retrieval alone), the two variants alternating "
        "query by query. Machine shared with other jobs (load average "
        f"{os.getloadavg()[0]:.1f} at the end): compare the rows, not the absolute numbers.",
        "",
        "| IDF's N | p50 ms (median of rounds) | range of round p50s |",
        "|---|---|---|",
    ]
    for name, runs in (("query's collection (this work)", new_s), ("all rows (before)", old_s)):
        p50s = [statistics.median(r) * 1000 for r in runs]
        lines.append(
            f"| {name} | {statistics.median(p50s):.1f} | {min(p50s):.1f}-{max(p50s):.1f} |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / "search_idf.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
