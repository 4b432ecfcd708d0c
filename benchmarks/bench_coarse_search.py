"""The coarse quantizer as a search's dense candidates (issue 11): recall against the exact
scan, ranking quality at scale and candidate time, on MiniLM vectors.

A LoCoMo dev conversation (its questions of categories 1-4 are the queries) is held in a
project alone and in projects padded to each ``--sizes`` with distractors: the other dev
conversations' turns (real dialogue, their own dates) and then engineering notes
(``benchmarks.common.synthetic_memories``, written without a date). Each padded project is
searched three ways in one process, query by query: the exact scan (every row's cosine),
the coarse path (``search_ann="coarse"``, the default above ``exact_scan_max_rows``), and
the coarse path's dense top alone against the exact top (``CoarseIndex.best_masked``).

Vectors: the conversations' turns and the questions are MiniLM's own (``CachedEmbedder``).
The notes are templated, so each note's vector is MiniLM's vector of its template text
(the note without its ``(note i, owner team-k)`` suffix, 13,824 templates) plus a small
seeded perturbation whose size is set from the model: the mean cosine between a sample
of whole notes and their templates, both embedded by MiniLM (reported). Embedding every
note would take most of an hour on this machine; the perturbation keeps each template's
notes a tight cluster around the model's vector, as the model puts them.

    python benchmarks/bench_coarse_search.py --data PATH/locomo_dev.json \\
        --sizes 30000,100000 --out benchmarks/results/coarse_search.md
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.bench_quality import ACTOR, Loaded, ingest, ranked_turns, search_ids
from benchmarks.common import RESULTS, header, iter_synthetic_memories
from benchmarks.embed_cache import CachedEmbedder
from benchmarks.locomo import Conversation, load_locomo
from benchmarks.quality_report import Scores
from memsvc import Kind, MemoryDraft, Settings
from memsvc.bootstrap import Components, build_components
from memsvc.retrieval import candidates as candidates_mod
from memsvc.retrieval import coarse as coarse_mod
from memsvc.retrieval.hybrid import DENSE_SCALE_DEPTH

_SUFFIX = re.compile(r" \(note (\d+), owner team-\d+\)$")
HEADLINE = (1, 2, 3, 4)
METRICS = ("any@5", "any@10", "turn@10", "NDCG@10")


class PadEmbedder:
    """MiniLM's vectors (cached) for every text but the padding notes, whose vectors are
    their template's plus a seeded perturbation of ``sigma`` per dimension."""

    def __init__(self, inner: CachedEmbedder, sigma: float) -> None:
        self.inner, self.sigma = inner, sigma
        self.identity, self.dim = inner.identity, inner.dim

    def warm(self) -> None:
        """Nothing to load up front."""

    def embed(self, texts: list[str]) -> Any:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        plain = [i for i, t in enumerate(texts) if not _SUFFIX.search(t)]
        notes = [i for i, t in enumerate(texts) if _SUFFIX.search(t)]
        if plain:
            out[plain] = self.inner.embed([texts[i] for i in plain])
        if notes:
            bases = self.inner.embed([_SUFFIX.sub("", texts[i]) for i in notes])
            for row, i in zip(bases, notes, strict=True):
                m = _SUFFIX.search(texts[i])
                assert m is not None
                rng = np.random.default_rng(int(m.group(1)))
                v = row + self.sigma * rng.standard_normal(self.dim).astype(np.float32)
                out[i] = v / np.linalg.norm(v)
        return out


def calibrate_sigma(inner: CachedEmbedder, sample: int = 200) -> tuple[float, float]:
    """(sigma, the model's mean cosine of a whole note to its template)."""
    notes = [t for _, t in _notes(sample, start=10**7)]
    whole = inner.embed(notes)
    base = inner.embed([_SUFFIX.sub("", t) for t in notes])
    cos = float(np.mean(np.sum(whole * base, axis=1)))
    # a perturbation of sigma per dimension gives cos ~ 1 / sqrt(1 + dim * sigma^2)
    sigma = float(np.sqrt(max(1.0 / cos**2 - 1.0, 0.0) / inner.dim))
    return sigma, cos


def _notes(n: int, start: int = 0) -> list[tuple[str, str]]:
    out = []
    for i, row in enumerate(iter_synthetic_memories(seed=23)):
        if i >= start:
            out.append(row)
        if len(out) >= n:
            break
    return out


@dataclass
class SizeRun:
    size: int
    scores: dict[str, Scores] = field(default_factory=dict)
    top10_overlap: list[float] = field(default_factory=list)
    lexical_depth: int = 0
    """``--lexical-depth``: also search each question with ``candidates.LEXICAL_DEPTH`` set."""
    capped_overlap: list[float] = field(default_factory=list)
    dense_recall: list[float] = field(default_factory=list)
    ms: dict[str, list[float]] = field(default_factory=dict)
    lists: int = 0
    train_s: float = 0.0
    scanned: list[int] = field(default_factory=list)


def _pad(parts: Components, project: str, others: list[Conversation], size: int) -> None:
    svc = parts.service
    have = svc.project_stats(ACTOR, project).counts
    held = sum(sum(k.values()) for k in have.values())
    drafts = [
        MemoryDraft(kind=Kind.FACT, content=t, valid_from=tu.when)
        for conv in others
        for tu, t in conv.turns
    ]
    drafts = drafts[: max(0, size - held)]
    notes = size - held - len(drafts)
    drafts += [MemoryDraft(kind=Kind(k), content=c) for k, c in _notes(notes)]
    for start in range(0, len(drafts), 1000):
        svc.add_memories(ACTOR, project, drafts[start : start + 1000])


def _timed(run: SizeRun, name: str, fn: Any) -> Any:
    begin = time.perf_counter()
    out = fn()
    run.ms.setdefault(name, []).append((time.perf_counter() - begin) * 1000)
    return out


def measure(parts: Components, target: Loaded, run: SizeRun, exact_max: int) -> None:
    """Every question through the exact scan and the coarse path, alternately."""
    svc, source = parts.service, parts.source
    entry = parts.cache.entry(target.project, 0)
    begin = time.perf_counter()
    coarse = entry.trained_coarse()
    run.train_s = time.perf_counter() - begin
    run.lists = coarse.lists
    questions = [q for q in target.conv.questions if q.category in HEADLINE and q.evidence]
    for q in questions:
        source.exact_max = 10**12
        exact = _timed(run, "exact: search", lambda q=q: search_ids(svc, target.project, q.text))
        source.exact_max = exact_max
        approx = _timed(run, "coarse: search", lambda q=q: search_ids(svc, target.project, q.text))
        run.scores.setdefault("exact scan", Scores()).add(q, ranked_turns(target, exact))
        run.scores.setdefault("coarse", Scores()).add(q, ranked_turns(target, approx))
        if exact[:10]:
            run.top10_overlap.append(len(set(exact[:10]) & set(approx[:10])) / len(exact[:10]))
        if run.lexical_depth:
            name = f"coarse, lexical depth {run.lexical_depth}"
            candidates_mod.LEXICAL_DEPTH = run.lexical_depth
            try:
                capped = _timed(
                    run, f"{name}: search", lambda q=q: search_ids(svc, target.project, q.text)
                )
            finally:
                candidates_mod.LEXICAL_DEPTH = 0
            run.scores.setdefault(name, Scores()).add(q, ranked_turns(target, capped))
            if exact[:10]:
                run.capped_overlap.append(len(set(exact[:10]) & set(capped[:10])) / len(exact[:10]))
        qvec = source.embed_query(q.text)
        with entry.lock:
            best, full, m = _dense_tops(run, entry, coarse, qvec)
        run.dense_recall.append(len(set(best.tolist()) & full) / m)
        run.scanned.append(
            max(coarse_mod.SEARCH_MIN_SCAN, int(coarse_mod.SEARCH_SCAN_SHARE * entry.n))
        )


def _dense_tops(run: SizeRun, entry: Any, coarse: Any, qvec: Any) -> tuple[Any, set[int], int]:
    """(the coarse dense top, the exact one, their size), each timed; hold the entry's lock."""
    matrix = entry.matrix[: entry.n]
    mask = entry.mask({"active"}, None)
    m = min(DENSE_SCALE_DEPTH, int(mask.sum()))
    full = _timed(run, "exact: every row's cosine + top", lambda: _top(matrix, qvec, m, mask))
    with coarse.lock:
        best = _timed(run, "coarse: best_masked", lambda: coarse.best_masked(matrix, qvec, m, mask))
    return best, full, m


def _top(matrix: Any, q: Any, m: int, mask: Any) -> set[int]:
    sims = np.where(mask, matrix @ q, -np.inf)
    return set(np.argpartition(-sims, m - 1)[:m].tolist())


def unpadded(parts: Components, loaded: Loaded) -> Scores:
    out = Scores()
    for q in loaded.conv.questions:
        if q.category in HEADLINE and q.evidence:
            out.add(q, ranked_turns(loaded, search_ids(parts.service, loaded.project, q.text)))
    return out


def _means(scores: Scores) -> dict[str, float]:
    rows = [r for cat, rs in scores.by_cat.items() if cat in HEADLINE for r in rs]
    return {k: statistics.mean(r[k] for r in rows) for k in METRICS}


def _med(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def render(
    args: argparse.Namespace,
    base: Scores,
    runs: list[SizeRun],
    cal: tuple[float, float],
    load: tuple[str, str],
) -> str:
    lines = header(
        "The coarse quantizer as a search's dense candidates",
        "python benchmarks/bench_coarse_search.py " + shlex.join(sys.argv[1:]),
    )
    lines += [
        f"- load average (1/5/15 min) at start: {load[0]}; at the end: {load[1]}",
        f"- conversation: {args.conv_index} of the dev split, questions of categories 1-4",
        f"- padding notes: template vector + N(0, {cal[0]:.4f}) per dimension; MiniLM's mean "
        f"cosine of a whole note to its template: {cal[1]:.3f}",
        f"- scan: `SEARCH_MIN_SCAN` {coarse_mod.SEARCH_MIN_SCAN}, `SEARCH_SCAN_SHARE` "
        f"{coarse_mod.SEARCH_SCAN_SHARE}, `LIST_ROWS` {coarse_mod.LIST_ROWS}",
        "",
        " ".join((__doc__ or "").split("\n\n")[1].split()),
        "",
        "## Ranking",
        "",
        "| project | path | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---:|" * len(METRICS),
    ]
    b = _means(base)
    lines.append(
        "| conversation alone | exact scan | " + " | ".join(f"{b[k]:.3f}" for k in METRICS) + " |"
    )
    for r in runs:
        for name in r.scores:
            s = _means(r.scores[name])
            lines.append(
                f"| padded to {r.size:,} | {name} | "
                + " | ".join(f"{s[k]:.3f}" for k in METRICS)
                + " |"
            )
    lines += [
        "",
        "## The coarse path against the exact scan",
        "",
        "| project | lists | training s | rows scanned per query "
        "| dense top-100 recall (mean, min) | final top-10 overlap (mean, min) |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| padded to {r.size:,} | {r.lists} | {r.train_s:.1f} | >= {r.scanned[0]:,} | "
            f"{statistics.mean(r.dense_recall):.3f}, {min(r.dense_recall):.2f} | "
            f"{statistics.mean(r.top10_overlap):.3f}, {min(r.top10_overlap):.1f} |"
        )
        if r.capped_overlap:
            lines.append(
                f"| padded to {r.size:,}, lexical depth {r.lexical_depth:,} | | | | | "
                f"{statistics.mean(r.capped_overlap):.3f}, {min(r.capped_overlap):.1f} |"
            )
    lines += ["", "## Time per query, ms: median (min-max), in process", ""]
    names = list(runs[0].ms)
    lines += ["| project | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for r in runs:
        lines.append(f"| padded to {r.size:,} | " + " | ".join(_med(r.ms[n]) for n in names) + " |")
    return "\n".join(lines) + "\n"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--sizes", default="30000,100000")
    p.add_argument("--conv-index", type=int, default=0)
    p.add_argument(
        "--exact-max", type=int, default=1000, help="exact_scan_max_rows of the coarse path"
    )
    p.add_argument("--root", type=Path, default=None, help="keep the data dirs here")
    p.add_argument("--out", type=Path, default=RESULTS / "coarse_search.md")
    p.add_argument(
        "--lexical-depth",
        type=int,
        default=0,
        help="also search with only this many best lexical rows scored (candidates.LEXICAL_DEPTH)",
    )
    args = p.parse_args()
    load_start = loadavg()
    convs = load_locomo(args.data)
    conv = convs[args.conv_index]
    others = [c for i, c in enumerate(convs) if i != args.conv_index]
    inner = CachedEmbedder()
    cal = calibrate_sigma(inner)
    embedder = PadEmbedder(inner, cal[0])
    print(f"sigma {cal[0]:.4f} (model cosine {cal[1]:.3f})", flush=True)
    runs = []
    root = args.root or Path(tempfile.mkdtemp(prefix="memsvc-coarse-"))
    settings = Settings(
        data_dir=root, background=False, embedder="minilm", exact_scan_max_rows=args.exact_max
    )
    with build_components(settings, embedder=embedder) as parts:  # type: ignore[arg-type]
        parts.source.train_in_background = False
        alone = ingest(parts.service, conv)
        parts.source.exact_max = 10**12
        base = unpadded(parts, alone)
        inner.save()
        for size in [int(s) for s in args.sizes.split(",") if s]:
            padded = ingest(
                parts.service,
                Conversation(f"pad{size}-{conv.sample_id}", conv.turns, conv.questions),
            )
            begin = time.perf_counter()
            _pad(parts, padded.project, others, size)
            print(f"{size}: padded in {time.perf_counter() - begin:.0f} s", flush=True)
            inner.save()
            run = SizeRun(size, lexical_depth=args.lexical_depth)
            measure(parts, padded, run, args.exact_max)
            runs.append(run)
            parts.cache.forget(padded.project)
    text = render(args, base, runs, cal, (load_start, loadavg()))
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
