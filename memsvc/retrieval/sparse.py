"""The exact scan's candidates without an O(project) pass per signal: the same
``hybrid.score_rows`` ranking, bit for bit, computed only where it can be above zero.

Of a project's rows, ``score_rows`` gives a ``base`` above zero only to
- the rows whose dense cosine is above the ``DENSE_SCALE_DEPTH``-th best (the scaling
  clips the rest to 0),
- the rows holding a query term, or whose predecessor does (BM25F with the neighbour
  field; ``LexicalIndex.sparse_scores`` reads them off the query terms' postings),
- the rows in a date the query names;
and ``fused = base + W_EPISODE * episode`` where ``episode`` is the mean of the best
``EPISODE_TOP`` bases of the row's episode. Every other row of an episode holding such a
row therefore shares one value (``W_EPISODE`` x that mean), and every row of any other
episode is 0. So the best ``depth`` rows are found from those few scored rows and, per
episode, how many others share its value, without scoring the project's other rows; the
only O(project) work left is the dense matrix product itself and cheap numpy passes
(the top of the cosines, one boolean mark per query).

Ties at the last place break by id, as they do in ``hybrid.candidates_from``. When fewer
than ``depth`` rows are above zero (a tiny project, a narrow filter) or the dense scaling
is degenerate, ``sparse_candidates`` returns None and the caller scores every row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from memsvc.retrieval import hybrid
from memsvc.retrieval.hybrid import RowScores, candidates_from
from memsvc.retrieval.lexical import LexicalIndex
from memsvc.retrieval.ranking import Candidate
from memsvc.retrieval.temporal import in_spans, time_spans
from memsvc.retrieval.timeline import Timeline

__all__ = ["DenseSource", "ExactDense", "episode_counts", "sparse_candidates"]

Rows = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Cosines = npt.NDArray[np.float32]


class DenseSource(Protocol):
    """A query's dense cosines, as the sparse scoring needs them: the best masked rows
    (which set the dense scaling's bounds) and the cosine of any given row."""

    def best(self, m: int, mask: Mask, masked: int) -> Rows | None:
        """The ``m`` masked rows of the highest cosine (any order); None when they
        cannot be told (the caller then scores every row)."""

    def of(self, rows: Rows) -> Cosines:
        """The cosines of these rows."""


class ExactDense:
    """Every row's cosine, computed up front (the exact scan): the best rows are exact."""

    def __init__(self, cosines: Cosines) -> None:
        self.cosines = cosines

    def best(self, m: int, mask: Mask, masked: int) -> Rows:
        pick = self.cosines if masked == mask.size else np.where(mask, self.cosines, -np.inf)
        return np.argpartition(-pick, m - 1)[:m].astype(np.int64)

    def of(self, rows: Rows) -> Cosines:
        return self.cosines[rows]


def episode_counts(timeline: Timeline, mask: Mask) -> Rows:
    """How many ``mask``-ed rows each episode holds (index: episode number)."""
    live = mask & (timeline.episode >= 0)
    size = timeline.starts.size - 1 if timeline.starts is not None else 0
    return np.bincount(timeline.episode[live], minlength=max(size, 0)).astype(np.int64)


def _top_means(base: Floats, episode: Rows, counts: Rows) -> tuple[Rows, Floats]:
    """(episodes, mean of their best ``EPISODE_TOP`` bases) over the scored rows, the sums
    taken best first like ``hybrid._episode_means`` (unscored rows add 0.0), divided by
    min(``EPISODE_TOP``, the episode's masked rows).

    Without sorting the scored rows (a common query term scores a third of a project):
    the best value of each episode, then the best below it, and so on ``EPISODE_TOP``
    times, each with how many rows hold it, so ties count as often as a sort would keep
    them; the values are added best first, as ``np.bincount`` over sorted rows adds them."""
    live = np.flatnonzero(episode >= 0)
    if live.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    b, e = base[live], episode[live]
    if e.size == 1 or bool(np.all(e[1:] >= e[:-1])):
        return _top_means_in_runs(b, e, counts)
    size = int(e.max()) + 1
    top = hybrid.EPISODE_TOP
    sums = np.zeros(size, dtype=np.float64)
    taken = np.zeros(size, dtype=np.int64)
    rest = np.ones(b.size, dtype=bool)
    for _ in range(top):
        if not rest.any():
            break
        best = np.full(size, -np.inf)
        np.maximum.at(best, e[rest], b[rest])
        hit = rest & (b == best[e])
        held = np.bincount(e[hit], minlength=size)
        _add_level(sums, taken, held, best, top)
        rest &= ~hit
    names = np.flatnonzero(taken > 0).astype(np.int64)
    kept = np.minimum(counts[names], top)
    return names, sums[names] / np.maximum(kept, 1)


def _add_level(sums: Floats, taken: Rows, held: Rows, best: Floats, top: int) -> None:
    """Add each episode's value of this level to its sum once per row holding it (``held``,
    consumed), until the episode has ``top`` values."""
    for _ in range(top):
        add = (held > 0) & (taken < top)
        if not add.any():
            break
        sums[add] += best[add]
        taken[add] += 1
        held[add] -= 1


def _top_means_in_runs(b: Floats, e: Rows, counts: Rows) -> tuple[Rows, Floats]:
    """``_top_means`` of rows whose episodes do not decrease (the scored rows of a project
    written in time order, as most are): each episode is one run, so the levels are
    segment reductions (``reduceat``) instead of scattered ``np.maximum.at`` updates, in
    the same order, giving the same sums bit for bit."""
    top = hybrid.EPISODE_TOP
    starts = np.flatnonzero(np.r_[True, e[1:] != e[:-1]])
    lengths = np.diff(np.append(starts, e.size))
    names = e[starts].astype(np.int64)
    sums = np.zeros(names.size, dtype=np.float64)
    taken = np.zeros(names.size, dtype=np.int64)
    rest = b.astype(np.float64, copy=True)  # a row taken at a level: -inf
    for level in range(top):
        best = np.maximum.reduceat(rest, starts)
        if not bool((best > -np.inf).any()):
            break
        hit = (rest == np.repeat(best, lengths)) & (rest > -np.inf)
        held = np.add.reduceat(hit.astype(np.int64), starts)
        _add_level(sums, taken, held, best, top)
        if level + 1 < top:
            rest[hit] = -np.inf
    kept = np.minimum(counts[names], top)
    return names, sums / np.maximum(kept, 1)


def _kth_weighted(values: Floats, weights: Rows, k: int) -> float:
    """The value at which the weights of ``values``, best first, first reach ``k``: from
    the best ``k`` entries of positive weight (each counts at least once), not a sort of
    every entry."""
    held = np.flatnonzero(weights > 0)
    vals, wts = values[held], weights[held]
    if vals.size > k:
        pick = np.argpartition(-vals, k - 1)[:k]
        vals, wts = vals[pick], wts[pick]
    order = np.argsort(-vals, kind="stable")
    reached = np.cumsum(wts[order])
    return float(vals[order[int(np.searchsorted(reached, k))]])


def sparse_candidates(
    text: str,
    dense32: Cosines | DenseSource,
    lexical: LexicalIndex,
    timeline: Timeline,
    mask: Mask,
    counts: Rows,
    times: Floats,
    ids: list[str],
    depth: int,
    at: datetime | None,
    lexical_depth: int = 0,
) -> list[Candidate] | None:
    """``candidates_from(score_rows(...), ids, mask, depth)`` over every row, from the rows
    that can score (see the module); ``counts`` is ``episode_counts(timeline, mask)``.
    ``dense32`` is every row's cosine, or a ``DenseSource`` that finds the best rows
    another way (an approximate one makes the dense part approximate, nothing else).
    ``lexical_depth`` > 0: only that many of the best lexical rows score (approximate).
    None when only scoring every row can answer."""
    dense: DenseSource = ExactDense(dense32) if isinstance(dense32, np.ndarray) else dense32
    n = mask.size
    assert timeline.order is not None and timeline.next is not None
    masked = int(np.count_nonzero(mask))
    k = min(depth, masked)
    if k <= 0:
        return []
    # dense: the scaling's bounds from the best DENSE_SCALE_DEPTH masked cosines
    m = min(hybrid.DENSE_SCALE_DEPTH, masked)
    top = dense.best(m, mask, masked)
    if top is None:
        return None
    top_values = dense.of(top).astype(np.float64)
    lo, hi = float(top_values.min()), float(top_values.max())
    if hi - lo <= 1e-12:
        return None
    dense_rows = top[top_values > lo]  # (the same rows as ``top[above]`` below)
    lex_rows, lex_values = lexical.sparse_scores(text, n, timeline.prev, timeline.next)
    inside = mask[lex_rows]
    lex_rows, lex_values = lex_rows[inside], lex_values[inside]
    if 0 < lexical_depth < lex_rows.size:  # approximate: only the best lexical rows score
        best = np.sort(np.argpartition(-lex_values, lexical_depth - 1)[:lexical_depth])
        lex_rows, lex_values = lex_rows[best], lex_values[best]
    spans = time_spans(text, at, lexical.rows_holding, times, mask)
    time_rows = np.flatnonzero(mask & in_spans(times, spans)) if spans else lex_rows[:0]
    # the scored rows: the sorted union of the lexical rows and the few others, merged (no
    # pass over every row of the project, each of the few others searched for, not each
    # lexical row: a third of a project, for a common term); a lexical row's place in it
    # is its own index plus how many of the others come before it
    others = np.unique(np.concatenate((dense_rows, time_rows)))
    fresh = others[~_members(lex_rows, others)]
    scored = np.insert(lex_rows, np.searchsorted(lex_rows, fresh), fresh)

    top_lex = float(lex_values.max()) if lex_values.size else 0.0
    lex_raw = np.zeros(scored.size, dtype=np.float64)
    lex_raw[np.arange(lex_rows.size, dtype=np.int64) + np.searchsorted(fresh, lex_rows)] = (
        lex_values
    )
    # a row outside the dense top has a cosine <= lo, which scales to 0: only the top's
    # cosines are read (a common query term can put a third of the project in ``scored``)
    above = top_values > lo
    dense_scaled = np.zeros(scored.size, dtype=np.float64)
    dense_scaled[np.searchsorted(scored, dense_rows)] = np.clip(
        (top_values[above] - lo) / (hi - lo), 0.0, None
    )
    lex_scaled = lex_raw / top_lex if top_lex > 0 else lex_raw * 0.0
    time_match = in_spans(times[scored], spans).astype(np.float64) if spans else lex_raw * 0.0
    # the weights are read from ``hybrid`` at each call (the benchmarks' ablations set them)
    w_lexical, w_dense, w_time, w_episode = (
        hybrid.W_LEXICAL,
        hybrid.W_DENSE,
        hybrid.W_TIME,
        hybrid.W_EPISODE,
    )
    base = w_lexical * lex_scaled + w_dense * dense_scaled + w_time * time_match
    episode = timeline.episode[scored]
    names, means = _top_means(base, episode, counts)
    # each scored row's place in ``names`` (a live row's episode is always there; a dead
    # row's place is 0, as a search of -1 gives): a lookup by episode number
    slot = np.zeros(max(counts.size, 1), dtype=np.int64)
    slot[names] = np.arange(names.size)
    at_episode = slot[np.maximum(episode, 0)]
    own_mean = base * 0.0
    if names.size:
        own_mean = np.where(episode >= 0, means[at_episode], 0.0)
    fused = base + w_episode * own_mean

    # the other rows of each scored episode: one shared value, (masked - scored) of them
    in_scored = np.bincount(at_episode[episode >= 0], minlength=names.size)
    shared = 0.0 + w_episode * means
    others = np.where(shared > 0, counts[names] - in_scored, 0)
    positive = (fused > 0).astype(np.int64)
    if int(positive.sum()) + int(others.sum()) < k:
        return None  # rows at 0, which are not enumerated here, would make up the depth
    kth = _kth_weighted(np.concatenate((fused, shared)), np.concatenate((positive, others)), k)

    chosen = [scored[fused > kth]]
    tied = [scored[fused == kth]]
    for at_name in np.flatnonzero((shared >= kth) & (others > 0)):
        rows = timeline.episode_rows(int(names[at_name]))
        rows = rows[mask[rows] & ~_members(scored, rows)]
        (chosen if shared[at_name] > kth else tied).append(rows)
    above = np.concatenate(chosen)
    level = np.concatenate(tied)
    need = k - above.size
    if need < level.size:
        level = level[_smallest_ids(level, need, timeline.id_rank, ids)]
    rows = np.concatenate((above, level)).astype(np.int64)
    # each chosen row's signals, as score_rows gives them (the others' lexical part is 0)
    pos = np.minimum(np.searchsorted(scored, rows), scored.size - 1)
    is_scored = scored[pos] == rows if scored.size else np.zeros(rows.size, dtype=bool)
    name = np.minimum(np.searchsorted(names, timeline.episode[rows]), max(names.size - 1, 0))
    zero = np.zeros(rows.size, dtype=np.float64)
    chosen_dense = dense.of(rows).astype(np.float64)
    compact = RowScores(
        lexical_raw=np.where(is_scored, lex_raw[pos], zero),
        dense_raw=chosen_dense,
        lexical=np.where(is_scored, lex_scaled[pos], zero),
        dense=np.clip((chosen_dense - lo) / (hi - lo), 0.0, None),
        time_match=in_spans(times[rows], spans).astype(np.float64) if spans else zero,
        episode=np.where(is_scored, own_mean[pos], means[name] if names.size else zero),
        fused=np.where(is_scored, fused[pos], shared[name] if names.size else zero),
    )
    everyone = np.ones(rows.size, dtype=bool)
    return candidates_from(compact, [ids[r] for r in rows], everyone, rows.size)


def _members(sorted_rows: Rows, rows: Rows) -> npt.NDArray[np.bool_]:
    """Whether each of ``rows`` is in ``sorted_rows``."""
    if sorted_rows.size == 0:
        return np.zeros(rows.size, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_rows, rows), sorted_rows.size - 1)
    held: npt.NDArray[np.bool_] = sorted_rows[at] == rows
    return held


def _smallest_ids(rows: Rows, count: int, id_rank: Rows | None, ids: list[str]) -> Rows:
    """Positions in ``rows`` of the ``count`` rows with the smallest ids."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    ranks = id_rank[rows] if id_rank is not None else None
    if ranks is None or bool((ranks < 0).any()):
        order = np.argsort(np.array([ids[r] for r in rows], dtype=object), kind="stable")
        return order[:count].astype(np.int64)
    return np.argpartition(ranks, count - 1)[:count].astype(np.int64)
