"""Fusion and adjustment: turn dense and lexical rankings into one explained ranking."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from memsvc.domain import Kind

__all__ = ["Candidate", "adjust_fields", "drop_near_duplicates", "fuse"]

RRF_K = 60
# Rules and decisions hold until superseded; the rest fades slowly with age.
DECAYING = {Kind.PREFERENCE, Kind.FACT, Kind.HANDOFF}
HALF_LIFE_DAYS = 180.0
KIND_WEIGHT = {
    Kind.RULE: 1.0,
    Kind.DECISION: 1.0,
    Kind.PREFERENCE: 1.0,
    Kind.FACT: 1.0,
    Kind.HANDOFF: 0.95,
}


@dataclass
class Candidate:
    id: str
    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    fused: float = 0.0
    parts: dict[str, float | int | None] = field(default_factory=dict)
    signals: dict[str, float | int | None] = field(default_factory=dict)
    """Further score parts of the scorer that made the candidate (see ``hybrid``)."""


def fuse(
    dense: list[tuple[str, float]],
    lexical: list[tuple[str, float]],
    w_dense: float = 1.0,
    w_lexical: float = 1.0,
) -> list[Candidate]:
    """Weighted reciprocal-rank fusion; ties break by id so results are deterministic."""
    out: dict[str, Candidate] = {}
    for rank, (mid, score) in enumerate(dense, 1):
        c = out.setdefault(mid, Candidate(mid))
        c.dense_rank, c.dense_score = rank, score
        c.fused += w_dense / (RRF_K + rank)
    for rank, (mid, score) in enumerate(lexical, 1):
        c = out.setdefault(mid, Candidate(mid))
        c.lexical_rank, c.lexical_score = rank, score
        c.fused += w_lexical / (RRF_K + rank)
    return sorted(out.values(), key=lambda c: (-c.fused, c.id))


def adjust_fields(
    candidate: Candidate, kind: str, pinned: bool, importance: float, born: datetime, now: datetime
) -> float:
    """Scale the fused score by kind, pin, importance and (for decaying kinds) age, and
    record the parts on the candidate (``kind`` may be a ``Kind`` or its value)."""
    kind_w = KIND_WEIGHT.get(Kind(kind), 1.0)
    pin = 1.15 if pinned else 1.0
    importance = 0.85 + 0.3 * importance
    recency = 1.0
    if Kind(kind) in DECAYING:
        age_days = max(0.0, (now - born).total_seconds() / 86400.0)
        recency = 0.6 + 0.4 * math.pow(0.5, age_days / HALF_LIFE_DAYS)
    final = candidate.fused * kind_w * pin * importance * recency
    # Ranks exist only where lists were fused (the large-project path); never report None.
    ranks = {
        name: rank
        for name, rank in (
            ("dense_rank", candidate.dense_rank),
            ("lexical_rank", candidate.lexical_rank),
        )
        if rank is not None
    }
    candidate.parts = {
        **ranks,
        "dense_score": _round(candidate.dense_score),
        "lexical_score": _round(candidate.lexical_score),
        **candidate.signals,
        "fused": _round(candidate.fused),
        "kind_weight": kind_w,
        "pin": pin,
        "importance": round(importance, 4),
        "recency": round(recency, 4),
        "final": _round(final),
    }
    return final


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def drop_near_duplicates(
    ranked: list[str], vectors: dict[str, npt.NDArray[np.float32]], threshold: float
) -> list[str]:
    """Keep the first of any group whose vectors have cosine >= threshold."""
    kept: list[str] = []
    dim = next((v.shape[0] for v in vectors.values()), 0)
    kept_vecs = np.zeros((len(ranked), dim), dtype=np.float32)
    n_vecs = 0
    for mid in ranked:
        vec = vectors.get(mid)
        if vec is not None and n_vecs and float((kept_vecs[:n_vecs] @ vec).max()) >= threshold:
            continue
        kept.append(mid)
        if vec is not None:
            kept_vecs[n_vecs] = vec
            n_vecs += 1
    return kept
