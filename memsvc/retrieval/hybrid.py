"""Hybrid scoring of every memory of a project held in memory (``ProjectCache`` entry).

For a query, each memory gets:
- ``lexical``: BM25F over its own words and, at half weight, its predecessor's
  (``LexicalIndex``), divided by the best score of the query (so 0..1);
- ``dense``: the cosine to its vector, min-max scaled over the ``DENSE_SCALE_DEPTH`` best
  (so 0..1, lower ones 0);
- ``time_match``: 1 when the query names a date and the memory's time falls in it;
- ``episode``: the mean ``base`` score of the best ``EPISODE_TOP`` memories of its episode
  (its run of neighbours in time), so a memory inside a strongly matching session rises.

``base = W_LEXICAL * lexical + W_DENSE * dense + W_TIME * time_match`` and
``fused = base + W_EPISODE * episode``. Every part is reported with the hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.ranking import Candidate
from memsvc.retrieval.temporal import Span, in_spans, query_spans
from memsvc.retrieval.timeline import Timeline

__all__ = ["RowScores", "candidates_from", "score_rows"]

W_LEXICAL = 0.6
W_DENSE = 0.4
W_TIME = 0.3
W_EPISODE = 0.5
EPISODE_TOP = 3
DENSE_SCALE_DEPTH = 100

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass
class RowScores:
    lexical_raw: Floats
    dense_raw: Floats
    lexical: Floats
    dense: Floats
    time_match: Floats
    episode: Floats
    fused: Floats


def _scale_top(values: Floats, mask: Mask, depth: int) -> Floats:
    """Min-max over the ``depth`` best of ``mask`` (the rest clipped to 0)."""
    live = values[mask]
    if live.size == 0:
        return np.zeros_like(values)
    best = np.sort(live)[::-1]
    lo, hi = float(best[min(depth, best.size) - 1]), float(best[0])
    if hi - lo <= 1e-12:
        return np.where(mask, 1.0, 0.0)
    return np.where(mask, np.clip((values - lo) / (hi - lo), 0.0, None), 0.0)


def _episode_means(base: Floats, episode: npt.NDArray[np.int64], mask: Mask) -> Floats:
    """For each row, the mean of the ``EPISODE_TOP`` best masked ``base`` in its episode."""
    rows = np.flatnonzero(mask & (episode >= 0))
    out = np.zeros_like(base)
    if rows.size == 0:
        return out
    order = rows[np.lexsort((-base[rows], episode[rows]))]
    eps = episode[order]
    starts = np.flatnonzero(np.r_[True, eps[1:] != eps[:-1]])
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    keep = order[rank < EPISODE_TOP]
    sums = np.bincount(episode[keep], weights=base[keep], minlength=int(episode.max()) + 1)
    counts = np.bincount(episode[keep], minlength=sums.size)
    means = sums / np.maximum(counts, 1)
    out[rows] = means[episode[rows]]
    return out


def score_rows(
    query: str,
    lexical_raw: Floats,
    dense_raw: Floats,
    times: Floats,
    timeline: Timeline,
    mask: Mask,
    at: datetime | None = None,
    spans: list[Span] | None = None,
) -> RowScores:
    """Combine the raw signals of the ``mask``-ed rows into ``fused`` (others get -inf);
    ``spans``: the query's time spans when the caller read them (``temporal.time_spans``),
    else its dates alone."""
    top_lex = float(lexical_raw[mask].max()) if mask.any() else 0.0
    lexical = np.where(mask, lexical_raw / top_lex, 0.0) if top_lex > 0 else lexical_raw * 0.0
    dense = _scale_top(dense_raw, mask, DENSE_SCALE_DEPTH)
    if spans is None:
        spans = query_spans(query, at)
    time_match = in_spans(times, spans).astype(np.float64) if spans else np.zeros_like(times)
    base = W_LEXICAL * lexical + W_DENSE * dense + W_TIME * time_match
    episode = _episode_means(base, timeline.episode, mask)
    fused = np.where(mask, base + W_EPISODE * episode, -np.inf)
    return RowScores(lexical_raw, dense_raw, lexical, dense, time_match, episode, fused)


def candidates_from(scores: RowScores, ids: list[str], mask: Mask, depth: int) -> list[Candidate]:
    """The ``depth`` best rows as explained candidates; ties break by id (at the last
    place too: of rows tied there, those with the smallest ids)."""
    k = min(depth, int(mask.sum()))
    if k <= 0:
        return []
    fused = scores.fused
    top = np.argpartition(-fused, k - 1)[:k]
    kth = fused[top].min()
    tied = np.flatnonzero(fused == kth)
    if tied.size > int(np.count_nonzero(fused[top] == kth)):  # more tied than fit
        by_id = np.argsort(np.array([ids[i] for i in tied], dtype=object), kind="stable")
        above = top[fused[top] > kth]
        top = np.concatenate((above, tied[by_id[: k - above.size]]))
    id_arr = np.array([ids[i] for i in top], dtype=object)
    top = top[np.lexsort((id_arr, -fused[top]))]
    out = []
    for i in top:
        c = Candidate(ids[i], fused=float(fused[i]))
        c.dense_score, c.lexical_score = float(scores.dense_raw[i]), float(scores.lexical_raw[i])
        c.signals = {
            "lexical_scaled": _r(scores.lexical[i]),
            "dense_scaled": _r(scores.dense[i]),
            "time_match": _r(scores.time_match[i]),
            "episode": _r(scores.episode[i]),
        }
        out.append(c)
    return out


def _r(value: float) -> float:
    return round(float(value), 6)
