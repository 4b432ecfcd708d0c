"""A cache entry's derived search state (timeline, masks, times) kept across writes equals
the state computed from scratch after every write: random sequences of appended rows
(times now, in the past and in the future, equal timestamps within a batch, ids that sort
after, among and before the held ones), by several writer streams whose writes
interleave, updates, status, kind and stream changes and deletes. The reference timeline
is the one the ranking was defined with (ids ranked by Python string compares), with
episodes cut where the stream changes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memsvc.retrieval.cache import CachedProject
from memsvc.retrieval.sparse import episode_counts
from memsvc.retrieval.timeline import (
    EPISODE_GAP_S,
    IdOrder,
    Timeline,
    build_timeline,
    id_ranks,
)
from memsvc.store.index import IndexRow

STATUSES = ["active", "active", "archived", "deleted"]
KINDS = ["fact", "rule", "decision"]
MASKS: list[tuple[set[str], set[str] | None]] = [
    ({"active"}, None),
    ({"active", "archived"}, {"fact", "rule"}),
    ({"archived"}, {"decision"}),
]
# offsets of a memory's valid_from from when it is written: in the past, in the future,
# across and within an episode gap, and none (time = written)
OFFSETS = [None, None, None, 0.0, -2 * EPISODE_GAP_S, -60.0, 30.0, EPISODE_GAP_S, 9000.0]
# writer streams: 0 (a table made before streams), and signed 64-bit hashes of both signs
STREAMS = [0, 0, 7, -(2**62), 2**62 + 5]


def _reference(
    times: list[float], written: list[float], ids: list[str], live: list[bool], streams: list[int]
) -> Timeline:
    """``build_timeline`` as the ranking was defined: ranks from a double argsort of the
    ids as Python objects; rows ordered by stream first, episodes cut between streams."""
    n = len(ids)
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    episode = np.full(n, -1, dtype=np.int64)
    ranks = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(np.array(live, dtype=bool))
    if rows.size == 0:
        return Timeline(prev, episode, rows, np.zeros(1, dtype=np.int64), nxt, ranks)
    t, w = np.array(times, dtype=np.float64), np.array(written, dtype=np.float64)
    s = np.array(streams, dtype=np.int64)
    id_rank = np.argsort(np.argsort(np.array(ids, dtype=object)[rows], kind="stable"))
    ranks[rows] = id_rank
    order = rows[np.lexsort((id_rank, w[rows], t[rows], s[rows]))]
    joined = (np.diff(t[order]) <= EPISODE_GAP_S) & (s[order][1:] == s[order][:-1])
    prev[order[1:][joined]] = order[:-1][joined]
    nxt[order[:-1][joined]] = order[1:][joined]
    episode[order] = np.concatenate(([0], np.cumsum(~joined)))
    starts = np.concatenate(([0], np.flatnonzero(~joined) + 1, [order.size])).astype(np.int64)
    return Timeline(prev, episode, order, starts, nxt, ranks)


def _same_order(got: npt.NDArray[np.int64], want: npt.NDArray[np.int64]) -> None:
    """Same -1s, and the other values order their rows as ``want``'s do."""
    assert np.array_equal(got < 0, want < 0)
    live = np.flatnonzero(want >= 0)
    assert np.array_equal(np.argsort(got[live]), np.argsort(want[live]))


def _check(entry: CachedProject) -> None:
    n = entry.n
    live = [s != "deleted" for s in entry.statuses[:n]]
    streams = [int(x) for x in entry.streams[:n]]
    want = _reference(entry.times[:n], entry.written[:n], entry.ids[:n], live, streams)
    fresh = build_timeline(
        np.array(entry.times[:n]),
        np.array(entry.written[:n]),
        entry.ids[:n],
        np.array(live),
        streams=np.array(streams, dtype=np.int64),
    )
    got = entry.timeline()
    for tl in (got, fresh):
        assert tl.order is not None and tl.starts is not None and tl.next is not None
        assert tl.id_rank is not None and want.id_rank is not None
        assert np.array_equal(tl.prev, want.prev)
        assert np.array_equal(tl.next, want.next)
        assert np.array_equal(tl.episode, want.episode)
        assert np.array_equal(tl.order, want.order)
        assert np.array_equal(tl.starts, want.starts)
        _same_order(tl.id_rank, want.id_rank)
    assert fresh.id_rank is not None
    assert np.array_equal(fresh.id_rank, want.id_rank)  # a fresh one still numbers them 0..
    assert np.array_equal(entry.times_array(), np.array(entry.times[:n], dtype=np.float64))
    for statuses, kinds in MASKS:
        mask = entry.mask(statuses, kinds)
        expected = [
            s in statuses and (kinds is None or k in kinds)
            for s, k in zip(entry.statuses[:n], entry.kinds[:n], strict=True)
        ]
        assert np.array_equal(mask, np.array(expected, dtype=bool).reshape(n))
        assert np.array_equal(entry.episode_counts(mask), episode_counts(want, mask))


def _row(
    memory_id: str, kind: str, status: str, time: float, written: float, stream: int = 0
) -> IndexRow:
    vector = np.ones(4, dtype=np.float32) / 2.0
    return IndexRow(memory_id, kind, status, "note", "", vector, time, written, stream)


_append = st.tuples(
    st.just("append"),
    st.sampled_from(["after", "after", "random"]),
    st.sampled_from(OFFSETS),
    st.sampled_from(STATUSES),
    st.integers(0, 3),  # how far "now" moves on before this row (0: an equal timestamp)
    st.sampled_from(STREAMS),
)
_change = st.tuples(
    st.sampled_from(["update", "status", "kind", "delete", "stream"]),
    st.integers(0, 10**6),  # which held row
    st.sampled_from(OFFSETS),
    st.sampled_from(STATUSES),
    st.sampled_from(KINDS),
    st.sampled_from(STREAMS),
)
_steps = st.lists(
    st.lists(st.one_of(_append, _append, _change), min_size=1, max_size=8), max_size=12
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps, seed=st.integers(0, 2**16))
def test_the_kept_timeline_masks_and_times_are_the_fresh_ones_after_every_write(
    steps: list[list[tuple[object, ...]]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    entry = CachedProject(generation=0, dim=4)
    entry.matrix = np.zeros((0, 4), dtype=np.float32)
    now, counter = 1.7e9, 0
    for batch in steps:
        for op in batch:
            if op[0] == "append":
                _, place, offset, status, tick, stream = op
                assert isinstance(offset, float | None) and isinstance(tick, int)
                assert isinstance(stream, int)
                now += 10.0 * tick
                counter += 1
                if place == "after":  # like ULIDs written now: after every held id
                    memory_id = f"z{counter:06d}"
                else:  # anywhere, non-ASCII, trailing NULs, longer than the others
                    alphabet = list("0az~é\0")
                    size = int(rng.integers(1, 9))
                    memory_id = "".join(alphabet[int(c)] for c in rng.integers(0, 6, size))
                time = now if offset is None else now + offset
                kind = str(rng.choice(KINDS))
                entry.put(_row(memory_id, kind, str(status), time, now, stream))
                continue
            if entry.n == 0:
                continue
            kind_op, which, offset, status, kind, stream = op
            assert isinstance(which, int) and isinstance(offset, float | None)
            assert isinstance(stream, int)
            at = which % entry.n
            memory_id = entry.ids[at]
            held = (memory_id, entry.kinds[at], entry.statuses[at])
            if kind_op == "update":
                time = entry.written[at] if offset is None else entry.written[at] + offset
                entry.put(_row(*held, time, entry.written[at], int(entry.streams[at])))
            elif kind_op == "stream":  # e.g. an import restoring another writer's memory
                entry.put(_row(*held, entry.times[at], entry.written[at], stream))
            elif kind_op == "status":
                entry.set_meta(memory_id, entry.kinds[at], str(status))
            elif kind_op == "kind":
                entry.set_meta(memory_id, str(kind), entry.statuses[at])
            else:
                entry.remove(memory_id)
        _check(entry)


def _appended(entry: CachedProject, count: int, start: float, prefix: str = "b") -> None:
    for i in range(count):
        t = start + 60.0 * (i // 2)  # pairs of equal timestamps
        entry.put(_row(f"{prefix}{i:05d}", KINDS[i % 3], STATUSES[i % 4], t, t))


def test_a_write_after_every_row_appends_to_the_timeline_and_a_status_change_keeps_it() -> None:
    entry = CachedProject(generation=0, dim=4)
    entry.matrix = np.zeros((0, 4), dtype=np.float32)
    _appended(entry, 300, 1.7e9)
    first = entry.timeline()
    mask = entry.mask({"active"}, None)
    arrays = [a.copy() for a in (first.prev, first.next, first.episode, mask)]
    assert entry.timeline_builds == 1
    _appended(entry, 50, 1.7e9 + 60.0 * 150, prefix="c")  # the first ties the last in time
    grown = entry.timeline()
    assert entry.timeline_builds == 1  # appended, not built again
    assert grown.prev.size == 350
    _check(entry)
    # a search still reading the timeline and mask from before the write sees them unchanged
    held = (first.prev, first.next, first.episode, mask)
    assert all(np.array_equal(a, b) for a, b in zip(held, arrays, strict=True))
    entry.set_meta("b00000", "rule", "archived")  # live before and after: only masks change
    assert entry.timeline() is grown
    assert not np.array_equal(entry.mask({"active"}, None), mask)
    _check(entry)
    assert entry.timeline_builds == 1
    entry.remove("b00001")  # a delete builds it again (from the kept id order)
    _check(entry)
    assert entry.timeline_builds == 2


def test_ids_are_ranked_as_python_orders_them() -> None:
    ids = ["b", "a\0", "a", "é", "~", "a\0\0", "", "zz", "a"]  # NULs, non-ASCII, a repeat
    want = np.argsort(np.argsort(np.array(ids, dtype=object), kind="stable"))
    assert np.array_equal(id_ranks(ids), want)
    held, grown = IdOrder(), list[str]()
    # merged in batches: equal bytes among the new ids, with held ones, none, then again
    for batch in (["b"], ["a\0", "a"], ["é", "~"], ["a\0\0", ""], ["zz", "c"], ["d"]):
        grown += batch
        _same_order(held.update(grown), id_ranks(grown))


def test_a_mask_with_many_rows_changed_since_it_was_computed_is_computed_again() -> None:
    entry = CachedProject(generation=0, dim=4)
    entry.matrix = np.zeros((0, 4), dtype=np.float32)
    _appended(entry, 3000, 1.7e9)
    _check(entry)
    for i in range(0, 2400, 2):  # 1,200 status changes: more than the patching keeps
        entry.set_meta(f"b{i:05d}", "rule", "active" if i % 4 else "archived")
    _check(entry)


def test_interleaved_writes_of_several_streams_extend_the_timeline_per_stream() -> None:
    entry = CachedProject(generation=0, dim=4)
    entry.matrix = np.zeros((0, 4), dtype=np.float32)
    t = 1.7e9
    for i in range(60):  # three writers, each writing every minute, in turn
        entry.put(
            _row(f"a{i:05d}", "fact", "active", t + 60.0 * i, t + 60.0 * i, STREAMS[i % 3 + 2])
        )
    first = entry.timeline()
    assert entry.timeline_builds == 1
    assert first.starts is not None and first.starts.size - 1 == 3  # one episode per writer
    for i in range(60, 90):  # the first (in stream order) and middle writers go on
        stream = STREAMS[3] if i % 2 else STREAMS[2]
        entry.put(_row(f"a{i:05d}", "fact", "active", t + 60.0 * i, t + 60.0 * i, stream))
        if i % 7 == 0:
            entry.timeline()
    entry.put(_row("b00000", "fact", "active", t + 9e4, t + 9e4, STREAMS[3]))  # after a gap
    entry.put(_row("b00001", "fact", "active", t, t + 9e4, 42))  # a new writer, back in time
    _check(entry)
    assert entry.timeline_builds == 1  # every write appended to its stream's run
    grown = entry.timeline()
    assert grown.starts is not None and grown.starts.size - 1 == 5
    entry.put(_row("b00002", "fact", "active", t, t + 9e4, STREAMS[3]))  # before its stream's end
    _check(entry)
    assert entry.timeline_builds == 2
