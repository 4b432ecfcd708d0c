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

__all__ = ["EPISODE_GAP_S", "IdOrder", "Timeline", "build_timeline", "extend_timeline", "id_ranks"]

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
    """Each live row's place in the order of the live rows' ids, -1 for rows that are not
    live: only comparisons between live rows' values mean anything (``build_timeline``
    numbers them 0.. by itself; a cache entry's ``IdOrder`` keeps them among every row
    it ever held, so that new ids are merged in instead of every id being sorted again)."""

    def episode_rows(self, episode: int) -> Ints:
        """The rows of an episode, in time order (needs ``order``)."""
        assert self.order is not None and self.starts is not None
        return self.order[self.starts[episode] : self.starts[episode + 1]]


def build_timeline(
    times: Floats,
    written: Floats,
    ids: list[str],
    live: npt.NDArray[np.bool_],
    id_order: Ints | None = None,
) -> Timeline:
    """Neighbours among the ``live`` rows (deleted ones are skipped over). ``id_order``:
    each row's place in the ids' order when the caller keeps one (``IdOrder``; ``ids`` are
    then not read), else the live rows' ids are ranked here."""
    n = live.size
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    episode = np.full(n, -1, dtype=np.int64)
    ranks = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(live)
    if rows.size == 0:
        return Timeline(prev, episode, rows, np.zeros(1, dtype=np.int64), nxt, ranks)
    if id_order is None:
        id_rank = id_ranks([ids[r] for r in rows]) if rows.size < n else id_ranks(ids)
    else:
        id_rank = id_order[rows]
    ranks[rows] = id_rank
    order = rows[np.lexsort((id_rank, written[rows], times[rows]))]
    gaps = np.diff(times[order])
    joined = gaps <= EPISODE_GAP_S
    prev[order[1:][joined]] = order[:-1][joined]
    nxt[order[:-1][joined]] = order[1:][joined]
    episode[order] = np.concatenate(([0], np.cumsum(~joined)))
    starts = np.concatenate(([0], np.flatnonzero(~joined) + 1, [order.size])).astype(np.int64)
    return Timeline(prev, episode, order, starts, nxt, ranks)


def extend_timeline(
    timeline: Timeline,
    times: Floats,
    written: Floats,
    live: npt.NDArray[np.bool_],
    id_order: Ints,
) -> Timeline | None:
    """``timeline`` (of the first ``timeline.prev.size`` rows) with the rows after them
    appended, when the new live rows all come after every live row it holds in (time,
    written, id) order: the timeline ``build_timeline`` would give, in time proportional
    to the new rows plus copies of the arrays. None when they do not (the caller rebuilds).

    This is the common write: a memory without ``valid_from`` holds from when it is
    written, after everything before it. The rows already held keep their predecessors,
    successors and episodes except the last one, whose episode the first new row may join.
    ``times``, ``written``, ``live`` and ``id_order`` cover every row; the arrays given
    back are new ones (searches read a timeline after letting go of the entry's lock)."""
    old = timeline.prev.size
    n = live.size
    order, starts = timeline.order, timeline.starts
    if order is None or starts is None or timeline.next is None or old > n:
        return None
    added = old + np.flatnonzero(live[old:])
    ranks = np.where(live, id_order, -1).astype(np.int64)
    pad = np.full(n - old, -1, dtype=np.int64)
    prev = np.concatenate((timeline.prev, pad))
    nxt = np.concatenate((timeline.next, pad))
    episode = np.concatenate((timeline.episode, pad))
    if added.size == 0:
        return Timeline(prev, episode, order, starts, nxt, ranks)
    if order.size == 0:
        return build_timeline(times, written, [], live, id_order)
    added = added[np.lexsort((id_order[added], written[added], times[added]))]
    last, first = int(order[-1]), int(added[0])
    after = (float(times[first]), float(written[first]), int(id_order[first]))
    if after <= (float(times[last]), float(written[last]), int(id_order[last])):
        return None
    behind = np.concatenate(([last], added[:-1]))
    joined = times[added] - times[behind] <= EPISODE_GAP_S
    prev[added[joined]] = behind[joined]
    nxt[behind[joined]] = added[joined]
    episode[added] = (starts.size - 2) + np.cumsum(~joined)
    fresh = order.size + np.flatnonzero(~joined)
    grown = np.concatenate((order, added))
    starts = np.concatenate((starts[:-1], fresh, [grown.size])).astype(np.int64)
    return Timeline(prev, episode, grown, starts, nxt, ranks)


def id_keys(ids: list[str]) -> npt.NDArray[np.bytes_]:
    """The ids as fixed-width UTF-8 bytes, which numpy compares in C. UTF-8 keeps code
    point order and numpy pads with NUL, the smallest code point, so two keys compare as
    their ids do, except that ids differing only in trailing NULs come out equal: callers
    treat equal keys as "rank these as Python objects"."""
    try:
        lengths = set(map(len, ids))
        if len(lengths) == 1 and 0 not in lengths:  # ULIDs: one encode, no per-id objects
            return np.frombuffer("".join(ids).encode("ascii"), dtype=f"S{lengths.pop()}")
        return np.array(ids, dtype=np.bytes_)
    except UnicodeEncodeError:
        return np.array([i.encode("utf-8", "surrogatepass") for i in ids], dtype=np.bytes_)


def _ties(ordered: npt.NDArray[np.bytes_]) -> bool:
    return bool((ordered[1:] == ordered[:-1]).any())


def id_ranks(ids: list[str]) -> Ints:
    """Each id's rank in the ids sorted as Python sorts strings (equal ids by position),
    by one argsort of fixed-width bytes and its inverse permutation: the double argsort
    of an object array (Python string compares) took ~4.7 s of a 6 s timeline at 1M ids."""
    keys = id_keys(ids)
    order = np.argsort(keys)  # stability is moot: equal keys are ranked as objects below
    if _ties(keys[order]):
        order = np.argsort(np.array(ids, dtype=object), kind="stable")
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[order] = np.arange(len(ids), dtype=np.int64)
    return ranks


class IdOrder:
    """Each held row's place in the order of every held row's ids, kept as rows are
    added: the sorted ids as fixed-width bytes (a ULID: 26 bytes, not the 104 of numpy's
    '<U26') and each row's rank in them. New ids are sorted among themselves and merged in
    with ``searchsorted`` (ids that sort after every held one, as ULIDs written now do, move
    no rank); ids numpy cannot order as Python does fall back to ranking every id again.
    Ranks compare live and deleted rows alike: only their relative order is used."""

    def __init__(self) -> None:
        self.keys: npt.NDArray[np.bytes_] | None = np.zeros(0, dtype="S1")
        """The held ids sorted (None: they are ranked as Python objects, see ``id_keys``)."""
        self.ranks = np.zeros(0, dtype=np.int64)
        """Row → rank of its id in ``keys``."""

    @property
    def nbytes(self) -> int:
        """Memory held (the sorted ids and the ranks)."""
        return int(self.ranks.nbytes) + (int(self.keys.nbytes) if self.keys is not None else 0)

    def update(self, ids: list[str]) -> Ints:
        """The ranks of ``ids`` (the rows held: the ones ranked before and the new ones
        after them, in row order), merging the new ones in."""
        held = self.ranks.size
        if held == len(ids):
            return self.ranks
        if self.keys is None:
            return self._rank_all(ids)
        keys, new = self.keys, id_keys(ids[held:])
        width = max(keys.dtype.itemsize, new.dtype.itemsize)
        keys, new = keys.astype(f"S{width}", copy=False), new.astype(f"S{width}", copy=False)
        by_key = np.argsort(new)
        new = new[by_key]
        at = np.searchsorted(keys, new)
        inside = at < keys.size
        if _ties(new) or bool((keys[at[inside]] == new[inside]).any()):
            return self._rank_all(ids)  # equal bytes: equal ids, or ids numpy cannot tell apart
        ranks = self.ranks
        if at.size and int(at[0]) < keys.size:  # some new ids sort among the held ones
            ranks = ranks + np.searchsorted(at, ranks, side="right")
        added = np.empty(new.size, dtype=np.int64)
        added[by_key] = at + np.arange(new.size, dtype=np.int64)
        self.keys = np.insert(keys, at, new)
        self.ranks = np.concatenate((ranks, added))
        return self.ranks

    def _rank_all(self, ids: list[str]) -> Ints:
        keys = id_keys(ids)
        self.ranks = id_ranks(ids)
        ordered = np.empty_like(keys)
        ordered[self.ranks] = keys
        self.keys = None if _ties(ordered) else ordered
        return self.ranks
