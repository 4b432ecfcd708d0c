"""Scoring a ranking against a LoCoMo question, aggregating by category, and the markdown
tables of ``benchmarks/results/quality.md``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from benchmarks.locomo import (
    Question,
    TurnId,
    mrr,
    ndcg_at,
    recall_all_at,
    recall_any_at,
    session_order,
    turn_recall_at,
)

__all__ = ["METRICS", "Scores", "percentile_ms", "score_ranking", "table"]

METRICS = [
    "any@1",
    "any@5",
    "any@10",
    "all@1",
    "all@5",
    "all@10",
    "turn@10",
    "NDCG@10",
    "MRR",
    "turn NDCG@10",
]


def score_ranking(ranked: Sequence[TurnId], q: Question) -> dict[str, float]:
    """Every metric of one question (``ranked``: the turns in rank order)."""
    ev = q.evidence
    sessions = {s for s, _ in ev}
    order = session_order(ranked)
    out = {f"any@{k}": recall_any_at(ranked, ev, k) for k in (1, 5, 10)}
    out.update({f"all@{k}": recall_all_at(ranked, ev, k) for k in (1, 5, 10)})
    out["turn@10"] = turn_recall_at(ranked, ev, 10)
    out["NDCG@10"] = ndcg_at(order, sessions, 10)
    out["MRR"] = mrr(order, sessions)
    out["turn NDCG@10"] = ndcg_at(list(ranked), set(ev), 10)
    return out


class Scores:
    """Per-question metrics of one system, grouped by LoCoMo category."""

    def __init__(self) -> None:
        self.by_cat: dict[int, list[dict[str, float]]] = defaultdict(list)

    def add(self, q: Question, ranked: Sequence[TurnId]) -> None:
        if q.evidence:
            self.by_cat[q.category].append(score_ranking(ranked, q))

    def mean(self, cats: Sequence[int]) -> dict[str, float]:
        rows = [r for c in cats for r in self.by_cat.get(c, [])]
        if not rows:
            return dict.fromkeys(METRICS, float("nan"))
        return {m: float(np.mean([r[m] for r in rows])) for m in METRICS}

    def count(self, cats: Sequence[int]) -> int:
        return sum(len(self.by_cat.get(c, [])) for c in cats)


def percentile_ms(samples: list[float], p: float) -> float:
    return float(np.percentile(np.array(samples) * 1000.0, p)) if samples else float("nan")


def table(rows: dict[str, dict[str, float]], metrics: Sequence[str]) -> list[str]:
    out = ["| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, vals in rows.items():
        out.append(f"| {name} | " + " | ".join(f"{vals[m]:.3f}" for m in metrics) + " |")
    return out
