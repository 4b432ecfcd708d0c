"""Issue 14, abstention: cheap query-level and word features scored offline over the hits
``recall_lab.py`` recorded (rows of ``bench_recall_ideas.py``'s abstention table).

Each project's words are analysed again from its recorded texts (the service's analysis,
its IDF, its episode predecessors), so a feature the service does not compute can be
tried on the same hits. Nothing here needs a model pass: every feature is O(query terms)
per hit or one pass over the project's vectors per query (``gap``, which the service
would read from the candidates' cosines it already has).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.recall_lab import Asked, Lab
from memsvc.retrieval.analysis import analyze, named_terms
from memsvc.retrieval.lexical import NEIGHBOUR_WEIGHT, LexicalIndex
from memsvc.retrieval.relevance import coverage
from memsvc.retrieval.temporal import date_phrases

Features = Callable[[Asked, int], Sequence[float]]


@dataclass
class Words:
    """One project's analysed rows: term sets, document frequencies and the IDF."""

    rows: list[frozenset[str]]
    df: Counter[str]
    index: LexicalIndex
    pos: dict[str, int]
    prev: list[int]


@dataclass
class Query:
    """One query's terms in one project."""

    terms: list[str]
    weights: np.ndarray
    dated: np.ndarray
    df: np.ndarray
    top50: np.ndarray
    """The query's 50 best cosines over the project's vectors, best first."""


class Lexicon:
    """Words of every recorded project and query, computed once."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.words: dict[str, Words] = {}
        for name, p in lab.projects.items():
            rows = [frozenset(analyze(t)) for t in p.texts]
            index = LexicalIndex()
            index.put_many(range(len(p.texts)), p.texts)
            df: Counter[str] = Counter(t for r in rows for t in r)
            pos = {mid: i for i, mid in enumerate(p.ids)}
            prev = p.prev or [-1] * len(p.ids)
            self.words[name] = Words(rows, df, index, pos, prev)
        self._queries: dict[tuple[str, str], Query] = {}

    def query(self, a: Asked) -> Query:
        key = (a.project, a.text)
        held = self._queries.get(key)
        if held is None:
            w = self.words[a.project]
            terms = list(dict.fromkeys(analyze(a.text)))
            dated = set(analyze(" ".join(date_phrases(a.text))))
            cos = self.lab.projects[a.project].vectors @ self.lab.query_vectors[a.text]
            held = Query(
                terms,
                np.array([w.index.idf(t) for t in terms]),
                np.array([t in dated for t in terms], dtype=bool),
                np.array([w.df[t] for t in terms]),
                np.sort(cos)[::-1][:50],
            )
            self._queries[key] = held
        return held

    def held(self, a: Asked, i: int) -> tuple[list[bool], list[bool]]:
        """Which query terms hit ``i`` holds, and which only its predecessor does."""
        w, q = self.words[a.project], self.query(a)
        row = w.pos[a.hits[i].id]
        own = w.rows[row]
        before = w.rows[w.prev[row]] if w.prev[row] >= 0 else frozenset()
        return [t in own for t in q.terms], [t in before and t not in own for t in q.terms]

    def coverage(self, a: Asked, i: int, power: float = 1.0, undated: bool = True) -> float:
        """The hit's coverage with IDF**power weights (1: the service's)."""
        q = self.query(a)
        own, lent = self.held(a, i)
        optional = list(q.dated) if undated else None
        return coverage(list(q.weights**power), own, lent, NEIGHBOUR_WEIGHT, optional)

    def share(self, a: Asked, rare: int = 0, undated: bool = True) -> float:
        """IDF-weighted share of the query's terms held by at most ``rare`` rows."""
        q = self.query(a)
        keep = ~q.dated if undated else np.ones(len(q.terms), dtype=bool)
        total = float(q.weights[keep].sum())
        return float(q.weights[keep & (q.df <= rare)].sum()) / total if total > 0 else 0.0

    def unnamed(self, a: Asked) -> float:
        """1 when the query names something (``analysis.named_terms``, dates left out)
        that no memory of the project holds."""
        q, w = self.query(a), self.words[a.project]
        dated = {t for t, d in zip(q.terms, q.dated, strict=True) if d}
        return float(any(w.df[t] == 0 for t in named_terms(a.text) - dated))

    def holds_rarest(self, a: Asked, i: int) -> float:
        """1 when the hit holds the query's highest-IDF term outside its dates."""
        q = self.query(a)
        keep = ~q.dated
        if not keep.any():
            return 0.0
        at = int(np.argmax(np.where(keep, q.weights, -1.0)))
        return float(self.held(a, i)[0][at])


def parts(a: Asked, i: int, *names: str) -> list[float]:
    return [float(a.hits[i].parts.get(n) or 0.0) for n in names]


ANY_NAME = "v3 + any name the project never mentions (a 0/1 flag; the service reads the share)"


def variants(lex: Lexicon) -> dict[str, Features]:
    """The feature sets of the abstention table's new rows (each fitted on FIT)."""

    def base(a: Asked, i: int) -> list[float]:
        return parts(a, i, "cosine", "coverage")

    def undated(a: Asked, i: int) -> list[float]:
        return parts(a, i, "cosine", "coverage_undated")

    def gap(a: Asked, i: int, how: Callable[[np.ndarray], float]) -> float:
        return float(a.hits[i].parts["cosine"] or 0.0) - how(lex.query(a).top50)

    return {
        "cosine, coverage, unknown share (dates counted)": lambda a, i: [
            *base(a, i),
            lex.share(a, 0, undated=False),
        ],
        "cosine, coverage, share in terms held by at most 1 row (dates counted)": lambda a, i: [
            *base(a, i),
            lex.share(a, 1, undated=False),
        ],
        "cosine, coverage, holds the query's rarest term": lambda a, i: [
            *base(a, i),
            lex.holds_rarest(a, i),
        ],
        "cosine, coverage, cosine minus the median of the query's top-50 cosines": lambda a, i: [
            *base(a, i),
            gap(a, i, lambda c: float(np.median(c))),
        ],
        "cosine minus the mean of the query's top-50 cosines, coverage": lambda a, i: [
            gap(a, i, lambda c: float(np.mean(c))),
            parts(a, i, "coverage")[0],
        ],
        "cosine, `coverage_undated` (dates count only where held)": undated,
        "cosine, `coverage_undated` with IDF² weights": lambda a, i: [
            *parts(a, i, "cosine"),
            lex.coverage(a, i, 2.0),
        ],
        "cosine, `coverage_undated`, rare share (df <= 1, dates left out)": lambda a, i: [
            *undated(a, i),
            lex.share(a, 1),
        ],
        "cosine, `coverage_undated`, holds the rarest undated term": lambda a, i: [
            *undated(a, i),
            lex.holds_rarest(a, i),
        ],
        "cosine, `coverage_undated`, `unknown` (v3, refitted here)": lambda a, i: parts(
            a, i, "cosine", "coverage_undated", "unknown"
        ),
        ANY_NAME: lambda a, i: [
            *parts(a, i, "cosine", "coverage_undated", "unknown"),
            lex.unnamed(a),
        ],
        "cosine, `coverage_undated`, any name missing (flag)": lambda a, i: [
            *undated(a, i),
            lex.unnamed(a),
        ],
        "v3 + cosine minus the median of the query's top-50 cosines": lambda a, i: [
            *parts(a, i, "cosine", "coverage_undated", "unknown"),
            gap(a, i, lambda c: float(np.median(c))),
        ],
    }


def reproduced(lex: Lexicon) -> float:
    """The largest difference between the recorded ``coverage_undated`` and this module's
    (a check that the words were analysed as the service does)."""
    worst = 0.0
    for asks in (lex.lab.locomo, *lex.lab.corpora.values()):
        for a in asks[::7]:
            for i, h in enumerate(a.hits):
                got = lex.coverage(a, i)
                worst = max(worst, abs(got - float(h.parts["coverage_undated"] or 0.0)))
    return worst
