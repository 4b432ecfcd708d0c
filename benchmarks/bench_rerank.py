"""The opt-in late-interaction re-ranker (``Settings.rerank_depth``) in the service: LoCoMo
dev ranking and ``search_memories`` latency with it off and at depth 20, interleaved per
question in one run over the same stored memories (MiniLM vectors from the benchmark's
cache; the re-ranker's token states are computed by the model on every search, as in
production). Writes ``benchmarks/results/rerank.md``.

    python benchmarks/bench_rerank.py --data ../shared/bench/locomo_dev.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.bench_quality import HEADLINE, ingest, ranked_turns, search_hits
from benchmarks.common import cpu_model
from benchmarks.embed_cache import CachedEmbedder
from benchmarks.locomo import load_locomo
from benchmarks.quality_report import Scores, table
from memsvc import Settings
from memsvc.bootstrap import build_components

DEPTHS = (0, 20)
METRICS = ["any@1", "any@5", "any@10", "all@10", "turn@10", "NDCG@10", "MRR"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rerank.md"))
    args = parser.parse_args()
    convs = load_locomo(Path(args.data))
    embedder = CachedEmbedder()
    scores = {d: Scores() for d in DEPTHS}
    times: dict[int, list[float]] = {d: [] for d in DEPTHS}
    with tempfile.TemporaryDirectory(prefix="memsvc-rerank-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            svc = parts.service
            searcher = svc._p.recall.searcher  # benchmark only: toggled in one run
            embedder.token_states(["warm up"])
            for conv in convs:
                loaded = ingest(svc, conv)
                for q in conv.questions:
                    if not (q.evidence and q.category in HEADLINE):
                        continue
                    for d in DEPTHS:
                        searcher.rerank_depth = d
                        t0 = time.perf_counter()
                        hits = search_hits(svc, loaded.project, q.text)
                        times[d].append(time.perf_counter() - t0)
                        ids = [h.memory.id for h in hits]
                        scores[d].add(q, ranked_turns(loaded, ids))
                print(f"  {conv.sample_id} done", flush=True)
    embedder.save()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    rows = {
        ("off (default)" if d == 0 else f"rerank_depth={d}"): scores[d].mean(HEADLINE)
        for d in DEPTHS
    }
    lines = [
        "# Late-interaction re-ranking in the service (issue 14)",
        "",
        "- command: `python benchmarks/bench_rerank.py --data ../shared/bench/locomo_dev.json`",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, shared with other jobs,"
        f" load average at the end {os.getloadavg()[0]:.2f} (noisy: compare rows of this"
        " file only)",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}",
        f"- LoCoMo dev, {scores[0].count(HEADLINE)} questions of categories 1-4; 50 hits;"
        " both settings asked of each question in turn, same stored memories",
        "",
        "## Ranking",
        "",
        *table(rows, METRICS),
        "",
        "## search_memories latency (limit 50, query vector cached, re-ranker's token"
        " states computed by the model)",
        "",
        "| setting | p50 ms | p95 ms | min ms |",
        "|---|---|---|---|",
    ]
    for d in DEPTHS:
        ms = np.array(times[d]) * 1000
        name = "off (default)" if d == 0 else f"rerank_depth={d}"
        lines.append(
            f"| {name} | {np.percentile(ms, 50):.1f} | {np.percentile(ms, 95):.1f} |"
            f" {ms.min():.1f} |"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
