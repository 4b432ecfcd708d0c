"""Retrieval quality on LoCoMo (protocol: benchmarks/README.md).

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
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.baselines import PlainBM25, dense_ranking
from benchmarks.calibrate import FIT_PADS, auc, observe, summary
from benchmarks.common import cpu_model, synthetic_memories
from benchmarks.corpora import CHECK, FIT
from benchmarks.embed_cache import CachedEmbedder
from benchmarks.locomo import Conversation, Question, TurnId, load_locomo
from benchmarks.quality_report import Scores, percentile_ms, table
from memsvc import (
    Actor,
    Channel,
    ContextPack,
    ContextRequest,
    Kind,
    MemoryDraft,
    MemoryService,
    ProjectCreate,
    SearchHit,
    SearchQuery,
    Settings,
)
from memsvc.bootstrap import Components, build_components
from memsvc.domain import DEFAULT_MIN_RELEVANCE
from memsvc.retrieval import context as context_module
from memsvc.retrieval import hybrid, lexical
from memsvc.retrieval.candidates import query_terms
from memsvc.retrieval.embedder import Embedder, MiniLMEmbedder
from memsvc.retrieval.ranking import fuse
from memsvc.retrieval.relevance import DEFAULT_CALIBRATION, NOTES_V3, Calibration, Evidence
from memsvc.retrieval.search import Searcher

RETRIEVE = 50
CONTEXT_BUDGET = 1000
HEADLINE = (1, 2, 3, 4)
ACTOR = Actor.local(Channel.REST)
PADDING_WRITER = Actor.local(Channel.REST, agent="padding-agent")
"""Another writer of the same principal (another agent of a fleet)."""
PADDING = 2400
"""Unrelated notes (``synthetic_memories``) added to a copy of the first conversation."""
PREVIOUS_CALIBRATION = NOTES_V3
"""The calibration before v3 (cosine and ``coverage`` alone), for the comparison in the
same run."""

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
class Abstention:
    """Per question (categories 1-4 with evidence): query-level relevance (the best hit's)
    in its own and in a foreign project, and what the default threshold keeps."""

    own_best: list[float] = field(default_factory=list)
    foreign_best: list[float] = field(default_factory=list)
    own_evidence_top10_before: list[bool] = field(default_factory=list)
    own_evidence_top10_after: list[bool] = field(default_factory=list)
    foreign_empty: list[bool] = field(default_factory=list)
    own_empty: list[bool] = field(default_factory=list)
    pack_precision_before: list[float] = field(default_factory=list)
    pack_precision_after: list[float] = field(default_factory=list)
    pack_items_before: list[int] = field(default_factory=list)
    pack_items_after: list[int] = field(default_factory=list)
    foreign_items_before: list[int] = field(default_factory=list)
    foreign_items_after: list[int] = field(default_factory=list)
    search_plain_s: list[float] = field(default_factory=list)
    previous_foreign_empty: list[bool] = field(default_factory=list)
    previous_own_top10_after: list[bool] = field(default_factory=list)


@dataclass
class Run:
    abst: Abstention = field(default_factory=Abstention)
    padding: dict[str, Scores] = field(default_factory=dict)
    query_vectors: str = "incl. query embedding"
    corpora: list[dict[str, float | str]] = field(default_factory=list)
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
def patched(changes: list[tuple[Any, str, Any]]) -> Iterator[None]:
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


def search_hits(
    svc: MemoryService, project: str, text: str, floor: float = 0.0, limit: int = RETRIEVE
) -> list[SearchHit]:
    query = SearchQuery(query=text, limit=limit, min_relevance=floor)
    return svc.search_memories(ACTOR, project, query)


def search_ids(svc: MemoryService, project: str, text: str) -> list[str]:
    """The ranking alone (no abstention), as the ranking metrics score it."""
    return [h.memory.id for h in search_hits(svc, project, text)]


def pack_of(svc: MemoryService, project: str, text: str, floor: float) -> ContextPack:
    """A context pack with ``floor`` as the task relevance threshold (0: the pack as it was
    before abstention, filled to the budget with whatever ranked highest)."""
    request = ContextRequest(task=text, budget_tokens=CONTEXT_BUDGET)
    with patched([(context_module, "DEFAULT_MIN_RELEVANCE", floor)]):
        return svc.get_context(ACTOR, project, request)


def pack_precision(pack: ContextPack, loaded: Loaded, q: Question) -> list[float]:
    """Of the pack's non-rule items, the share that are evidence turns or from an evidence
    session ([] for a pack with no such item: it is counted apart)."""
    items = [m for m in pack.items if m.kind != Kind.RULE]
    if not items:
        return []
    sessions = {s for s, _ in q.evidence}
    good = 0
    for m in items:
        turns = loaded.turns_of.get(m.id, [])
        good += any(t in q.evidence or t[0] in sessions for t in turns)
    return [good / len(items)]


def run_memsvc(parts: Components, loaded: Loaded, foreign: Loaded, run: Run) -> None:
    svc = parts.service
    ab = run.abst
    for q in loaded.conv.questions:
        t0 = time.perf_counter()
        hits = search_hits(svc, loaded.project, q.text)
        run.search_s.append(time.perf_counter() - t0)
        ids = [h.memory.id for h in hits]
        ranked = ranked_turns(loaded, ids)
        run.scores("memsvc hybrid (this work)").add(q, ranked)
        # the same search without the relevance step, timed in the same run
        with patched([(Searcher, "_evidence", _no_evidence)]):
            t0 = time.perf_counter()
            search_hits(svc, loaded.project, q.text + " ")  # a fresh query vector too
            ab.search_plain_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pack = svc.get_context(
            ACTOR, loaded.project, ContextRequest(task=q.text, budget_tokens=CONTEXT_BUDGET)
        )
        run.context_s.append(time.perf_counter() - t0)
        if not (q.evidence and q.category in HEADLINE):
            continue
        inside = {t for m in pack.items for t in loaded.turns_of.get(m.id, [])}
        run.context.append(len(set(q.evidence) & inside) / len(set(q.evidence)))
        evidence = set(q.evidence)
        ab.own_best.append(max((h.relevance for h in hits), default=0.0))
        ab.own_evidence_top10_before.append(bool(evidence & set(ranked[:10])))
        kept = search_hits(svc, loaded.project, q.text, DEFAULT_MIN_RELEVANCE, 10)
        ab.own_empty.append(not kept)
        kept_turns = ranked_turns(loaded, [h.memory.id for h in kept])
        ab.own_evidence_top10_after.append(bool(evidence & set(kept_turns)))
        away = search_hits(svc, foreign.project, q.text)
        ab.foreign_best.append(max((h.relevance for h in away), default=0.0))
        ab.previous_foreign_empty.append(not _passing(away[:10], PREVIOUS_CALIBRATION))
        old_kept = _passing(hits, PREVIOUS_CALIBRATION)[:10]
        ab.previous_own_top10_after.append(bool(evidence & set(ranked_turns(loaded, old_kept))))
        ab.foreign_empty.append(
            not search_hits(svc, foreign.project, q.text, DEFAULT_MIN_RELEVANCE, 10)
        )
        before = pack_of(svc, loaded.project, q.text, 0.0)
        ab.pack_precision_before += pack_precision(before, loaded, q)
        ab.pack_items_before.append(len(before.items))
        ab.pack_precision_after += pack_precision(pack, loaded, q)
        ab.pack_items_after.append(len(pack.items))
        ab.foreign_items_before.append(len(pack_of(svc, foreign.project, q.text, 0.0).items))
        away_pack = pack_of(svc, foreign.project, q.text, DEFAULT_MIN_RELEVANCE)
        ab.foreign_items_after.append(len(away_pack.items))


def _passing(hits: list[SearchHit], cal: Calibration) -> list[str]:
    """Ids of the hits whose relevance under ``cal`` reaches the default threshold."""
    return [h.memory.id for h in hits if cal.of(_evidence_of(h)) >= DEFAULT_MIN_RELEVANCE]


def _evidence_of(h: SearchHit) -> Evidence:
    p = h.parts
    return Evidence(
        float(p["cosine"] or 0),
        float(p["coverage"] or 0),
        float(p["coverage_undated"] or 0),
        float(p["unknown"] or 0),
        float(p.get("unnamed") or 0),
    )


def run_padding(parts: Components, loaded: Loaded, other: Conversation, run: Run) -> None:
    """The first conversation alone and in a copy padded with ``PADDING`` unrelated notes,
    with the IDF of the ranking as it is (the query's collection) and as it was (N = all
    rows), and each side of the hybrid alone: which signal moves with unrelated content.
    Then with those notes, or ``other``'s turns, held within its sessions' hours and
    written by its own writer or by another agent (writer streams)."""
    svc = parts.service
    conv = loaded.conv
    pad = ingest(svc, Conversation("pad-" + conv.sample_id, conv.turns, conv.questions))
    notes = [MemoryDraft(kind=Kind.FACT, content=t) for _, t in synthetic_memories(PADDING)]
    for start in range(0, len(notes), 1000):
        svc.add_memories(ACTOR, pad.project, notes[start : start + 1000])
    variants: dict[str, list[tuple[Any, str, Any]]] = {
        "memsvc hybrid (this work)": [],
        "IDF over all rows (before this work)": [],
        "lexical side only": [(hybrid, "W_DENSE", 0.0)],
        "dense side only": [(hybrid, "W_LEXICAL", 0.0)],
    }
    for name, changes in variants.items():
        for label, target in (("unpadded", loaded), (f"+{PADDING} notes", pad)):
            if name.startswith("IDF over all rows"):
                docs = parts.cache.entry(target.project, 0).lexical.documents
                changes = [(lexical, "query_collection", lambda _found, d=docs: d)]
            with patched(changes):
                for q in conv.questions:
                    ids = search_ids(svc, target.project, q.text)
                    key = f"{name}, {label}"
                    run.padding.setdefault(key, Scores()).add(q, ranked_turns(target, ids))
    notes = notes_in_its_hours(conv)
    fleet = conversation_in_its_hours(conv, other)
    for label, writer in (("same writer", ACTOR), ("another writer", PADDING_WRITER)):
        for what, drafts in (
            (f"+{PADDING} notes", notes),
            (f"+ {other.sample_id}'s {len(fleet)} turns", fleet),
        ):
            tag = f"{'n' if drafts is notes else 'c'}{label.split()[0]}"
            target = padded_in_its_hours(svc, conv, tag, writer, drafts)
            key = f"memsvc hybrid (this work), {what} in its sessions' hours, {label}"
            for q in conv.questions:
                ids = search_ids(svc, target.project, q.text)
                run.padding.setdefault(key, Scores()).add(q, ranked_turns(target, ids))
                counted = f"{key}, added rows counted as misses"
                run.padding.setdefault(counted, Scores()).add(q, with_misses(target, ids))


def with_misses(loaded: Loaded, ids: list[str]) -> list[TurnId]:
    """The ranked turns with each row that is not one of ``loaded``'s turns kept in its
    place as a miss (a turn of session -1, never evidence): rows another writer added
    that rank among the conversation's own push them down."""
    return [loaded.turns_of[i][0] if i in loaded.turns_of else (-1, k) for k, i in enumerate(ids)]


def padded_in_its_hours(
    svc: MemoryService, conv: Conversation, tag: str, writer: Actor, drafts: list[MemoryDraft]
) -> Loaded:
    """A copy of ``conv`` with ``drafts`` (which hold within its sessions' hours) written
    after it by ``writer``: by the conversation's own writer they join its episodes; by
    another one (another agent in a fleet) they are another writer stream."""
    copy = ingest(svc, Conversation(f"pad-{tag}-" + conv.sample_id, conv.turns, conv.questions))
    for start in range(0, len(drafts), 1000):
        svc.add_memories(writer, copy.project, drafts[start : start + 1000])
    return copy


def notes_in_its_hours(conv: Conversation) -> list[MemoryDraft]:
    """``PADDING`` unrelated notes, each in one of ``conv``'s sessions, up to 50 minutes
    after its start."""
    starts = sorted({turn.when for turn, _ in conv.turns})
    rng = random.Random(13)
    return [
        MemoryDraft(
            kind=Kind.FACT,
            content=t,
            valid_from=starts[i % len(starts)] + timedelta(seconds=rng.uniform(0, 3000)),
        )
        for i, (_, t) in enumerate(synthetic_memories(PADDING))
    ]


def conversation_in_its_hours(conv: Conversation, other: Conversation) -> list[MemoryDraft]:
    """``other``'s turns moved into ``conv``'s sessions (its k-th session into the k-th,
    cyclically), a turn every 5 s from a minute after the session's start: another
    conversation held in the same hours, as two agents of a fleet write at once."""
    starts = sorted({turn.when for turn, _ in conv.turns})
    sessions = sorted({turn.when for turn, _ in other.turns})
    drafts: list[MemoryDraft] = []
    for k, when in enumerate(sessions):
        texts = [t for turn, t in other.turns if turn.when == when]
        base = starts[k % len(starts)] + timedelta(minutes=1)
        drafts += [
            MemoryDraft(kind=Kind.FACT, content=t, valid_from=base + timedelta(seconds=5 * j))
            for j, t in enumerate(texts)
        ]
    return drafts


def _no_evidence(*_: Any) -> dict[str, Evidence]:
    return {}


def rrf_candidates(parts: Components) -> Any:
    """The retriever before the hybrid work, kept as a baseline: LanceDB's (unindexed)
    vector search and FTS fused by reciprocal rank."""
    index, source = parts.index, parts.source

    def candidates(
        project: str, _gen: int, text: str, depth: int, statuses: list[str], kinds: Any, *_: Any
    ) -> list[Any]:
        qvec = source.embed_query(text)
        dense = index.vector_search(project, qvec, depth, statuses, kinds or [])
        words = query_terms(text)
        return fuse(dense, index.full_text(project, words, depth, statuses, kinds or []))

    return candidates


def run_variants(parts: Components, loaded: Loaded, run: Run) -> None:
    svc = parts.service
    with patched([(parts.source, "candidates", rrf_candidates(parts))]):
        for q in loaded.conv.questions:
            ids = search_ids(svc, loaded.project, q.text)
            run.scores("memsvc before (RRF: LanceDB FTS + dense)").add(q, ranked_turns(loaded, ids))
    # the path of a project above exact_scan_max_rows: candidates pooled from the vector index
    parts.index.build_ann(loaded.project, retrain=True)
    with patched([(parts.source, "exact_max", -1)]):
        for q in loaded.conv.questions:
            ids = search_ids(svc, loaded.project, q.text)
            run.scores("memsvc ANN pool (vector index forced)").add(q, ranked_turns(loaded, ids))
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


def evaluate(convs: list[Conversation], embedder: Embedder, run: Run, ablations: bool) -> None:
    """All conversations in one data dir (one project each), so that every question can
    also be asked in another conversation's project (the next one, cyclically)."""
    with tempfile.TemporaryDirectory(prefix="memsvc-quality-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            svc = parts.service
            everything: list[Loaded] = []
            for conv in convs:
                t0 = time.perf_counter()
                loaded = ingest(svc, conv)
                run.ingest_s += time.perf_counter() - t0
                run.memories += len(loaded.turns_of)
                run.merged += loaded.merged
                everything.append(loaded)
            for i, loaded in enumerate(everything):
                foreign = everything[(i + 1) % len(everything)]
                run_memsvc(parts, loaded, foreign, run)
                run_baselines(parts, loaded, run)
                if ablations:
                    run_variants(parts, loaded, run)
                if i == 0:
                    run_padding(parts, loaded, foreign.conv, run)
                conv = loaded.conv
                print(
                    f"  {conv.sample_id}: {len(conv.turns)} turns, {len(conv.questions)} questions",
                    flush=True,
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
        f"- command: `python benchmarks/bench_quality.py {' '.join(sys.argv[1:])}`",
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
        *abstention_lines(run),
        *padding_lines(run),
        "## Latency (2 cores, one query at a time)",
        "",
        "| call | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| search_memories (limit {RETRIEVE}, {run.query_vectors}, audit write) | "
        f"{percentile_ms(run.search_s, 50):.1f} | {percentile_ms(run.search_s, 95):.1f} |",
        f"| the same with the relevance step switched off (same run) | "
        f"{percentile_ms(run.abst.search_plain_s, 50):.1f} | "
        f"{percentile_ms(run.abst.search_plain_s, 95):.1f} |",
        f"| get_context ({CONTEXT_BUDGET} tokens) | {percentile_ms(run.context_s, 50):.1f} | "
        f"{percentile_ms(run.context_s, 95):.1f} |",
        "",
        f"Ingest through `add_memories` (embedding included): {run.ingest_s:.1f} s for "
        f"{run.memories} memories.",
        "",
    ]
    return "\n".join(lines)


HEADLINE_METRICS_FOR_TABLE = HEAD_METRICS


def _mean(values: list[float] | list[bool] | list[int]) -> float:
    return sum(values) / len(values) if values else float("nan")


def abstention_lines(run: Run) -> list[str]:
    """The calibration and abstention section of the report."""
    ab = run.abst
    before, after = _mean(ab.own_evidence_top10_before), _mean(ab.own_evidence_top10_after)
    old_after = _mean(ab.previous_own_top10_after)
    cal = DEFAULT_CALIBRATION
    lines = [
        "## Relevance and abstention",
        "",
        f"Calibration `{cal.name}` (bias {cal.bias}, cosine {cal.w_cosine}, coverage_undated "
        f"{cal.w_coverage}, unknown {cal.w_unknown}, unnamed {cal.w_unnamed}), fitted by "
        "`benchmarks/calibrate.py` on the hand-written `FIT` corpus only; default "
        f"`min_relevance` {DEFAULT_MIN_RELEVANCE}. "
        "Each question "
        f"(categories 1-4, {len(ab.own_best)}) asked in its own conversation's project and "
        "in the next conversation's project; a query's relevance is its best hit's.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| ROC AUC of relevance, own vs foreign | {auc(ab.own_best, ab.foreign_best):.3f} |",
        f"| foreign queries returning nothing at the default | {_mean(ab.foreign_empty):.3f} |",
        f"| own queries returning nothing at the default | {_mean(ab.own_empty):.3f} |",
        f"| own queries with an evidence turn in the top 10, no threshold | {before:.3f} |",
        f"| own queries with an evidence turn in the top 10, at the default | {after:.3f} |",
        f"| ratio after / before | {after / before if before else float('nan'):.3f} |",
        "",
        f"The same hits under the previous calibration `{PREVIOUS_CALIBRATION.name}` (bias "
        f"{PREVIOUS_CALIBRATION.bias}, cosine {PREVIOUS_CALIBRATION.w_cosine}, coverage_undated "
        f"{PREVIOUS_CALIBRATION.w_coverage}, unknown {PREVIOUS_CALIBRATION.w_unknown}; fitted "
        "on FIT without its named questions): foreign "
        f"queries returning nothing {_mean(ab.previous_foreign_empty):.3f}, own queries with "
        f"an evidence turn in the top 10 at the default {old_after:.3f} (ratio "
        f"{old_after / before if before else float('nan'):.3f}).",
        "",
        f"Context packs ({CONTEXT_BUDGET} tokens, `get_context(task=question)`): precision = "
        "of the non-rule items, the share that are evidence turns or from an evidence "
        "session, averaged over the packs holding any (empty packs are counted apart).",
        "",
        "| pack | precision (own project) | empty packs (own) | items (own) | "
        "items (foreign project) |",
        "|---|---|---|---|---|",
        f"| before abstention (threshold 0) | {_mean(ab.pack_precision_before):.3f} | "
        f"{_mean([n == 0 for n in ab.pack_items_before]):.3f} | "
        f"{_mean(ab.pack_items_before):.1f} | {_mean(ab.foreign_items_before):.1f} |",
        f"| at the default min_relevance | {_mean(ab.pack_precision_after):.3f} | "
        f"{_mean([n == 0 for n in ab.pack_items_after]):.3f} | "
        f"{_mean(ab.pack_items_after):.1f} | {_mean(ab.foreign_items_after):.1f} |",
        "",
        "Second check, on text unlike dialogue (`benchmarks/corpora.py`: decisions, rules, "
        "conventions and a few long notes of software projects; every query asked in its own "
        "project and in each other project of its corpus; 'answer kept' = one of its "
        "answers among the hits at the default threshold; '+N' = each project padded with N "
        "unrelated notes, as in the fit):",
        "",
        "| corpus | queries | AUC own vs foreign | own answer kept | foreign empty |",
        "|---|---|---|---|---|",
    ]
    for c in run.corpora:
        lines.append(
            f"| {c['corpus']} | {c['queries']:.0f} | {c['AUC own vs foreign']:.3f} | "
            f"{c['own answer kept at default']:.3f} | {c['foreign empty at default']:.3f} |"
        )
    return [*lines, ""]


def padding_lines(run: Run) -> list[str]:
    """The padding section: the first conversation with and without unrelated notes."""
    if not run.padding:
        return []
    metrics = ["any@5", "any@10", "turn@10", "NDCG@10"]
    rows = {name: scores.mean(HEADLINE) for name, scores in run.padding.items()}
    return [
        "## Robustness to unrelated content",
        "",
        f"The first conversation's questions (categories 1-4) in its own project and in a "
        f"copy padded with {PADDING} unrelated engineering notes "
        "(`benchmarks.common.synthetic_memories`). 'IDF over all rows' is the ranking's "
        "IDF as it was before this work (N = every row of the project, so unrelated rows "
        "inflate every IDF); this work counts only the rows holding a query term. "
        "'In its sessions' hours': the same notes, or the next conversation's turns, "
        "holding within the conversation's sessions (a note up to 50 minutes after a "
        "session's start; the other conversation's k-th session from a minute after the "
        "k-th session's start), written by the conversation's writer or by another agent "
        "(another writer stream: episodes never cross streams). Only the conversation's "
        "own turns are ranked (added rows are skipped), as for the other rows, except in "
        "the rows 'added rows counted as misses', where each added row keeps its place "
        "as a miss.",
        "",
        *table(rows, metrics),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="path to a LoCoMo JSON file")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality.md"))
    parser.add_argument("--convs", type=int, default=0, help="only the first N conversations")
    parser.add_argument("--no-ablations", action="store_true")
    parser.add_argument(
        "--no-embed-cache",
        action="store_true",
        help="embed with the model every run (default: vectors cached in benchmarks/.cache)",
    )
    parser.add_argument(
        "--quantized-queries",
        action="store_true",
        help="queries on the int8 graph (Settings.quantized_queries), memories on fp32",
    )
    args = parser.parse_args()
    convs = load_locomo(Path(args.data))
    if args.convs:
        convs = convs[: args.convs]
    embedder: Embedder
    if args.no_embed_cache:
        embedder = MiniLMEmbedder(quantized_queries=args.quantized_queries)
        embedder.warm()
    else:
        embedder = CachedEmbedder(quantized_queries=args.quantized_queries)
    run = Run()
    if isinstance(embedder, CachedEmbedder):
        run.query_vectors = "query vectors from the benchmark's vector cache"
    evaluate(convs, embedder, run, ablations=not args.no_ablations)
    for pad in FIT_PADS:
        for name, corpus in (("fit (calibration data)", FIT), ("check (held out)", CHECK)):
            run.corpora.append(summary(f"{name} +{pad}", observe(corpus, embedder, pad)))
    if isinstance(embedder, CachedEmbedder):
        embedder.save()
    text = report(run, args, len(convs))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
