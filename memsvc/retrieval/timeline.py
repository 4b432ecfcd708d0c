"""Neighbours in time: a project's memories ordered by when they hold, cut into episodes.

A memory's time is its ``valid_from`` (when what it says happened), else when it was
written. Each memory belongs to a writer stream (who wrote it: principal, agent identity
and session, ``store.fleet.writer_stream``). Ordered by (stream, time, written, id), two
consecutive memories of one stream are neighbours when their times are at most
``EPISODE_GAP_S`` apart; a run of neighbours is an episode (one conversation session, one
working session of an agent). Retrieval uses this so that a short memory ("Yes, last
May!") is found through the one its writer wrote just before it, and not through what
another agent of a fleet wrote in the same hour.
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
    streams: Ints | None = None,
) -> Timeline:
    """Neighbours among the ``live`` rows (deleted ones are skipped over). ``id_order``:
    each row's place in the ids' order when the caller keeps one (``IdOrder``; ``ids`` are
    then not read), else the live rows' ids are ranked here. ``streams``: each row's
    writer stream (None: one stream); rows of two streams are never neighbours."""
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
    if _one_stream(streams, rows):
        order = rows[np.lexsort((id_rank, written[rows], times[rows]))]
        joined = np.diff(times[order]) <= EPISODE_GAP_S
    else:
        assert streams is not None
        order = rows[np.lexsort((id_rank, written[rows], times[rows], streams[rows]))]
        joined = (np.diff(times[order]) <= EPISODE_GAP_S) & (np.diff(streams[order]) == 0)
    prev[order[1:][joined]] = order[:-1][joined]
    nxt[order[:-1][joined]] = order[1:][joined]
    episode[order] = np.concatenate(([0], np.cumsum(~joined)))
    starts = np.concatenate(([0], np.flatnonzero(~joined) + 1, [order.size])).astype(np.int64)
    return Timeline(prev, episode, order, starts, nxt, ranks)


def _one_stream(streams: Ints | None, rows: Ints) -> bool:
    """Whether these rows are all of one writer stream (no stream key to sort by)."""
    if streams is None or rows.size == 0:
        return True
    held = streams[rows]
    return bool((held == held[0]).all())


def extend_timeline(
    timeline: Timeline,
    times: Floats,
    written: Floats,
    live: npt.NDArray[np.bool_],
    id_order: Ints,
    streams: Ints | None = None,
) -> Timeline | None:
    """``timeline`` (of the first ``timeline.prev.size`` rows) with the rows after them
    appended, when the new live rows of each writer stream all come after every live row
    of that stream it holds in (time, written, id) order: the timeline ``build_timeline``
    would give, in time proportional to the new rows plus copies of the arrays. None when
    they do not (the caller rebuilds).

    This is the common write: a memory without ``valid_from`` holds from when it is
    written, after everything its writer wrote before it. The rows already held keep their
    predecessors and successors except each stream's last one, whose episode the stream's
    first new row may join; episodes keep their numbers unless a stream other than the
    last (in stream order) grows, which moves the later streams' episodes up by the
    episodes opened before them. ``times``, ``written``, ``live``, ``id_order`` and
    ``streams`` cover every row; the arrays given back are new ones (searches read a
    timeline after letting go of the entry's lock)."""
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
        return build_timeline(times, written, [], live, id_order, streams)
    stream = streams if streams is not None else np.zeros(n, dtype=np.int64)
    added = added[np.lexsort((id_order[added], written[added], times[added], stream[added]))]
    # where each new row goes in ``order``: after the held rows of its stream and before
    # those of the next stream (``order`` is sorted by stream first); at the end when no
    # held stream sorts after the new rows' (one writer: no pass over the held rows)
    at_end = int(stream[added[0]]) >= int(stream[order[-1]])
    if at_end:
        at = np.full(added.size, order.size, dtype=np.int64)
    else:
        at = np.searchsorted(stream[order], stream[added], side="right")
    if not _after_their_streams(order, added, at, times, written, id_order, stream):
        return None
    grown = np.concatenate((order, added)) if at_end else np.insert(order, at, added)
    places = at + np.arange(added.size, dtype=np.int64)  # of the new rows in ``grown``
    behind = grown[np.maximum(places - 1, 0)]
    joined = (
        (places > 0)
        & (stream[behind] == stream[added])
        & (times[added] - times[behind] <= EPISODE_GAP_S)
    )
    prev[added[joined]] = behind[joined]
    nxt[behind[joined]] = added[joined]
    if at_end:  # every new row after every held one: the held episodes keep their numbers
        episode[added] = (starts.size - 2) + np.cumsum(~joined)
        fresh = order.size + np.flatnonzero(~joined)
        starts = np.concatenate((starts[:-1], fresh, [grown.size])).astype(np.int64)
        return Timeline(prev, episode, grown, starts, nxt, ranks)
    opens = np.zeros(grown.size, dtype=bool)  # whether each place of ``grown`` opens an episode
    kept = np.ones(grown.size, dtype=bool)
    kept[places] = False
    held_opens = np.zeros(order.size, dtype=bool)
    held_opens[starts[:-1]] = True
    opens[kept] = held_opens
    opens[places] = ~joined
    episode[grown] = np.cumsum(opens) - 1
    starts = np.concatenate((np.flatnonzero(opens), [grown.size])).astype(np.int64)
    return Timeline(prev, episode, grown, starts, nxt, ranks)


def _after_their_streams(
    order: Ints,
    added: Ints,
    at: Ints,
    times: Floats,
    written: Floats,
    id_order: Ints,
    stream: Ints,
) -> bool:
    """Whether the first new row of each stream (``added`` sorted by stream, time,
    written, id; ``at`` their places in ``order``) comes after the last held row of its
    stream in (time, written, id) order."""
    first = np.concatenate(([True], stream[added][1:] != stream[added][:-1]))
    heads, places = added[first], at[first]
    has_tail = places > 0
    has_tail[has_tail] = stream[order[places[has_tail] - 1]] == stream[heads[has_tail]]
    for head, place in zip(heads[has_tail].tolist(), places[has_tail].tolist(), strict=True):
        tail = int(order[place - 1])
        new = (float(times[head]), float(written[head]), int(id_order[head]))
        if new <= (float(times[tail]), float(written[tail]), int(id_order[tail])):
            return False
    return True


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
