"""Neighbours in time: a project's memories ordered by when they hold, cut into episodes.

A memory's time is its ``valid_from`` (when what it says happened), else when it was
written. Ordered by (time, written, id), two consecutive memories are neighbours when
their times are at most ``EPISODE_GAP_S`` apart; a run of neighbours is an episode (one
conversation session, one working session of an agent). Retrieval uses this so that a
short memory ("Yes, last May!") is found through the one written just before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["EPISODE_GAP_S", "Timeline", "build_timeline"]

EPISODE_GAP_S = 3600.0
"""An hour without a memory ends an episode (chosen a priori, not fitted)."""

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Timeline:
    """Each live row's predecessor and episode number, for the episode signal in ranking."""

    prev: Ints
    """Row of each row's predecessor in its episode, or -1 (first, or not live)."""
    episode: Ints
    """Episode number of each row (-1 for rows that are not live)."""
    order: Ints | None = None
    """The live rows in time order (each episode a contiguous run, episodes numbered in
    this order); None for a timeline built by hand."""
    starts: Ints | None = None
    """Where each episode begins in ``order`` (one more entry: ``order.size``)."""
    next: Ints | None = None
    """Row of each row's successor in its episode, or -1 (the inverse of ``prev``)."""
    id_rank: Ints | None = None
    """Each live row's rank among the live rows' ids (-1 for rows that are not live)."""

    def episode_rows(self, episode: int) -> Ints:
        """The rows of an episode, in time order (needs ``order``)."""
        assert self.order is not None and self.starts is not None
        return self.order[self.starts[episode] : self.starts[episode + 1]]


def build_timeline(
    times: Floats, written: Floats, ids: list[str], live: npt.NDArray[np.bool_]
) -> Timeline:
    """Neighbours among the ``live`` rows (deleted ones are skipped over)."""
    n = len(ids)
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    episode = np.full(n, -1, dtype=np.int64)
    ranks = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(live)
    if rows.size == 0:
        return Timeline(prev, episode, rows, np.zeros(1, dtype=np.int64), nxt, ranks)
    id_rank = np.argsort(np.argsort(np.array(ids, dtype=object)[rows], kind="stable"))
    ranks[rows] = id_rank
    order = rows[np.lexsort((id_rank, written[rows], times[rows]))]
    gaps = np.diff(times[order])
    joined = gaps <= EPISODE_GAP_S
    prev[order[1:][joined]] = order[:-1][joined]
    nxt[order[:-1][joined]] = order[1:][joined]
    episode[order] = np.concatenate(([0], np.cumsum(~joined)))
    starts = np.concatenate(([0], np.flatnonzero(~joined) + 1, [order.size])).astype(np.int64)
    return Timeline(prev, episode, order, starts, nxt, ranks)
