"""Fit the relevance calibration (``memsvc/retrieval/relevance.py``) on the hand-written
``FIT`` corpus, never on LoCoMo, and check a calibration on a corpus.

Every query of every project is asked in its own project and in each other project of
the corpus (limit 10, ``min_relevance=0``). A hit is a positive when it is one of the
query's answers in its own project, else a negative (its unrelated near misses in the own
project, everything in a foreign one). A logistic regression of the label on the hit's
``cosine``, ``coverage_undated`` and ``unknown`` parts (``relevance.DEFAULT_CALIBRATION``),
with the two classes weighted equally (an even prior), gives the four constants.

The hand-written projects hold 11-16 memories; real ones hold hundreds, where a query's
best hit is the best of many draws and an unrelated near miss is far likelier. So the fit
runs over the corpus at several sizes (``FIT_PADS``): as written, and with each project
padded by that many unrelated engineering notes (``benchmarks.common.synthetic_memories``,
a different slice per project; every note is a negative). Sizes chosen a priori to span
a small and a LoCoMo-like project (~400 memories), not searched.

    python benchmarks/calibrate.py            # prints the fitted constants and checks
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.common import synthetic_memories
from benchmarks.corpora import CHECK, FIT, CorpusProject
from benchmarks.embed_cache import CachedEmbedder
from memsvc import (
    Actor,
    Channel,
    Kind,
    MemoryDraft,
    MemoryService,
    ProjectCreate,
    SearchQuery,
    Settings,
)
from memsvc.bootstrap import build_components
from memsvc.domain import DEFAULT_MIN_RELEVANCE
from memsvc.retrieval.embedder import Embedder

ACTOR = Actor.local(Channel.REST)
KINDS = {"convention": Kind.RULE}


def load_corpus(svc: MemoryService, corpus: list[CorpusProject]) -> dict[str, list[str]]:
    """Create each project of ``corpus`` and write its memories: their ids per project,
    in the corpus's order (a query's answers are indexes into them)."""
    ids: dict[str, list[str]] = {}
    for p in corpus:
        svc.create_project(ACTOR, ProjectCreate(id=p.name))
        drafts = [
            MemoryDraft(kind=KINDS[k] if k in KINDS else Kind(k), content=t) for k, t in p.memories
        ]
        ids[p.name] = [r.memory.id for r in svc.add_memories(ACTOR, p.name, drafts)]
    return ids


FIT_PADS = (0, 100, 400)
"""Unrelated notes added to each project for the fit (see the module docstring)."""
PAD_SLICE = 800
"""Project i of a corpus is padded with notes ``[i * PAD_SLICE, i * PAD_SLICE + pad)``."""


@dataclass
class Observed:
    """What a corpus run saw: every hit's signals and label, and per query outcomes."""

    features: list[tuple[float, float, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    own_best: list[float] = field(default_factory=list)
    """Per query in its own project: the best relevance among its answers (0: not found)."""
    foreign_best: list[float] = field(default_factory=list)
    """Per query in a foreign project: its top hit's relevance."""
    own_found_at_default: list[bool] = field(default_factory=list)
    foreign_empty_at_default: list[bool] = field(default_factory=list)


def features(parts: dict[str, Any]) -> tuple[float, float, float, float]:
    """A hit's calibration features: cosine, ``coverage_undated``, ``unknown`` and
    ``unnamed``."""
    return (
        float(parts["cosine"] or 0),
        float(parts["coverage_undated"] or 0),
        float(parts["unknown"] or 0),
        float(parts["unnamed"] or 0),
    )


def padded(corpus: list[CorpusProject], pad: int) -> list[CorpusProject]:
    """``corpus`` with ``pad`` unrelated notes (kind ``fact``) added to each project, after
    its own memories (so the query answers keep their indices)."""
    if pad <= 0:
        return corpus
    notes = [t for _, t in synthetic_memories(PAD_SLICE * len(corpus))]
    return [
        CorpusProject(
            p.name,
            [*p.memories, *(("fact", t) for t in notes[i * PAD_SLICE : i * PAD_SLICE + pad])],
            p.queries,
        )
        for i, p in enumerate(corpus)
    ]


@contextmanager
def corpus_queries(
    corpus: list[CorpusProject], embedder: Embedder
) -> Iterator[tuple[MemoryService, Iterator[tuple[CorpusProject, str, set[str]]]]]:
    """``corpus`` loaded into a service on a fresh temp data dir, and its queries: (its
    project, its text, the ids of its answers)."""
    with tempfile.TemporaryDirectory(prefix="memsvc-corpus-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            ids = load_corpus(parts.service, corpus)
            yield (
                parts.service,
                (
                    (p, text, {ids[p.name][i] for i in answers})
                    for p in corpus
                    for text, answers in p.queries
                ),
            )


def observe(corpus: list[CorpusProject], embedder: Embedder, pad: int = 0) -> Observed:
    """Ask every query in every project of ``corpus`` (a fresh temp data dir), each
    project padded with ``pad`` unrelated notes."""
    corpus = padded(corpus, pad)
    out = Observed()
    with corpus_queries(corpus, embedder) as (svc, queries):
        for p, text, wanted in queries:
            for other in corpus:
                q = SearchQuery(query=text, limit=10, min_relevance=0.0)
                hits = svc.search_memories(ACTOR, other.name, q)
                own = other.name == p.name
                for h in hits:
                    out.features.append(features(h.parts))
                    out.labels.append(int(own and h.memory.id in wanted))
                passing = [h for h in hits if h.relevance >= DEFAULT_MIN_RELEVANCE]
                if own:
                    rel = [h.relevance for h in hits if h.memory.id in wanted]
                    out.own_best.append(max(rel, default=0.0))
                    out.own_found_at_default.append(any(h.memory.id in wanted for h in passing))
                else:
                    out.foreign_best.append(hits[0].relevance if hits else 0.0)
                    out.foreign_empty_at_default.append(not passing)
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Balanced-weight logistic regression by Newton's method: [bias, w1, w2, ...]."""
    xb = np.hstack([np.ones((x.shape[0], 1)), x])
    pos = y.sum()
    w_row = np.where(y == 1, 0.5 / max(pos, 1), 0.5 / max(len(y) - pos, 1))
    beta = np.zeros(xb.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(xb @ beta)))
        grad = xb.T @ (w_row * (p - y)) + l2 * beta
        hess = (xb * (w_row * p * (1 - p))[:, None]).T @ xb + l2 * np.eye(xb.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def auc(pos: list[float], neg: list[float]) -> float:
    """ROC AUC: the chance a positive outscores a negative (ties count half)."""
    if not pos or not neg:
        return float("nan")
    p, n = np.array(pos)[:, None], np.array(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def merged(runs: list[Observed]) -> Observed:
    """The hits and outcomes of several runs as one."""
    out = Observed()
    for o in runs:
        out.features += o.features
        out.labels += o.labels
        out.own_best += o.own_best
        out.foreign_best += o.foreign_best
        out.own_found_at_default += o.own_found_at_default
        out.foreign_empty_at_default += o.foreign_empty_at_default
    return out


def summary(name: str, obs: Observed) -> dict[str, float | str]:
    """The calibration check of one corpus as table values."""
    return {
        "corpus": name,
        "queries": float(len(obs.own_best)),
        "AUC own vs foreign": auc(obs.own_best, obs.foreign_best),
        "own answer kept at default": float(np.mean(obs.own_found_at_default)),
        "foreign empty at default": float(np.mean(obs.foreign_empty_at_default)),
    }


def main() -> None:
    fit_corpus, check_corpus = FIT, CHECK
    embedder = CachedEmbedder()
    runs = {pad: observe(fit_corpus, embedder, pad) for pad in FIT_PADS}
    fit = merged(list(runs.values()))
    beta = fit_logistic(np.array(fit.features), np.array(fit.labels, dtype=np.float64))
    print(f"fitted on {len(fit.labels)} hits ({sum(fit.labels)} positive), pads {FIT_PADS}:")
    print(
        f"  bias={beta[0]:.3f} w_cosine={beta[1]:.3f} w_coverage={beta[2]:.3f}"
        f" w_unknown={beta[3]:.3f} w_unnamed={beta[4]:.3f}"
    )
    print("with the constants in memsvc/retrieval/relevance.py:")
    for pad in FIT_PADS:
        print(" ", summary(f"fit +{pad}", runs[pad]))
        print(" ", summary(f"check +{pad}", observe(check_corpus, embedder, pad)))
    embedder.save()


if __name__ == "__main__":
    main()
