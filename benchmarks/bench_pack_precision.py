"""Why context-pack precision fell after abstention (issue 14), and what it is now.

Builds the 1000-token ``get_context(task=question)`` packs of ``bench_quality.py`` three
ways on LoCoMo (categories 1-4 with evidence; each question also in the next
conversation's project) and on the hand-written corpora (``benchmarks/corpora.py``):

- ``no threshold``: min_relevance 0, the budget filled in rank order;
- ``refilled``: the packing before issue 14: the memories below min_relevance dropped and
  the freed budget filled with the next passing hits in rank order;
- ``default``: the product as it is: the memories below min_relevance keep their places
  in the budget (``PackPlan.held``), so the pack is the unthresholded one less them.

For LoCoMo the items of each pack are told apart as evidence turns, other turns of an
evidence session, and the rest; the memories each way takes out of (and adds to) the
unthresholded pack are broken down the same way. Writes ``results/pack_precision.md``.

    python benchmarks/bench_pack_precision.py --data ../shared/bench/locomo_dev.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_quality import (
    ACTOR,
    CONTEXT_BUDGET,
    HEADLINE,
    Loaded,
    commit,
    ingest,
    machine,
    patched,
    search_hits,
)
from benchmarks.calibrate import FIT_PADS, corpus_queries, padded
from benchmarks.corpora import CHECK, FIT, CorpusProject
from benchmarks.embed_cache import CachedEmbedder
from benchmarks.locomo import Question, load_locomo
from memsvc import ContextPack, ContextRequest, Kind, MemoryService
from memsvc import Settings as MemsvcSettings
from memsvc.bootstrap import build_components
from memsvc.domain import DEFAULT_MIN_RELEVANCE
from memsvc.retrieval import context as context_module

WAYS = ("no threshold", "refilled", "default")
CLASSES = ("evidence turn", "evidence session", "other")
NOT_RANKED = {Kind.RULE, Kind.HANDOFF}


@dataclass
class _Refilled(context_module.PackPlan):
    """The plan as packed before issue 14: held memories dropped, their budget freed."""

    def __post_init__(self) -> None:
        self.rest = [m for m in self.rest if m.id not in self.held]
        self.held = {}


@contextmanager
def way(name: str) -> Iterator[None]:
    """Packs built the ``name`` way (see the module docstring)."""
    if name == "no threshold":
        with patched([(context_module, "DEFAULT_MIN_RELEVANCE", 0.0)]):
            yield
    elif name == "refilled":
        with patched([(context_module, "PackPlan", _Refilled)]):
            yield
    else:
        yield


def pack(svc: MemoryService, project: str, text: str, name: str) -> ContextPack:
    with way(name):
        request = ContextRequest(task=text, budget_tokens=CONTEXT_BUDGET)
        return svc.get_context(ACTOR, project, request)


@dataclass
class Tally:
    precision: list[float] = field(default_factory=list)
    turn_precision: list[float] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    evidence_in_pack: list[float] = field(default_factory=list)
    foreign_items: list[int] = field(default_factory=list)
    classes: Counter[str] = field(default_factory=Counter)
    out: Counter[str] = field(default_factory=Counter)
    """Memories of the unthresholded pack this way leaves out, by class."""
    out_relevance: dict[str, list[float]] = field(default_factory=dict)
    out_tokens: dict[str, list[int]] = field(default_factory=dict)
    added: Counter[str] = field(default_factory=Counter)
    """Memories this way packs that the unthresholded pack does not hold, by class."""
    added_relevance: dict[str, list[float]] = field(default_factory=dict)


def classify(loaded: Loaded, q: Question, memory_id: str) -> str:
    turns = loaded.turns_of.get(memory_id, [])
    sessions = {s for s, _ in q.evidence}
    if any(t in q.evidence for t in turns):
        return "evidence turn"
    if any(t[0] in sessions for t in turns):
        return "evidence session"
    return "other"


def run_locomo(
    svc: MemoryService, everything: list[Loaded], tallies: dict[str, Tally], progress: bool
) -> None:
    for i, loaded in enumerate(everything):
        foreign = everything[(i + 1) % len(everything)]
        for q in loaded.conv.questions:
            if not (q.evidence and q.category in HEADLINE):
                continue
            relevance = {h.memory.id: h.relevance for h in search_hits(svc, loaded.project, q.text)}
            packs = {name: pack(svc, loaded.project, q.text, name) for name in WAYS}
            for name, p in packs.items():
                away = pack(svc, foreign.project, q.text, name)
                tally(tallies[name], loaded, q, p, packs["no threshold"], away, relevance)
        if progress:
            print(f"  {loaded.conv.sample_id} done", flush=True)


def tally(
    t: Tally,
    loaded: Loaded,
    q: Question,
    p: ContextPack,
    unthresholded: ContextPack,
    away: ContextPack,
    relevance: dict[str, float],
) -> None:
    """Count one question's pack ``p`` (and its pack ``away`` in a foreign project)."""
    base = [m.id for m in unthresholded.items if m.kind not in NOT_RANKED]
    tokens = {m.id: m.token_count for m in unthresholded.items}
    ids = [m.id for m in p.items if m.kind not in NOT_RANKED]
    cls = [classify(loaded, q, m) for m in ids]
    t.items.append(len(ids))
    if ids:
        t.precision.append(sum(c != "other" for c in cls) / len(ids))
        t.turn_precision.append(sum(c == "evidence turn" for c in cls) / len(ids))
    t.classes.update(cls)
    inside = {turn for m in ids for turn in loaded.turns_of.get(m, [])}
    t.evidence_in_pack.append(len(set(q.evidence) & inside) / len(set(q.evidence)))
    t.foreign_items.append(sum(m.kind not in NOT_RANKED for m in away.items))
    for m in (m for m in base if m not in ids):
        c = classify(loaded, q, m)
        t.out[c] += 1
        t.out_relevance.setdefault(c, []).append(relevance.get(m, 0.0))
        t.out_tokens.setdefault(c, []).append(tokens[m])
    for m, c in zip(ids, cls, strict=True):
        if m not in base:
            t.added[c] += 1
            t.added_relevance.setdefault(c, []).append(relevance.get(m, 0.0))


@dataclass
class CorpusTally:
    answer_packed: list[bool] = field(default_factory=list)
    precision: list[float] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    foreign_items: list[float] = field(default_factory=list)


def run_corpus(corpus: list[CorpusProject], embedder: Any, pad: int) -> dict[str, CorpusTally]:
    corpus = padded(corpus, pad)
    out = {name: CorpusTally() for name in WAYS}
    with corpus_queries(corpus, embedder) as (svc, queries):
        for p, text, wanted in queries:
            for name in WAYS:
                t = out[name]
                own = pack(svc, p.name, text, name)
                items = [m.id for m in own.items if m.kind not in NOT_RANKED]
                t.answer_packed.append(any(m.id in wanted for m in own.items))
                t.items.append(len(items))
                if items:
                    t.precision.append(sum(m in wanted for m in items) / len(items))
                away = [
                    sum(m.kind not in NOT_RANKED for m in pack(svc, o.name, text, name).items)
                    for o in corpus
                    if o.name != p.name
                ]
                t.foreign_items.append(sum(away) / len(away))
    return out


def _mean(values: list[Any]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _med(values: list[Any] | None) -> str:
    return f"{median(values):.2f}" if values else "-"


def report(
    tallies: dict[str, Tally],
    corpora: list[tuple[str, dict[str, CorpusTally]]],
    args: argparse.Namespace,
    n_convs: int,
    seconds: float,
) -> str:
    n = len(tallies["default"].items)
    lines = [
        "# Context-pack precision and abstention (issue 14)",
        "",
        f"- command: `python benchmarks/bench_pack_precision.py --data {args.data_label}`"
        + (f" --convs {args.convs}" if args.convs else ""),
        f"- data: LoCoMo dev, {n_convs} conversations, {n} questions (categories 1-4 with "
        "evidence), each packed in its own project and in the next conversation's",
        f"- machine: {machine()}; {seconds:.0f} s; commit {commit()}",
        f"- packs: {CONTEXT_BUDGET} tokens, `get_context(task=question)`, default "
        f"min_relevance {DEFAULT_MIN_RELEVANCE}; items = the non-rule, non-handoff ones",
        "",
        "'precision' = share of a pack's items that are evidence turns or from an evidence "
        "session (as in `quality.md`), averaged over non-empty packs; 'turn precision' = "
        "share that are evidence turns; 'evidence in pack' = share of a question's "
        "evidence turns packed.",
        "",
        "| pack | precision | turn precision | items (own) | evidence in pack | "
        "items (foreign project) |",
        "|---|---|---|---|---|---|",
    ]
    for name in WAYS:
        t = tallies[name]
        lines.append(
            f"| {name} | {_mean(t.precision):.3f} | {_mean(t.turn_precision):.3f} | "
            f"{_mean(t.items):.2f} | {_mean(t.evidence_in_pack):.3f} | "
            f"{_mean(t.foreign_items):.2f} |"
        )
    lines += [
        "",
        "What each way changes in the unthresholded pack, per pack (own project), by class: "
        "count per pack (median relevance, median tokens).",
        "",
        "| pack | | " + " | ".join(CLASSES) + " |",
        "|---|---|---|---|---|",
    ]
    for name in WAYS[1:]:
        t = tallies[name]
        out = " | ".join(
            f"{t.out[c] / n:.2f} ({_med(t.out_relevance.get(c))}, {_med(t.out_tokens.get(c))})"
            for c in CLASSES
        )
        added = " | ".join(
            f"{t.added[c] / n:.2f} ({_med(t.added_relevance.get(c))})" for c in CLASSES
        )
        lines.append(f"| {name} | left out | {out} |")
        lines.append(f"| {name} | added | {added} |")
    base = tallies["no threshold"].classes
    total = sum(base.values())
    lines += [
        "",
        "The unthresholded packs' items: "
        + ", ".join(f"{c} {base[c] / total:.3f}" for c in CLASSES)
        + ".",
        "",
        "## Hand-written corpora",
        "",
        "Each query in its own project ('answer packed': one of its answers is in the pack; "
        "precision: share of the items that answer it) and in each other project of its "
        "corpus (items packed there); '+N' = each project padded with N unrelated notes. "
        "The notes of a project are written in one batch, so they are one episode in time.",
        "",
        "| corpus | pack | answer packed | precision | items (own) | items (foreign) |",
        "|---|---|---|---|---|---|",
    ]
    for label, res in corpora:
        for name in WAYS:
            c = res[name]
            lines.append(
                f"| {label} | {name} | {_mean(c.answer_packed):.3f} | {_mean(c.precision):.3f} | "
                f"{_mean(c.items):.2f} | {_mean(c.foreign_items):.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="path to a LoCoMo JSON file")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "pack_precision.md")
    )
    parser.add_argument("--convs", type=int, default=0, help="only the first N conversations")
    parser.add_argument("--no-corpora", action="store_true", help="LoCoMo only")
    args = parser.parse_args()
    args.data_label = Path(args.data).name
    convs = load_locomo(Path(args.data))
    if args.convs:
        convs = convs[: args.convs]
    embedder = CachedEmbedder()
    t0 = time.perf_counter()
    tallies = {name: Tally() for name in WAYS}
    with tempfile.TemporaryDirectory(prefix="memsvc-packs-") as tmp:
        settings = MemsvcSettings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            everything = [ingest(parts.service, conv) for conv in convs]
            run_locomo(parts.service, everything, tallies, progress=True)
    corpora: list[tuple[str, dict[str, CorpusTally]]] = []
    if not args.no_corpora:
        for pad in FIT_PADS:
            for name, corpus in (("check (held out)", CHECK), ("fit (calibration data)", FIT)):
                corpora.append((f"{name} +{pad}", run_corpus(corpus, embedder, pad)))
    embedder.save()
    text = report(tallies, corpora, args, len(convs), time.perf_counter() - t0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
