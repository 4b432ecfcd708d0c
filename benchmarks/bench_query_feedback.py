"""Issue 14 follow-up: query-side term weighting and pseudo-relevance feedback limited to
the top episode, each off vs on in one run over the same stored memories.

- ``query IDF weighting`` (``lexical.QUERY_IDF_WEIGHTING``): each query term's BM25F
  contribution times its IDF over the query's best term's;
- ``top-episode feedback`` (``candidates.EPISODE_FEEDBACK``): the query expanded with the
  10 strongest new terms (tf x IDF) of the best-ranked memory's episode (all its rows,
  or only its 3 best: ``candidates.FEEDBACK_ROWS``), scored once more.

LoCoMo (categories 1-4, as ``bench_quality``) and the hand-written corpora
(``benchmarks/corpora.py``: answer MRR and recall@5 over the top 10 in the own project,
as written and padded with 400 notes). Search latency is timed interleaved: for each
question every variant runs in turn, with the query vector cached (the variants differ
only after the embedding).

    python benchmarks/bench_query_feedback.py --data ../shared/bench/locomo_dev.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.bench_quality import (
    ACTOR,
    HEADLINE,
    commit,
    ingest,
    machine,
    patched,
    ranked_turns,
    search_ids,
)
from benchmarks.calibrate import KINDS, padded
from benchmarks.corpora import CHECK, FIT, CorpusProject
from benchmarks.embed_cache import CachedEmbedder
from benchmarks.locomo import load_locomo
from benchmarks.quality_report import Scores, percentile_ms, table
from memsvc import Kind, MemoryDraft, ProjectCreate, SearchQuery, Settings
from memsvc.bootstrap import build_components
from memsvc.retrieval import candidates, lexical
from memsvc.retrieval.embedder import Embedder

VARIANTS: dict[str, list[tuple[Any, str, Any]]] = {
    "as is (both off)": [],
    "query IDF weighting": [(lexical, "QUERY_IDF_WEIGHTING", True)],
    "top-episode feedback": [(candidates, "EPISODE_FEEDBACK", True)],
    "top-episode feedback, its 3 best rows": [
        (candidates, "EPISODE_FEEDBACK", True),
        (candidates, "FEEDBACK_ROWS", 3),
    ],
    "both": [(lexical, "QUERY_IDF_WEIGHTING", True), (candidates, "EPISODE_FEEDBACK", True)],
}
METRICS = ["any@1", "any@5", "any@10", "all@10", "turn@10", "NDCG@10", "MRR"]


def locomo(path: Path, embedder: Embedder) -> tuple[dict[str, Scores], dict[str, list[float]]]:
    scores = {name: Scores() for name in VARIANTS}
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="memsvc-qfb-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            svc = parts.service
            for conv in load_locomo(path):
                loaded = ingest(svc, conv)
                for q in conv.questions:
                    for name, changes in VARIANTS.items():
                        with patched(changes):
                            t0 = time.perf_counter()
                            ids = search_ids(svc, loaded.project, q.text)
                            times[name].append(time.perf_counter() - t0)
                        scores[name].add(q, ranked_turns(loaded, ids))
                print(f"  {conv.sample_id}: {len(conv.questions)} questions", flush=True)
    return scores, times


def corpus_run(corpus: list[CorpusProject], embedder: Embedder) -> dict[str, tuple[float, float]]:
    """Per variant: (answer MRR@10, answer recall@5) over the queries in their own project."""
    rr: dict[str, list[float]] = {name: [] for name in VARIANTS}
    at5: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="memsvc-qfb-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            svc = parts.service
            for p in corpus:
                svc.create_project(ACTOR, ProjectCreate(id=p.name))
                drafts = [
                    MemoryDraft(kind=KINDS.get(k) or Kind(k), content=t) for k, t in p.memories
                ]
                ids = [r.memory.id for r in svc.add_memories(ACTOR, p.name, drafts)]
                for text, answers in p.queries:
                    wanted = {ids[i] for i in answers}
                    for name, changes in VARIANTS.items():
                        with patched(changes):
                            q = SearchQuery(query=text, limit=10, min_relevance=0.0)
                            got = [h.memory.id for h in svc.search_memories(ACTOR, p.name, q)]
                        ranks = [i for i, m in enumerate(got) if m in wanted]
                        rr[name].append(1.0 / (ranks[0] + 1) if ranks else 0.0)
                        at5[name].append(len(wanted & set(got[:5])) / len(wanted))
    return {n: (float(np.mean(rr[n])), float(np.mean(at5[n]))) for n in VARIANTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="path to a LoCoMo JSON file")
    default_out = Path(__file__).parent / "results" / "query_feedback.md"
    parser.add_argument("--out", default=str(default_out))
    args = parser.parse_args()
    embedder = CachedEmbedder()
    scores, times = locomo(Path(args.data), embedder)
    corpora = {
        f"{label} +{pad}": corpus_run(padded(corpus, pad), embedder)
        for label, corpus in (("fit", FIT), ("check (held out)", CHECK))
        for pad in (0, 400)
    }
    embedder.save()
    lines = [
        "# Query-side term weighting and top-episode feedback (issue 14)",
        "",
        f"- command: `python benchmarks/bench_query_feedback.py {' '.join(sys.argv[1:])}`",
        f"- machine: {machine()}, load average at the end {os.getloadavg()[0]:.2f} "
        "(shared, noisy: compare rows of this file only)",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit()}",
        "",
        f"## LoCoMo, categories 1-4 ({scores['as is (both off)'].count(HEADLINE)} questions)",
        "",
        *table({n: s.mean(HEADLINE) for n, s in scores.items()}, METRICS),
        "",
        "## Hand-written corpora (answer MRR@10 / answer recall@5, own project)",
        "",
        "| variant | " + " | ".join(corpora) + " |",
        "|---" * (len(corpora) + 1) + "|",
    ]
    for name in VARIANTS:
        cells = [f"{c[name][0]:.3f} / {c[name][1]:.3f}" for c in corpora.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## search_memories latency (limit 50, cached query vector, interleaved)",
        "",
        "| variant | p50 ms | p95 ms |",
        "|---|---|---|",
    ]
    for name, t in times.items():
        lines.append(f"| {name} | {percentile_ms(t, 50):.1f} | {percentile_ms(t, 95):.1f} |")
    text = "\n".join([*lines, ""])
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
