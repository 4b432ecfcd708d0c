"""Retrieval quality on LoCoMo (protocol: ../shared/bench/README.md).

One project per conversation, one memory per turn (kind ``fact``, ``valid_from`` = the
session date), ingested through ``MemoryService`` with the real MiniLM into a temp data
dir; each question's text is the query. Scores memsvc's retrieval beside plain BM25 and
dense-only MiniLM over the same memories, the retriever before this work (LanceDB FTS and
dense fused by RRF), and ablations of each signal; writes benchmarks/results/quality.md.

    python benchmarks/bench_quality.py --data ../shared/bench/locomo_dev.json
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.baselines import PlainBM25, dense_ranking
from benchmarks.common import cpu_model
from benchmarks.locomo import Conversation, TurnId, load_locomo
from benchmarks.quality_report import Scores, percentile_ms, table
from memsvc import (
    Actor,
    Channel,
    ContextRequest,
    Kind,
    MemoryDraft,
    MemoryService,
    ProjectCreate,
    SearchQuery,
    Settings,
)
from memsvc.bootstrap import Components, build_components
from memsvc.retrieval import hybrid, lexical
from memsvc.retrieval.embedder import MiniLMEmbedder

RETRIEVE = 50
CONTEXT_BUDGET = 1000
HEADLINE = (1, 2, 3, 4)
ACTOR = Actor.local(Channel.REST)

# name -> (module, constant, value): each switches one signal of the hybrid off.
ABLATIONS: dict[str, list[tuple[Any, str, float]]] = {
    "memsvc - time signal": [(hybrid, "W_TIME", 0.0)],
    "memsvc - episode aggregation": [(hybrid, "W_EPISODE", 0.0)],
    "memsvc - neighbour field (BM25F)": [(lexical, "NEIGHBOUR_WEIGHT", 0.0)],
    "memsvc - all neighbour/time signals": [
        (hybrid, "W_TIME", 0.0),
        (hybrid, "W_EPISODE", 0.0),
        (lexical, "NEIGHBOUR_WEIGHT", 0.0),
    ],
    "memsvc lexical side only": [(hybrid, "W_DENSE", 0.0)],
    "memsvc dense side only": [(hybrid, "W_LEXICAL", 0.0)],
}


@dataclass
class Loaded:
    conv: Conversation
    project: str
    turns_of: dict[str, list[TurnId]]
    merged: int


@dataclass
class Run:
    systems: dict[str, Scores] = field(default_factory=dict)
    context: list[float] = field(default_factory=list)
    search_s: list[float] = field(default_factory=list)
    context_s: list[float] = field(default_factory=list)
    ingest_s: float = 0.0
    memories: int = 0
    merged: int = 0

    def scores(self, name: str) -> Scores:
        return self.systems.setdefault(name, Scores())


@contextmanager
def patched(changes: list[tuple[Any, str, float]]) -> Iterator[None]:
    saved = [(m, n, getattr(m, n)) for m, n, _ in changes]
    for m, n, v in changes:
        setattr(m, n, v)
    try:
        yield
    finally:
        for m, n, v in saved:
            setattr(m, n, v)


def ingest(svc: MemoryService, conv: Conversation) -> Loaded:
    project = "locomo-" + conv.sample_id.lower().replace("_", "-")
    svc.create_project(ACTOR, ProjectCreate(id=project))
    turns_of: dict[str, list[TurnId]] = {}
    merged = 0
    for start in range(0, len(conv.turns), 1000):
        chunk = conv.turns[start : start + 1000]
        drafts = [MemoryDraft(kind=Kind.FACT, content=t, valid_from=tu.when) for tu, t in chunk]
        for (turn, _), res in zip(chunk, svc.add_memories(ACTOR, project, drafts), strict=True):
            turns_of.setdefault(res.memory.id, []).append(turn.id)
            merged += not res.created
    return Loaded(conv, project, turns_of, merged)


def ranked_turns(loaded: Loaded, ids: list[str]) -> list[TurnId]:
    return [loaded.turns_of[i][0] for i in ids if i in loaded.turns_of]


def search_ids(svc: MemoryService, project: str, text: str) -> list[str]:
    hits = svc.search_memories(ACTOR, project, SearchQuery(query=text, limit=RETRIEVE))
    return [h.memory.id for h in hits]


def run_memsvc(parts: Components, loaded: Loaded, run: Run) -> None:
    svc = parts.service
    for q in loaded.conv.questions:
        t0 = time.perf_counter()
        ids = search_ids(svc, loaded.project, q.text)
        run.search_s.append(time.perf_counter() - t0)
        run.scores("memsvc hybrid (this work)").add(q, ranked_turns(loaded, ids))
        t0 = time.perf_counter()
        pack = svc.get_context(
            ACTOR, loaded.project, ContextRequest(task=q.text, budget_tokens=CONTEXT_BUDGET)
        )
        run.context_s.append(time.perf_counter() - t0)
        if q.evidence and q.category in HEADLINE:
            inside = {t for m in pack.items for t in loaded.turns_of.get(m.id, [])}
            run.context.append(len(set(q.evidence) & inside) / len(set(q.evidence)))


def run_variants(parts: Components, loaded: Loaded, run: Run) -> None:
    svc = parts.service
    exact_max = parts.source.exact_max
    parts.source.exact_max = -1  # the LanceDB path: what every search did before this work
    try:
        for q in loaded.conv.questions:
            ids = search_ids(svc, loaded.project, q.text)
            run.scores("memsvc before (RRF: LanceDB FTS + dense)").add(q, ranked_turns(loaded, ids))
    finally:
        parts.source.exact_max = exact_max
    for name, changes in ABLATIONS.items():
        with patched(changes):
            for q in loaded.conv.questions:
                ids = search_ids(svc, loaded.project, q.text)
                run.scores(name).add(q, ranked_turns(loaded, ids))


def run_baselines(parts: Components, loaded: Loaded, run: Run) -> None:
    svc = parts.service
    ids = list(loaded.turns_of)
    texts = [m.content for m in _memories(svc, loaded.project, ids)]
    bm25 = PlainBM25(texts)
    entry = parts.cache.entry(loaded.project, 0)
    vecs = parts.cache.vectors_of(loaded.project, entry.generation, ids)
    import numpy as np

    matrix = np.stack([vecs[i] for i in ids])
    for q in loaded.conv.questions:
        lex = [ids[i] for i in bm25.ranking(q.text, RETRIEVE)]
        run.scores("BM25 baseline (plain \\w+)").add(q, ranked_turns(loaded, lex))
        qv = parts.source.embed_query(q.text)
        dense = [ids[i] for i in dense_ranking(matrix, qv, RETRIEVE)]
        run.scores("dense-only MiniLM baseline").add(q, ranked_turns(loaded, dense))


def _memories(svc: MemoryService, project: str, ids: list[str]) -> list[Any]:
    return [svc.get_memory(ACTOR, project, i) for i in ids]


def evaluate(conv: Conversation, embedder: MiniLMEmbedder, run: Run, ablations: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="memsvc-quality-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            svc = parts.service
            t0 = time.perf_counter()
            loaded = ingest(svc, conv)
            run.ingest_s += time.perf_counter() - t0
            run.memories += len(loaded.turns_of)
            run.merged += loaded.merged
            steps: list[Callable[[Components, Loaded, Run], None]] = [run_memsvc, run_baselines]
            if ablations:
                steps.append(run_variants)
            for step in steps:
                step(parts, loaded, run)
    print(
        f"  {conv.sample_id}: {len(conv.turns)} turns, {len(conv.questions)} questions", flush=True
    )


def machine() -> str:
    model = cpu_model()
    return f"{os.cpu_count()} CPUs (nproc), {model}, Python {platform.python_version()}"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


HEAD_METRICS = ["any@1", "any@5", "any@10", "all@1", "all@5", "all@10", "turn@10", "NDCG@10", "MRR"]
CAT_METRICS = ["any@5", "any@10", "turn@10", "NDCG@10"]


def report(run: Run, args: argparse.Namespace, n_convs: int) -> str:
    order = [
        "memsvc hybrid (this work)",
        "BM25 baseline (plain \\w+)",
        "dense-only MiniLM baseline",
    ]
    order += [n for n in run.systems if n not in order]
    main = run.systems["memsvc hybrid (this work)"]
    lines = [
        "# Retrieval quality on LoCoMo",
        "",
        f"- command: `python benchmarks/bench_quality.py --data {args.data}`",
        f"- data: {Path(args.data).name}, {n_convs} conversations, {run.memories} memories "
        f"({run.merged} turns merged into an identical earlier memory), "
        f"{main.count(HEADLINE)} questions of categories 1-4 with evidence, "
        f"{main.count((5,))} of category 5",
        f"- machine: {machine()}, load average at the end {os.getloadavg()[0]:.2f}",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit()}",
        f"- retrieval depth {RETRIEVE} memories; sessions ranked by first appearance; "
        "NDCG@10 and MRR are session-level, turn@10 = evidence turns in the first 10 memories",
        "",
        "## Categories 1-4 (headline)",
        "",
        *table({n: run.systems[n].mean(HEADLINE) for n in order}, HEADLINE_METRICS_FOR_TABLE),
        "",
        "## By category",
        "",
    ]
    for cat in (1, 2, 3, 4, 5):
        rows = {n: run.systems[n].mean((cat,)) for n in order[:3] if n in run.systems}
        lines += [f"### Category {cat} ({main.count((cat,))} questions)", ""]
        lines += [*table(rows, CAT_METRICS), ""]
    ctx = sum(run.context) / len(run.context) if run.context else float("nan")
    lines += [
        "## Context packs",
        "",
        f"Fraction of evidence turns inside a {CONTEXT_BUDGET}-token `get_context(task=question)`"
        f" pack (categories 1-4): **{ctx:.3f}**",
        "",
        "## Latency (2 cores, one query at a time)",
        "",
        "| call | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| search_memories (limit {RETRIEVE}, incl. query embedding, audit write) | "
        f"{percentile_ms(run.search_s, 50):.1f} | {percentile_ms(run.search_s, 95):.1f} |",
        f"| get_context ({CONTEXT_BUDGET} tokens) | {percentile_ms(run.context_s, 50):.1f} | "
        f"{percentile_ms(run.context_s, 95):.1f} |",
        "",
        f"Ingest through `add_memories` (embedding included): {run.ingest_s:.1f} s for "
        f"{run.memories} memories.",
        "",
    ]
    return "\n".join(lines)


HEADLINE_METRICS_FOR_TABLE = HEAD_METRICS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="path to a LoCoMo JSON file")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality.md"))
    parser.add_argument("--convs", type=int, default=0, help="only the first N conversations")
    parser.add_argument("--no-ablations", action="store_true")
    args = parser.parse_args()
    convs = load_locomo(Path(args.data))
    if args.convs:
        convs = convs[: args.convs]
    embedder = MiniLMEmbedder()
    embedder.warm()
    run = Run()
    for conv in convs:
        evaluate(conv, embedder, run, ablations=not args.no_ablations)
    text = report(run, args, len(convs))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
