"""The first search after a write into a big project: the search state kept across writes
(timeline extended, masks and times patched) against the state dropped on every write and
rebuilt from every row (the code before, kept here verbatim as ``Rebuilt``), in one process.

One project of ``--sizes`` synthetic memories (``benchmarks.common``: engineering notes,
ULIDs, a few archived and deleted, notes 30 s apart with an occasional gap of more than an
episode) is held in a ``CachedProject``, in shuffled row order (a table read back from
storage is not in time order; ``--in-time-order`` holds them sorted, which makes sorting
them again nearly free), with hash vectors (``HashEmbedder``, 64 dims, of
each note's template). Two entries share its rows (lists, matrix, keyword index); each
write goes into the kept one and the other is told to forget its derived state, as every
write did before. Each repetition, for both entries in alternating order:

- a write of one batch (``--batch`` rows, written now: after every row), then the first
  exact-scan search (``CandidateSource._in_memory``);
- another batch, then ``timeline()``, ``mask()`` and ``times_array()`` each alone.

Other writes, each followed by a search (kept entry; the old one rebuilds anyway): one
status change that keeps the row live (masks only), one delete and one batch whose
``valid_from`` lies a day in the past (both build the timeline again, from the kept ids'
order: no string compares).

    python benchmarks/bench_timeline.py --sizes 100000,1000000 --out benchmarks/results/timeline.md
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import numpy.typing as npt
from ulid import ULID

from benchmarks.common import RESULTS, header, iter_synthetic_memories, synthetic_queries
from memsvc.retrieval.cache import CachedProject
from memsvc.retrieval.candidates import CandidateSource
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.retrieval.sparse import episode_counts
from memsvc.retrieval.timeline import EPISODE_GAP_S, Timeline
from memsvc.store.index import IndexRow

DIM = 64
STATUSES = {"active"}


def _build_timeline_before(
    times: npt.NDArray[np.float64],
    written: npt.NDArray[np.float64],
    ids: list[str],
    live: npt.NDArray[np.bool_],
) -> Timeline:
    """``build_timeline`` before this change (ids ranked by Python string compares)."""
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


class Rebuilt(CachedProject):
    """The derived state as it was: dropped on every write, rebuilt from every row."""

    old_counts: dict[int, tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]]

    def episode_counts(self, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        held = self.old_counts.get(id(mask))
        if held is None or held[0] is not mask:
            held = self.old_counts[id(mask)] = (mask, episode_counts(self.timeline(), mask))
        return held[1]

    def mask(
        self, statuses: AbstractSet[str], kinds: AbstractSet[str] | None
    ) -> npt.NDArray[np.bool_]:
        key = (frozenset(statuses), frozenset(kinds) if kinds is not None else None)
        cached = self._masks.get(key)
        if cached is None or cached.size != self.n:
            cached = np.fromiter(
                (
                    s in statuses and (kinds is None or k in kinds)
                    for s, k in zip(self.statuses[: self.n], self.kinds[: self.n], strict=True)
                ),
                dtype=bool,
                count=self.n,
            )
            self._masks[key] = cached
        return cached

    def times_array(self) -> npt.NDArray[np.float64]:
        if self._times is None or self._times.size != self.n:
            self._times = np.array(self.times[: self.n], dtype=np.float64)
        return self._times

    def timeline(self) -> Timeline:
        if self._timeline is None or self._timeline.prev.size != self.n:
            live = np.array([s != "deleted" for s in self.statuses[: self.n]], dtype=bool)
            self._timeline = _build_timeline_before(
                np.array(self.times[: self.n], dtype=np.float64),
                np.array(self.written[: self.n], dtype=np.float64),
                self.ids[: self.n],
                live,
            )
        return self._timeline

    def follow(self, kept: CachedProject) -> None:
        """Take ``kept``'s rows after a write to them and forget everything derived."""
        self.n, self.matrix = kept.n, kept.matrix
        self.changed()
        self.old_counts.clear()


class Notes:
    """Synthetic memories as index rows, one every 30 s (an occasional gap of ~1.4 h)."""

    def __init__(self) -> None:
        self._stream = iter_synthetic_memories()
        self._embedder = HashEmbedder(DIM)
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}
        self._rng = np.random.default_rng(3)
        self.now = 1.7e9

    def rows(self, count: int, past: float = 0.0) -> list[IndexRow]:
        out = []
        for _ in range(count):
            kind, text = next(self._stream)
            self.now += 5000.0 if self._rng.random() < 0.002 else 30.0
            template = text.split(" (note ")[0]
            vector = self._vectors.get(template)
            if vector is None:
                vector = self._vectors[template] = self._embedder.embed([template])[0]
            pick = self._rng.random()
            status = "deleted" if pick < 0.01 else "archived" if pick < 0.05 else "active"
            memory_id = str(ULID.from_timestamp(self.now))
            at = self.now - past
            out.append(IndexRow(memory_id, kind, status, text, "", vector, at, self.now))
        return out


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _search(entry: CachedProject, query: tuple[str, npt.NDArray[np.float32]]) -> None:
    CandidateSource._in_memory(entry, query[1], query[0], 10, STATUSES, None, None)


def _fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):.1f} ({min(ms):.1f} to {max(ms):.1f})"


def run(size: int, batch: int, reps: int, shuffle: bool) -> list[str]:
    notes = Notes()
    start = time.perf_counter()
    kept = CachedProject(generation=0, dim=DIM)
    kept.matrix = np.zeros((0, DIM), dtype=np.float32)
    held = notes.rows(size)
    if shuffle:  # a table's storage order is not its time order (imports, valid_from, compaction)
        random.Random(5).shuffle(held)
    for row in held:
        kept.put(row)
    shared = ("ids", "pos", "kinds", "statuses", "times", "written", "lexical", "matrix")
    old = Rebuilt(generation=0, dim=DIM, **{name: getattr(kept, name) for name in shared})
    old.n, old.old_counts = kept.n, {}
    embedder = HashEmbedder(DIM)
    texts = synthetic_queries(64)
    queries = [(t, embedder.embed([t])[0]) for t in texts]
    for entry in (kept, old):  # warm: every derived array held
        _search(entry, queries[0])
    built = time.perf_counter() - start
    print(f"{size}: built in {built:.0f} s", flush=True)

    first: dict[str, list[float]] = {"kept": [], "rebuilt": []}
    parts: dict[str, dict[str, list[float]]] = {
        name: {"timeline": [], "mask": [], "times": [], "write": []} for name in first
    }
    entries = {"kept": kept, "rebuilt": old}
    q = 1
    for rep in range(reps):
        names = ["kept", "rebuilt"] if rep % 2 == 0 else ["rebuilt", "kept"]
        for name in names:
            rows = notes.rows(batch)
            w = _timed(lambda rows=rows: [kept.put(r) for r in rows])  # type: ignore[misc]
            old.follow(kept)
            parts[name]["write"].append(w)
            query = queries[q % 64]
            first[name].append(_timed(lambda e=entries[name], x=query: _search(e, x)))
            q += 1
        for name in names:
            rows = notes.rows(batch)
            for r in rows:
                kept.put(r)
            old.follow(kept)
            entry = entries[name]
            parts[name]["timeline"].append(_timed(entry.timeline))
            parts[name]["mask"].append(_timed(lambda entry=entry: entry.mask(STATUSES, None)))
            parts[name]["times"].append(_timed(entry.times_array))
            _search(entry, queries[0])
        print(f"{size}: rep {rep + 1}/{reps}", flush=True)

    other: dict[str, list[float]] = {"status": [], "delete": [], "past": []}
    for rep in range(reps):
        _search(kept, queries[0])
        memory_id = kept.ids[rep * 7]
        kept.set_meta(memory_id, kept.kinds[rep * 7], "archived")
        other["status"].append(_timed(lambda: _search(kept, queries[1])))
        kept.remove(kept.ids[rep * 7 + 3])
        other["delete"].append(_timed(lambda: _search(kept, queries[2])))
        for r in notes.rows(batch, past=86400.0):
            kept.put(r)
        other["past"].append(_timed(lambda: _search(kept, queries[3])))
    builds = kept.timeline_builds

    lines = [
        f"### {size:,} rows (+{batch} per write, {reps} repetitions; "
        f"{'shuffled' if shuffle else 'in time order'}; set up in {built:.0f} s)",
        "",
        "| ms, median (range) | kept across writes | rebuilt after every write |",
        "|---|---:|---:|",
        f"| first search after a write of {batch} rows | {_fmt(first['kept'])} "
        f"| {_fmt(first['rebuilt'])} |",
        f"| `timeline()` after a write | {_fmt(parts['kept']['timeline'])} "
        f"| {_fmt(parts['rebuilt']['timeline'])} |",
        f"| `mask()` after a write | {_fmt(parts['kept']['mask'])} "
        f"| {_fmt(parts['rebuilt']['mask'])} |",
        f"| `times_array()` after a write | {_fmt(parts['kept']['times'])} "
        f"| {_fmt(parts['rebuilt']['times'])} |",
        "",
        f"The write itself ({batch} `put`s into the kept entry, the keyword index "
        f"included): {_fmt(parts['kept']['write'] + parts['rebuilt']['write'])} ms.",
        "",
        "Other writes, then a search (kept entry only):",
        "",
        "| ms, median (range) | first search |",
        "|---|---:|",
        f"| one status change, the row still live | {_fmt(other['status'])} |",
        f"| one delete (timeline built again) | {_fmt(other['delete'])} |",
        f"| {batch} rows with valid_from a day back (built again) | {_fmt(other['past'])} |",
        "",
        f"The kept entry built its timeline from every row {builds} times "
        f"(its first search, then once per delete and per batch in the past).",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--in-time-order",
        action="store_true",
        help="hold the rows in time order (by default they are shuffled: sorting them is then "
        "real work, as for a table read back from storage)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "timeline.md")
    args = parser.parse_args()
    command = "python benchmarks/bench_timeline.py " + shlex.join(sys.argv[1:])
    lines = header("Search state after a write: kept across writes vs rebuilt", command)
    lines += [f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", ""]
    for size in (int(s) for s in args.sizes.split(",")):
        lines += run(size, args.batch, args.reps, not args.in_time_order)
    lines += [f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
