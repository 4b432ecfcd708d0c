"""A coarse quantizer (an in-memory IVF) over a project's held vectors: the dense
candidates of searches and the write-time near-duplicate and conflict checks of projects
above the exact-scan size.

Every held row is filed under its nearest centroid (a *list*). A query scores the
centroids, then exactly (from the held matrix) only the rows of its ``PROBES`` best
lists, and returns its best rows. The index follows the rows incrementally: rows added
since the last query are filed first (work proportional to what was added), and a list
that has grown to ``2 * LIST_ROWS`` rows is split by k-means over its own rows, so
lists stay small as the project grows and nothing is ever re-trained over the whole
project. A query therefore costs a product with the centroids (about one per
``LIST_ROWS`` rows) plus ``PROBES`` lists of at most ``2 * LIST_ROWS`` rows: at a million
rows less than a tenth of the exact scan's product at 10k rows.

Approximate: a near-duplicate is almost always filed in one of the query's best lists
(``PROBES``), and these checks are advisory flags for the review queue anyway. A search
(``best_masked``) probes lists, best centroid first, until it has scanned at least
``SEARCH_MIN_SCAN`` rows (or ``SEARCH_SCAN_SHARE`` of the project, whichever is more) and
holds as many rows of the asked statuses and kinds as it needs. A row whose vector
changed in place (an update) stays in its old list until the index is rebuilt, and is
scored exactly by every search meanwhile (``moved``).

Each list keeps its rows' vectors beside their positions, quantized to one byte per
dimension with one scale per row, so a search scans its lists as a few
contiguous blocks: gathering 8,192 scattered rows of the held float matrix took ~3 ms of
a ~4 ms scan on this machine, the blocks' products ~0.8 ms. The quantized cosines only
choose the ``RESCORE`` x m best of the scanned rows; those are scored exactly from the
held matrix (quantization moves a MiniLM cosine by ~0.001, far less than the gap between
a scan's m-th and its ``RESCORE`` x m-th cosine).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "LIST_ROWS",
    "PROBES",
    "RESCORE",
    "SEARCH_MIN_SCAN",
    "SEARCH_SCAN_SHARE",
    "CoarseIndex",
]

Vector = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]
LIST_ROWS = 128
"""Rows per list when the index is trained; a list is split when it has twice this."""
PROBES = 6
"""Lists scored per query. A row's own list is not always among its best centroids (lists
split after it was filed bring nearer ones): on 3,000 hashed notes 4 probes found 99.8% of
the rows themselves, 6 probes 99.9%, 8 all."""
TRAIN_SAMPLE = 32
"""Training sample: this many rows per list (k-means cost is sample x lists)."""
TRAIN_MAX_LISTS = 256
"""Lists trained at most: a bigger project is trained at this many, then its lists are
split down to size as its rows are filed, so a (re)build costs about one product of the
rows with 256 centroids plus the splits (measured 15 s at 100k rows with 781 lists
trained, load ~12)."""
SPLIT_PARTS = 16
"""A list is split into at most this many parts at once (k-means cost is rows x parts);
a part still too big is split again."""
SEARCH_MIN_SCAN = 8192
"""A search scans the rows of at least this many rows' worth of its best lists."""
SEARCH_SCAN_SHARE = 0.02
"""... and at least this share of the project's rows (chosen a priori; recall against the
exact scan is measured in ``benchmarks/bench_coarse_search.py``)."""
ITERATIONS = 6
FILE_CHUNK = 8192
"""Rows filed per matrix product with the centroids (bounds the temporary)."""
RESCORE = 2
"""A search scores exactly this many times (plus ``RESCORE_SLACK``) the rows it was asked
for, chosen by their quantized cosines."""
RESCORE_SLACK = 64


class CoarseIndex:
    """Lists of row positions under centroids, grown by splitting. Not thread-safe on its
    own: hold ``lock`` (and the rows' owner's lock, so the matrix does not move)."""

    def __init__(self, dim: int, seed: int = 0) -> None:
        self.dim = dim
        self.lock = threading.Lock()
        self._centroids = np.zeros((0, dim), dtype=np.float32)
        self._lists: list[Rows] = []
        self._codes: list[npt.NDArray[np.int8]] = []
        """Per list, its rows' vectors quantized (``_quantized``), in the order of its rows."""
        self._scales: list[npt.NDArray[np.float32]] = []
        self._sizes: list[int] = []
        self._split_at: list[int] = []
        self.covered = 0
        """Rows ``[0, covered)`` of the matrix are filed."""
        self._moved: set[int] = set()
        self._rng = np.random.default_rng(seed)

    def moved(self, row: int) -> None:
        """Row ``row``'s vector changed in place: searches score it exactly from now on."""
        if row < self.covered:
            self._moved.add(row)

    @property
    def moved_rows(self) -> int:
        """How many filed rows have moved since they were filed (a rebuild files them anew)."""
        return len(self._moved)

    def nbytes(self) -> int:
        """The memory the lists, their quantized vectors and the centroids hold."""
        held = sum(int(a.nbytes) for a in self._lists) + sum(int(a.nbytes) for a in self._codes)
        return int(self._centroids.nbytes) + held + sum(int(a.nbytes) for a in self._scales)

    @property
    def centroids(self) -> Vector:
        """One unit vector per list."""
        return self._centroids[: len(self._lists)]

    @property
    def lists(self) -> int:
        """How many lists there are."""
        return len(self._lists)

    def members(self, at: int) -> Rows:
        """The row positions filed under list ``at``."""
        return self._lists[at][: self._sizes[at]]

    def train(self, matrix: Vector) -> None:
        """Centroids by k-means over a sample of ``matrix``'s rows, then file every row."""
        n = matrix.shape[0]
        count = max(1, min(TRAIN_MAX_LISTS, n // LIST_ROWS))
        take = min(n, count * TRAIN_SAMPLE)
        sample = matrix[np.sort(self._rng.choice(n, size=take, replace=False))] if n else matrix
        centroids = sample[self._rng.choice(len(sample), size=count, replace=False)].copy()
        for _ in range(ITERATIONS):
            centroids = _means(sample, np.argmax(sample @ centroids.T, axis=1), centroids)
        self._centroids = centroids
        self._lists = [np.zeros(0, dtype=np.int64) for _ in range(count)]
        self._codes = [np.zeros((0, self.dim), dtype=np.int8) for _ in range(count)]
        self._scales = [np.zeros(0, dtype=np.float32) for _ in range(count)]
        self._sizes = [0] * count
        self._split_at = [2 * LIST_ROWS] * count
        self.covered = 0
        self._moved = set()
        self.file(matrix)

    def file(self, matrix: Vector) -> None:
        """File the rows of ``matrix`` past ``covered`` and split the lists they overfill."""
        n = matrix.shape[0]
        if n <= self.covered or not self._lists:
            return
        touched: set[int] = set()
        for start in range(self.covered, n, FILE_CHUNK):
            stop = min(n, start + FILE_CHUNK)
            best = np.argmax(matrix[start:stop] @ self.centroids.T, axis=1)
            order = np.argsort(best, kind="stable")
            lists, first = np.unique(best[order], return_index=True)
            bounds = [*first[1:], len(order)]
            codes, scales = _quantized(matrix[start:stop])
            for at, lo, hi in zip(lists.tolist(), first.tolist(), bounds, strict=True):
                part = order[lo:hi]
                self._append(at, part.astype(np.int64) + start, codes[part], scales[part])
                touched.add(at)
        self.covered = n
        due = sorted(touched)
        while due:  # a part may still be too big (k-means parts are uneven): again
            at = due.pop()
            if self._sizes[at] >= self._split_at[at]:
                due += self._split(at, matrix)

    def _append(
        self, at: int, rows: Rows, codes: npt.NDArray[np.int8], scales: npt.NDArray[np.float32]
    ) -> None:
        size, held = self._sizes[at], self._lists[at]
        if size + len(rows) > len(held):
            room = max(size + len(rows), 2 * len(held), 16)
            self._lists[at] = held = _grown(held, size, room)
            self._codes[at] = _grown(self._codes[at], size, room)
            self._scales[at] = _grown(self._scales[at], size, room)
        end = size + len(rows)
        held[size:end] = rows
        self._codes[at][size:end] = codes
        self._scales[at][size:end] = scales
        self._sizes[at] = end

    def _split(self, at: int, matrix: Vector) -> list[int]:
        """Split list ``at`` by k-means over its own rows into parts of about ``LIST_ROWS``
        (seeded from random rows: a 2-means seeded from the farthest row cut outliers off
        one at a time); returns the lists made or changed, none when its rows will not
        split (near-identical: it waits until it has doubled again)."""
        rows = self.members(at).copy()
        size = self._sizes[at]
        codes, scales = self._codes[at][:size], self._scales[at][:size]
        vecs = matrix[rows]
        parts = min(SPLIT_PARTS, max(2, -(-len(rows) // LIST_ROWS)))  # big: again after
        seeds = vecs[self._rng.choice(len(rows), size=parts, replace=False)].copy()
        for _ in range(ITERATIONS):
            seeds = _means(vecs, np.argmax(vecs @ seeds.T, axis=1), seeds)
        side = np.argmax(vecs @ seeds.T, axis=1)
        groups = [g for g in range(parts) if np.any(side == g)]
        if len(groups) < 2:
            self._split_at[at] *= 2
            return []
        made = [at]
        for n, g in enumerate(groups):
            part = side == g
            members = rows[part]
            if n == 0:
                self._centroids[at] = seeds[g]
                self._lists[at], self._sizes[at] = members, len(members)
                self._codes[at], self._scales[at] = codes[part], scales[part]
                self._split_at[at] = 2 * LIST_ROWS
                continue
            made.append(self._new_list(seeds[g], members, codes[part], scales[part]))
        return made

    def _new_list(
        self,
        centroid: Vector,
        members: Rows,
        codes: npt.NDArray[np.int8],
        scales: npt.NDArray[np.float32],
    ) -> int:
        count = len(self._lists)
        if count == len(self._centroids):  # room for more lists, grown geometrically
            grown = np.zeros((2 * count + 16, self.dim), dtype=np.float32)
            grown[:count] = self._centroids[:count]
            self._centroids = grown
        self._centroids[count] = centroid
        self._lists.append(members)
        self._codes.append(codes)
        self._scales.append(scales)
        self._sizes.append(len(members))
        self._split_at.append(2 * LIST_ROWS)
        return count

    def search(self, matrix: Vector, queries: Vector, k: int) -> list[tuple[Rows, Vector]]:
        """For each query, up to ``k`` (row positions, cosines) among the rows of its
        ``PROBES`` best lists, best first (``matrix`` must be filed: call ``file``)."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if not self._lists or len(queries) == 0:
            return [empty] * len(queries)
        probes = min(PROBES, len(self._lists))
        scores = queries @ self.centroids.T
        best = np.argpartition(-scores, probes - 1, axis=1)[:, :probes]
        flat = best.ravel()
        asking = np.repeat(np.arange(len(queries)), probes)
        order = np.argsort(flat, kind="stable")
        lists, first = np.unique(flat[order], return_index=True)
        bounds = [*first[1:], len(order)]
        found: list[list[tuple[Rows, Vector]]] = [[] for _ in range(len(queries))]
        for at, lo, hi in zip(lists.tolist(), first.tolist(), bounds, strict=True):
            rows = self.members(at)
            if not len(rows):
                continue
            who = asking[order[lo:hi]]
            sims = queries[who] @ matrix[rows].T
            for q, row_sims in zip(who.tolist(), sims, strict=True):
                found[q].append((rows, row_sims))
        return [_top(parts, k) if parts else empty for parts in found]

    def best_masked(
        self, matrix: Vector, query: Vector, m: int, mask: npt.NDArray[np.bool_]
    ) -> Rows:
        """Up to ``m`` rows of ``mask`` of the highest cosine to ``query`` (any order):
        from the best lists, probed until at least ``SEARCH_MIN_SCAN`` rows (and
        ``SEARCH_SCAN_SHARE`` of them) are scanned and ``m`` rows of ``mask`` are among
        them, plus the moved rows (``matrix`` must be filed: call ``file``). The scanned
        rows are ranked by their quantized cosines, the best ``RESCORE`` x m of them (and
        the moved rows) by their exact ones."""
        n = self.covered
        if not self._lists or n == 0:
            return np.zeros(0, dtype=np.int64)
        parts, approx = self._scanned(
            query, max(SEARCH_MIN_SCAN, int(SEARCH_SCAN_SHARE * n)), m, mask
        )
        moved = np.zeros(0, dtype=np.int64)
        if self._moved:  # their codes (filed in an old list, perhaps) are stale: exact
            moved = np.fromiter(self._moved, dtype=np.int64, count=len(self._moved))
            moved = moved[mask[moved]]
        if not parts:
            return moved if moved.size <= m else _best(matrix, query, moved, m)
        rows, sims = np.concatenate(parts), np.concatenate(approx)
        shortlist = RESCORE * m + RESCORE_SLACK
        if rows.size > shortlist:
            rows = rows[np.argpartition(-sims, shortlist - 1)[:shortlist]]
        if moved.size:
            rows = np.unique(np.concatenate((rows, moved)))
        return rows if rows.size <= m else _best(matrix, query, rows, m)

    def _scanned(
        self, query: Vector, scan: int, m: int, mask: npt.NDArray[np.bool_]
    ) -> tuple[list[Rows], list[Vector]]:
        """The masked rows of the best lists and their quantized cosines, per list: lists
        taken best centroid first until ``scan`` rows are reached, twice as many again
        while fewer than ``m`` of them are masked."""
        order = np.argsort(-(self.centroids @ query), kind="stable")
        reach = np.cumsum(np.array(self._sizes, dtype=np.int64)[order])
        taken, parts, approx, held = 0, [], [], 0
        sizes, lists, all_codes, all_scales = self._sizes, self._lists, self._codes, self._scales
        while taken < order.size:
            stop = max(min(order.size, int(np.searchsorted(reach, scan)) + 1), taken + 1)
            # per list only its slices and its product; the mask and the scales are applied
            # once to the concatenation (per list they were most of a scan's Python time)
            these = [at for at in order[taken:stop].tolist() if sizes[at]]
            if these:
                rows = np.concatenate([lists[at][: sizes[at]] for at in these])
                sims = np.concatenate(
                    [_decoded_dot(all_codes[at][: sizes[at]], query) for at in these]
                )
                sims *= np.concatenate([all_scales[at][: sizes[at]] for at in these])
                keep = mask[rows]
                if not keep.all():
                    rows, sims = rows[keep], sims[keep]
                if rows.size:
                    parts.append(rows)
                    approx.append(sims)
                    held += rows.size
            taken = stop
            if held >= m:
                break
            scan *= 2
        return parts, approx


DECODE_ROWS = 512
"""Codes are widened to float32 this many rows at a time before their product with the
query: the widened block stays in the CPU cache (a whole list's would be 12 MB at 8,192
rows), which halves the scan's cost (0.6 against 1.1 ms for 8,192 rows, measured)."""


def _decoded_dot(codes: npt.NDArray[np.int8], query: Vector) -> Vector:
    """``codes.astype(np.float32) @ query``, widened in blocks of ``DECODE_ROWS`` rows."""
    if len(codes) <= DECODE_ROWS:
        return codes.astype(np.float32) @ query
    out = np.empty(len(codes), dtype=np.float32)
    block = np.empty((DECODE_ROWS, codes.shape[1]), dtype=np.float32)
    for start in range(0, len(codes), DECODE_ROWS):
        chunk = codes[start : start + DECODE_ROWS]
        widened = block[: len(chunk)]
        widened[...] = chunk
        out[start : start + len(chunk)] = widened @ query
    return out


def _best(matrix: Vector, query: Vector, rows: Rows, m: int) -> Rows:
    """The ``m`` of ``rows`` of the highest exact cosine (any order)."""
    sims = matrix[rows] @ query
    return rows[np.argpartition(-sims, m - 1)[:m]]


def _quantized(vecs: Vector) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Each row as int8 codes and a scale (its largest absolute value / 127): the row is
    about ``codes * scale``."""
    scales = np.abs(vecs).max(axis=1) / 127.0 if len(vecs) else np.zeros(0, dtype=np.float32)
    safe = np.where(scales > 0, scales, 1.0)
    codes = np.rint(vecs / safe[:, None]).astype(np.int8)
    return codes, scales.astype(np.float32)


def _grown(held: npt.NDArray[Any], size: int, room: int) -> npt.NDArray[Any]:
    """``held``'s first ``size`` entries in an array of ``room`` (same trailing shape)."""
    grown = np.zeros((room, *held.shape[1:]), dtype=held.dtype)
    grown[:size] = held[:size]
    return grown


def _means(vecs: Vector, labels: npt.NDArray[np.intp], previous: Vector) -> Vector:
    """Each label's normalised mean of ``vecs`` (a label without rows keeps its centroid)."""
    onehot = np.zeros((len(previous), len(vecs)), dtype=np.float32)
    onehot[labels, np.arange(len(vecs))] = 1.0
    sums = onehot @ vecs  # a product: np.add.at / reduceat over rows were 5-10x slower
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.where(norms > 0, sums / np.maximum(norms, 1e-12), previous).astype(np.float32)


def _top(parts: list[tuple[Rows, Vector]], k: int) -> tuple[Rows, Vector]:
    rows = np.concatenate([r for r, _ in parts])
    sims = np.concatenate([s for _, s in parts])
    if len(rows) > k:
        keep = np.argpartition(-sims, k - 1)[:k]
        rows, sims = rows[keep], sims[keep]
    order = np.lexsort((rows, -sims))  # ties: the earlier row, as the exact scan's argmax
    return rows[order], sims[order].astype(np.float32)
