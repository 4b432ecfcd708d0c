"""Each project's memories held in memory for exact search: vectors (cosine scan), the
keyword (BM25F) index of their text, and their times (for neighbours in time).

Each project's matrix is loaded from LanceDB once and kept current by the writes of this
process; writes from another server bump the project's ``index_generation`` in SQL, and
the next search here catches up incrementally: it reads which memories changed since the
generation it holds (``outbox.changes_since``) and fetches just those rows from LanceDB by
id, reloading the whole table only when that gap cannot be read (a reconcile or reindex,
or more than ``CATCH_UP_MAX_ROWS`` changes). Below a few tens of thousands of rows this scan
is faster than an unindexed LanceDB query (measured: 6 ms vs 158 ms at 100k rows).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from memsvc.errors import IndexRebuilding
from memsvc.retrieval.coarse import CoarseIndex
from memsvc.retrieval.healing import IndexHealth
from memsvc.retrieval.lexical import LexicalIndex
from memsvc.retrieval.sparse import episode_counts
from memsvc.retrieval.timeline import IdOrder, Timeline, build_timeline, extend_timeline
from memsvc.store.index import IndexRow, LanceIndex

__all__ = ["CATCH_UP_MAX_ROWS", "Changes", "ProjectCache"]

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]
MaskKey = tuple[frozenset[str], frozenset[str] | None]
_Array = TypeVar("_Array", npt.NDArray[np.bool_], npt.NDArray[np.float64])
Changes = Callable[[str, int, int, int], "list[str] | None"]
"""``(project, have, want, limit)`` → the memories changed in generations ``(have, want]``,
or None when the gap cannot be read incrementally (``outbox.changes_since``)."""
CATCH_UP_MAX_ROWS = 2000
"""Above this many changed memories a full reload is cheaper than fetching them by id."""


@dataclass
class CachedProject:
    """One project's search state in memory: ids, kinds, statuses, vectors, keyword index and times,
    at an index generation."""

    generation: int
    dim: int
    ids: list[str] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    matrix: Vector = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    n: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    refreshing: threading.Lock = field(default_factory=threading.Lock)
    """Held while catching up with other servers' changes (one fetch, not one per search)."""
    times: list[float] = field(default_factory=list)
    written: list[float] = field(default_factory=list)
    streams: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Each row's writer stream (the first ``n`` entries; grown like ``matrix``): episodes
    of the timeline never cross streams."""
    lexical: LexicalIndex = field(default_factory=LexicalIndex)
    _timeline: Timeline | None = None
    _timeline_stale: bool = False
    """A row the timeline holds moved in time or to another stream, or changed liveness:
    the next ``timeline()`` builds it again from every live row."""
    _masks: dict[MaskKey, npt.NDArray[np.bool_]] = field(default_factory=dict)
    _mask_stale: dict[MaskKey, set[int]] = field(default_factory=dict)
    """Per held mask, the rows whose status or kind changed since it was computed."""
    _live: npt.NDArray[np.bool_] | None = None
    _live_stale: set[int] = field(default_factory=set)
    _times: npt.NDArray[np.float64] | None = None
    _written: npt.NDArray[np.float64] | None = None
    _times_stale: set[int] = field(default_factory=set)
    """Rows whose time or written changed since ``_times``/``_written`` were computed."""
    _ids: IdOrder = field(default_factory=IdOrder)
    _counts: dict[int, tuple[npt.NDArray[np.bool_], Timeline, npt.NDArray[np.int64]]] = field(
        default_factory=dict
    )
    timeline_builds: int = 0
    """How often ``timeline()`` ordered every live row again (rather than appending)."""
    coarse: CoarseIndex | None = None
    """The coarse quantizer over ``matrix`` (``retrieval/coarse.py``) once one was trained:
    the dense candidates of big projects' searches and their write-time checks."""
    coarse_build: threading.Lock = field(default_factory=threading.Lock)
    """Held while the coarse quantizer is trained (one training per entry)."""
    coarse_wanted: bool = False
    """A background training of the coarse quantizer was asked for."""

    def trained_coarse(self) -> CoarseIndex:
        """The coarse quantizer, trained first if there is none yet, every row filed.

        Training reads the rows held when it starts without holding ``lock`` (searches
        and writes go on: a write that grows the matrix moves it to a new array and the
        training reads the old one); the rows written meanwhile are filed after it, under
        ``lock``. Returns with ``lock`` not held."""
        with self.coarse_build:
            coarse = self.coarse
            if coarse is None:
                with self.lock:
                    rows = self.matrix[: self.n]
                coarse = CoarseIndex(self.dim)
                with coarse.lock:
                    coarse.train(rows)
            with self.lock, coarse.lock:
                coarse.file(self.matrix[: self.n])
                self.coarse = coarse
            return coarse

    def changed(self) -> None:
        """Forget everything derived from the rows (the next searches compute it again
        from every row). Writes do not call it: they record which rows they touched and
        the derived state is patched (``mask``, ``times_array``) or extended
        (``timeline``), so the first search after a write into a big project does not pay
        for all of it (at 1M rows rebuilding took ~6 s)."""
        self._timeline, self._timeline_stale = None, False
        self._masks.clear()
        self._mask_stale.clear()
        self._live, self._times, self._written = None, None, None
        self._live_stale.clear()
        self._times_stale.clear()
        self._ids = IdOrder()
        self._counts.clear()

    def derived_bytes(self) -> int:
        """Memory of the derived state: the ids' order, timeline, masks and times."""
        arrays: list[npt.NDArray[np.generic] | None] = [self._live, self._times, self._written]
        arrays.extend(tuple(self._masks.values()))  # one C-level copy: no lock is held here
        held = self._timeline
        if held is not None:
            arrays.extend((held.prev, held.next, held.episode, held.order, held.id_rank))
        return self._ids.nbytes + sum(int(a.nbytes) for a in arrays if a is not None)

    def episode_counts(self, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """How many rows of ``mask`` (one of ``mask()``'s) each episode of ``timeline()``
        holds, kept while both stay the same. Hold ``lock``."""
        timeline = self.timeline()
        held = self._counts.get(id(mask))
        if held is None or held[0] is not mask or held[1] is not timeline:
            held = self._counts[id(mask)] = (mask, timeline, episode_counts(timeline, mask))
        return held[2]

    def mask(
        self, statuses: AbstractSet[str], kinds: AbstractSet[str] | None
    ) -> npt.NDArray[np.bool_]:
        """Rows of these statuses (and kinds), patched for the rows written since it was
        computed (a new array then: searches read it after letting go of ``lock``).
        Hold ``lock``."""
        key = (frozenset(statuses), frozenset(kinds) if kinds is not None else None)
        status, kind = self.statuses, self.kinds

        def flags(lo: int, hi: int) -> npt.NDArray[np.bool_]:
            return np.fromiter(
                (
                    s in statuses and (kinds is None or k in kinds)
                    for s, k in zip(status[lo:hi], kind[lo:hi], strict=True)
                ),
                dtype=bool,
                count=hi - lo,
            )

        held = self._masks.get(key)
        stale = self._mask_stale.setdefault(key, set())
        patched = _patched(held, self.n, stale, flags)
        if patched is not held:
            self._masks[key] = patched
            stale.clear()
        return patched

    def live(self) -> npt.NDArray[np.bool_]:
        """Rows that are not deleted (patched like ``mask``). Hold ``lock``."""
        status = self.statuses

        def flags(lo: int, hi: int) -> npt.NDArray[np.bool_]:
            return np.fromiter((s != "deleted" for s in status[lo:hi]), dtype=bool, count=hi - lo)

        self._live = _patched(self._live, self.n, self._live_stale, flags)
        self._live_stale.clear()
        return self._live

    def times_array(self) -> npt.NDArray[np.float64]:
        """Each row's time as an array (patched like ``mask``). Hold ``lock``."""
        self._times_arrays()
        assert self._times is not None
        return self._times

    def _times_arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        times, written = self.times, self.written

        def of_times(lo: int, hi: int) -> npt.NDArray[np.float64]:
            return np.array(times[lo:hi], dtype=np.float64)

        def of_written(lo: int, hi: int) -> npt.NDArray[np.float64]:
            return np.array(written[lo:hi], dtype=np.float64)

        self._times = _patched(self._times, self.n, self._times_stale, of_times)
        self._written = _patched(self._written, self.n, self._times_stale, of_written)
        self._times_stale.clear()
        return self._times, self._written

    def timeline(self) -> Timeline:
        """Neighbours in time among the live rows. Rows added since it was built that
        come after every live row in time are appended to it; other changes to where a
        row is in time, or to whether it is live, build it again (without comparing
        strings: the ids' order is kept in ``IdOrder``). Hold ``lock``."""
        held, n = self._timeline, self.n
        if held is not None and held.prev.size == n and not self._timeline_stale:
            return held
        times, written = self._times_arrays()
        live = self.live()
        ranks = self._ids.update(self.ids if len(self.ids) == n else self.ids[:n])
        streams = self.streams[:n]
        grown = None
        if held is not None and not self._timeline_stale and held.prev.size < n:
            grown = extend_timeline(held, times, written, live, ranks, streams)
        if grown is None:
            grown = build_timeline(times, written, self.ids[:n], live, ranks, streams)
            self.timeline_builds += 1
        self._timeline, self._timeline_stale = grown, False
        self._counts.clear()
        return grown

    def _touch(
        self, at: int, kind: str, status: str, time: float, written: float, stream: int
    ) -> None:
        """Note what changing held row ``at`` to these values makes stale (call before)."""
        was_live, is_live = self.statuses[at] != "deleted", status != "deleted"
        in_timeline = self._timeline is not None and at < self._timeline.prev.size
        if kind != self.kinds[at] or status != self.statuses[at]:
            for key, stale in list(self._mask_stale.items()):
                stale.add(at)
                if len(stale) > max(1024, self.n // 4):  # cheaper computed again, if asked
                    self._masks.pop(key, None)
                    del self._mask_stale[key]
        if was_live != is_live:
            self._live_stale.add(at)
            self._timeline_stale |= in_timeline
        if time != self.times[at] or written != self.written[at]:
            self._times_stale.add(at)
            self._timeline_stale |= in_timeline and (was_live or is_live)
        if stream != int(self.streams[at]):
            self._timeline_stale |= in_timeline and (was_live or is_live)

    def _grow(self, need: int) -> None:
        self.streams = _room(self.streams, need, self.n)
        self.matrix = _room(self.matrix, need, self.n, (self.dim,))

    def put(self, row: IndexRow) -> None:
        """Add or replace a memory's row (vector, text, metadata)."""
        at = self.pos.get(row.id)
        if at is None:
            self._grow(self.n + 1)
            at = self.n
            self.n += 1
            self.ids.append(row.id)
            self.kinds.append(row.kind)
            self.statuses.append(row.status)
            self.times.append(row.time)
            self.written.append(row.written)
            self.pos[row.id] = at
        else:
            self._touch(at, row.kind, row.status, row.time, row.written, row.stream)
            if self.coarse is not None and not np.array_equal(self.matrix[at], row.vector):
                with self.coarse.lock:
                    self.coarse.moved(at)
        self.matrix[at] = row.vector
        self.kinds[at] = row.kind
        self.statuses[at] = row.status
        self.times[at], self.written[at] = row.time, row.written
        self.streams[at] = row.stream
        self.lexical.put(at, row.text)

    def set_meta(self, memory_id: str, kind: str, status: str) -> None:
        """Change a cached memory's kind and status without touching its vector."""
        at = self.pos.get(memory_id)
        if at is not None:
            self._touch(at, kind, status, self.times[at], self.written[at], int(self.streams[at]))
            self.kinds[at] = kind
            self.statuses[at] = status

    def remove(self, memory_id: str) -> None:
        """Mark a memory deleted and drop its keywords (the slot stays, unused)."""
        at = self.pos.get(memory_id)
        if at is not None:
            stream = int(self.streams[at])
            self._touch(at, self.kinds[at], "deleted", self.times[at], self.written[at], stream)
            self.statuses[at] = "deleted"
            self.lexical.clear(at)


def _patched(
    held: _Array | None, n: int, stale: set[int], compute: Callable[[int, int], _Array]
) -> _Array:
    """``compute(0, n)``, from ``held`` (``compute`` of fewer rows, ``stale`` ones changed
    since) when that is cheaper: the new rows and the stale ones computed, the rest
    copied into a new array. ``held`` itself when nothing changed."""
    if held is not None and held.size == n and not stale:
        return held
    if held is None or held.size > n or len(stale) > n // 4:
        return compute(0, n)
    out = np.empty(n, dtype=held.dtype)
    out[: held.size] = held
    out[held.size :] = compute(held.size, n)
    for row in stale:
        if row < held.size:
            out[row] = compute(row, row + 1)[0]
    return out


TRIM_MIN_ROWS = 20_000
"""After a full load of at least this many rows, freed memory is handed back to the OS."""


def release_freed_memory() -> None:
    """Give the memory a big load's transients freed (the table's Arrow snapshot, the
    analysis' temporaries) back to the OS: Arrow's pool keeps freed blocks and glibc's
    heap does not shrink on its own, so without this the process keeps its peak (a 1M-row
    load: 6.5 GB of RSS for ~2.5 GB held)."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # best effort: only the RSS is at stake
        log.debug("Arrow's pool could not release memory", exc_info=True)
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):  # not glibc: nothing to trim this way
            libc.malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once (``find_library`` runs a subprocess)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


ROW_BYTES = 1100
"""Approximate memory of one held memory beyond its vector: keyword postings, term
counts, id, kind, status and times (tracemalloc over ``ProjectCache._load``: 0.8 KB for
~12-term notes, 1.1 KB for ~45-term ones; ``benchmarks/bench_row_memory.py``)."""


class ProjectCache:
    """The in-memory state of the projects this process has searched or written, least
    recently used first out once their estimated size passes ``budget_bytes`` (the project
    in use is never evicted; an evicted one is reloaded from LanceDB on its next use)."""

    def __init__(
        self,
        index: LanceIndex,
        dim: int,
        budget_bytes: int = 2 << 30,
        changes: Changes | None = None,
        health: IndexHealth | None = None,
    ) -> None:
        self._index = index
        self.health = health or IndexHealth()
        self._dim = dim
        self._budget = budget_bytes
        self._changes = changes
        self._entries: OrderedDict[str, CachedProject] = OrderedDict()
        self._guard = threading.Lock()
        self.loads = 0
        """Full loads of a project's table (first use, eviction, or a gap too big)."""
        self.catch_ups = 0
        """Incremental catch-ups with other servers' changes."""

    def _load(self, project: str, generation: int) -> CachedProject:
        snap = self._index.snapshot(project)
        entry = CachedProject(generation=generation, dim=self._dim)
        entry.matrix = snap.vectors if snap.vectors.size else entry.matrix  # its own array
        if entry.matrix.shape[1] != self._dim:
            entry.matrix = np.zeros((0, self._dim), dtype=np.float32)
        entry.ids = list(snap.ids)
        entry.kinds = list(snap.kinds)
        entry.statuses = list(snap.statuses)
        entry.pos = {i: k for k, i in enumerate(entry.ids)}
        entry.n = len(entry.ids)
        entry.times = list(snap.times)
        entry.written = list(snap.written)
        if snap.streams is not None and snap.streams.size == entry.n:
            entry.streams = snap.streams
        else:  # a table made before streams were kept: one stream, as before
            entry.streams = np.zeros(entry.n, dtype=np.int64)
        entry.lexical.put_many(range(len(snap.texts)), snap.texts)
        return entry

    def entry(self, project: str, generation: int) -> CachedProject:
        """The project's vectors as of ``generation`` (caught up or reloaded when another
        process wrote). ``IndexRebuilding`` while the project's table is being repaired,
        or when reading it fails (which starts the repair)."""
        with self.health.guard(project):
            return self._entry(project, generation)

    def _entry(self, project: str, generation: int) -> CachedProject:
        with self._guard:
            current = self._entries.get(project)
            if current is not None:
                self._entries.move_to_end(project)
        if current is not None and current.generation >= generation:
            return current
        if current is not None and self._catch_up(project, current, generation):
            return current
        fresh = self._load(project, generation)
        self.loads += 1
        if fresh.n >= TRIM_MIN_ROWS:
            release_freed_memory()
        with self._guard:
            self._entries[project] = fresh
            self._entries.move_to_end(project)
            self._evict()
        return fresh

    def _catch_up(self, project: str, entry: CachedProject, generation: int) -> bool:
        """Bring ``entry`` to ``generation`` from the changed rows alone; False when only a
        full reload can. Rows fetched now are at least as new as ``generation`` (LanceDB
        is written before the generation is bumped), so applying them is always safe."""
        if self._changes is None:
            return False
        with entry.refreshing:
            have = entry.generation
            if have >= generation:
                return True
            ids = self._changes(project, have, generation, CATCH_UP_MAX_ROWS)
            if ids is None:
                return False
            rows = self._index.rows_of(project, ids)
            with entry.lock:
                if entry.generation < generation:
                    for memory_id in ids:
                        row = rows.get(memory_id)
                        if row is None:
                            entry.remove(memory_id)
                        else:
                            entry.put(row)
                    entry.generation = generation
            self.catch_ups += 1
        return True

    def _evict(self) -> None:
        """Drop least recently used projects while over budget (hold ``_guard``)."""
        total = sum(_estimate(e) for e in self._entries.values())
        while total > self._budget and len(self._entries) > 1:
            _, gone = self._entries.popitem(last=False)
            total -= _estimate(gone)

    def held_bytes(self) -> int:
        """The estimated memory of every held project."""
        with self._guard:
            return sum(_estimate(e) for e in self._entries.values())

    def applied(
        self,
        project: str,
        before: int,
        after: int,
        upserts: list[IndexRow],
        metas: list[tuple[str, str, str]],
        deletes: list[str],
    ) -> None:
        """Fold this process's own index changes in. An entry that fell behind (another
        server changed the project meanwhile) is left as it is: its next use catches up
        with every change since, this one included."""
        with self._guard:
            entry = self._entries.get(project)
        if entry is None:
            return
        with entry.lock:
            if entry.generation != before:
                return
            for row in upserts:
                entry.put(row)
            for memory_id, kind, status in metas:
                entry.set_meta(memory_id, kind, status)
            for memory_id in deletes:
                entry.remove(memory_id)
            entry.generation = after
        with self._guard:
            self._evict()

    def current(self, project: str) -> CachedProject:
        """The project's entry as held now, loading it only if none is held (no freshness
        check: for advisory work such as near-duplicate flags at write time)."""
        with self._guard:
            held = self._entries.get(project)
        if held is not None:
            return held
        try:
            return self.entry(project, 0)
        except IndexRebuilding:  # advisory: no neighbours while the index is repaired
            return CachedProject(generation=-1, dim=self._dim)

    def project_count(self) -> int:
        """How many projects are held in memory."""
        with self._guard:
            return len(self._entries)

    def coarse_status(self) -> dict[str, int]:
        """Counts only (readiness is unauthenticated): held projects whose coarse quantizer
        was asked for, how many of them have it trained, and how many are training it."""
        with self._guard:
            entries = list(self._entries.values())
        asked = [e for e in entries if e.coarse_wanted or e.coarse is not None]
        trained = sum(1 for e in asked if e.coarse is not None)
        return {"projects": len(asked), "trained": trained, "training": len(asked) - trained}

    def row_count(self) -> int:
        """How many memories are held in memory, over all projects."""
        with self._guard:
            return sum(e.n for e in self._entries.values())

    def sizes(self) -> dict[str, int]:
        """How many rows each held project has (slots of deleted memories included)."""
        with self._guard:
            return {p: e.n for p, e in self._entries.items()}

    def forget(self, project: str) -> None:
        """Drop a project's state (after it was deleted); the next search reloads it."""
        with self._guard:
            self._entries.pop(project, None)

    @staticmethod
    def nearest(
        entry: CachedProject,
        vectors: Vector,
        statuses: set[str],
        kinds: list[set[str] | None],
    ) -> list[tuple[str, float] | None]:
        """For each of ``vectors``, the most similar row of ``entry`` of these statuses and
        of its own ``kinds`` entry (None: any kind), in one matrix product; None where
        there is none."""
        with entry.lock:
            n = entry.n
            if n == 0 or len(vectors) == 0:
                return [None] * len(vectors)
            sims = vectors @ entry.matrix[:n].T
            masks = {key: entry.mask(statuses, key) for key in {_key(k) for k in kinds}}
            ids = entry.ids[:n]
        out: list[tuple[str, float] | None] = []
        for row, wanted in zip(sims, kinds, strict=True):
            scores = np.where(masks[_key(wanted)], row, -np.inf)
            best = int(np.argmax(scores))
            out.append((ids[best], float(scores[best])) if np.isfinite(scores[best]) else None)
        return out

    def vectors_of(self, project: str, generation: int, ids: list[str]) -> dict[str, Vector]:
        """The vectors of these ids that the project's entry holds."""
        entry = self.entry(project, generation)
        with entry.lock:
            return {i: entry.matrix[entry.pos[i]].copy() for i in ids if i in entry.pos}


def _room(held: npt.NDArray[Any], need: int, n: int, row: tuple[int, ...] = ()) -> npt.NDArray[Any]:
    """``held`` (its first ``n`` rows used, each of shape ``row``) with room for ``need``
    rows: itself when it has it, else a copy grown by half (amortised appends)."""
    if need <= held.shape[0]:
        return held
    grown = np.zeros((max(need, int(held.shape[0] * 1.5) + 64), *row), held.dtype)
    grown[:n] = held[:n]
    return grown


def _estimate(entry: CachedProject) -> int:
    coarse = entry.coarse.nbytes() if entry.coarse is not None else 0
    held = int(entry.matrix.nbytes) + int(entry.streams.nbytes) + entry.n * ROW_BYTES
    return held + coarse + entry.derived_bytes()


def _key(kinds: set[str] | None) -> frozenset[str] | None:
    return frozenset(kinds) if kinds is not None else None
