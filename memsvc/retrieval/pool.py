"""The candidate pool of a project too big to score whole: the rows ``hybrid.score_rows``
ranks when the dense signal comes from an approximate-nearest-neighbour index.

The pool is the union of
- the ANN index's best rows for the query vector (at least ``DENSE_SCALE_DEPTH``, so the
  dense min-max scaling sees the same top as the exact scan),
- the best rows by BM25F, scored over the whole project (so the project's own term
  statistics and the best lexical score, which normalises the lexical part, are exact),
- the rows whose time falls in a date the query names (best by BM25F if there are many),
- the neighbours in time (predecessor and successor) of all of these, for the neighbour
  field, and every row of the episodes of the ``EPISODE_SEEDS`` best dense and lexical
  rows, for the episode signal (a row of a strongly matching session rises with it), of
  episodes up to ``EPISODE_MAX_ROWS`` rows.
Every pooled row is then scored by the same ``score_rows`` as the exact path, its dense
cosine computed exactly from its vector; only the episode means are taken over the pool
rather than the whole episode (an episode's best rows are in the pool by construction).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.hybrid import DENSE_SCALE_DEPTH
from memsvc.retrieval.temporal import in_spans, query_spans
from memsvc.retrieval.timeline import Timeline

__all__ = ["POOL_FACTOR", "pool_depth", "pool_rows", "pool_timeline"]

POOL_FACTOR = 2
"""Each source contributes ``POOL_FACTOR`` x the requested depth (at least
``DENSE_SCALE_DEPTH``)."""

EPISODE_SEEDS = 20
"""The episodes of this many best dense and best lexical rows join the pool whole."""

EPISODE_MAX_ROWS = 500
"""An episode bigger than this does not join whole: a project written without an hour's
pause (an agent busy all day, a bulk import) is one episode of every row, which would
make the pool the whole project; such an episode's seeds still bring their neighbours."""

Rows = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def pool_depth(depth: int) -> int:
    """How many rows each source contributes for a search of ``depth`` candidates."""
    return max(DENSE_SCALE_DEPTH, POOL_FACTOR * depth)


def _best(values: Floats, rows: Rows, k: int) -> Rows:
    """The ``k`` of ``rows`` with the highest ``values`` (all when fewer)."""
    if rows.size <= k:
        return rows
    top = np.argpartition(-values[rows], k - 1)[:k]
    return rows[top]


def _lexical_rows(lexical: Floats, mask: Mask, k: int) -> Rows:
    return _best(lexical, np.flatnonzero(mask & (lexical > 0)), k)


def _time_rows(
    query: str, times: Floats, lexical: Floats, mask: Mask, at: datetime | None, k: int
) -> Rows:
    spans = query_spans(query, at)
    if not spans:
        return np.zeros(0, dtype=np.int64)
    return _best(lexical, np.flatnonzero(mask & in_spans(times, spans)), k)


def _episodes_of(seeds: Rows, timeline: Timeline) -> Rows:
    """Every row of the episodes ``seeds`` belong to, those of at most
    ``EPISODE_MAX_ROWS`` rows."""
    episode = timeline.episode
    wanted = np.unique(episode[seeds])
    wanted = wanted[wanted >= 0]
    if timeline.starts is not None and wanted.size:  # the episodes' runs in time order
        sizes = np.diff(timeline.starts)
        wanted = wanted[sizes[wanted] <= EPISODE_MAX_ROWS]
        parts = [timeline.episode_rows(int(e)) for e in wanted]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    if wanted.size:
        sizes = np.bincount(episode[episode >= 0])
        wanted = wanted[sizes[wanted] <= EPISODE_MAX_ROWS]
    if wanted.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.isin(episode, wanted))


def _with_neighbours(rows: Rows, timeline: Timeline) -> Rows:
    """``rows`` with each one's predecessor and successor in time."""
    prev = timeline.prev
    before = prev[rows]
    if timeline.next is not None:
        after = timeline.next[rows]
        after = after[after >= 0]
    else:
        after = np.flatnonzero(np.isin(prev, rows))
    return np.unique(np.concatenate((rows, before[before >= 0], after)))


def pool_rows(
    query: str,
    dense_ids: list[str],
    pos: Mapping[str, int],
    lexical: Floats,
    times: Floats,
    timeline: Timeline,
    mask: Mask,
    at: datetime | None,
    k: int,
) -> Rows:
    """Row numbers of the pool (sorted, within ``mask``): the ANN hits ``dense_ids``, the
    ``k`` best by ``lexical``, up to ``k`` in the query's dates, and their neighbours."""
    dense = np.fromiter((pos[i] for i in dense_ids if i in pos), dtype=np.int64)
    dense = dense[dense < mask.size]
    lexical_best = _lexical_rows(lexical, mask, k)
    top_lexical = lexical_best[np.argsort(-lexical[lexical_best], kind="stable")]
    seeds = np.concatenate((dense, lexical_best, _time_rows(query, times, lexical, mask, at, k)))
    # ``dense_ids`` come best first: their head and the lexical head seed whole episodes
    heads = np.concatenate((dense[:EPISODE_SEEDS], top_lexical[:EPISODE_SEEDS]))
    whole = _episodes_of(heads, timeline)
    rows = np.union1d(_with_neighbours(np.unique(seeds), timeline), whole)
    return rows[mask[rows]]


def pool_timeline(timeline: Timeline, rows: Rows) -> Timeline:
    """The pool's own timeline: episodes renumbered 0.. over the pooled rows (the episode
    signal compares rows of an episode within the pool), no predecessors (the lexical
    scores given to ``score_rows`` already hold the neighbour field)."""
    episode = timeline.episode[rows]
    live = episode >= 0
    renumbered = np.full(rows.size, -1, dtype=np.int64)
    if live.any():
        renumbered[live] = np.unique(episode[live], return_inverse=True)[1]
    return Timeline(prev=np.full(rows.size, -1, dtype=np.int64), episode=renumbered)
