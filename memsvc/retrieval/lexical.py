"""An in-memory BM25 index over a project's memories, kept current by every write.

Each memory's document has two fields: its own text (weight 1) and the text of its
predecessor in the episode (``NEIGHBOUR_WEIGHT``), combined the BM25F way (weighted term
frequencies and lengths, one saturation). The ranking's IDF counts documents within the
query's collection, the rows holding any of its terms (``query_collection``), so
unrelated content does not shift it. The neighbour field is applied at query time
from the own-text postings, so inserting or deleting a memory never rewrites another's
document. Scores are deterministic for a given index and query.

The index is held compactly (it is per memory the largest part of a project's search
state after the vector): each term gets an integer id, its postings are one flat
``array('I')`` of (row, term frequency) pairs, and each row keeps its term ids and
frequencies in one ``array('I')`` — about 0.5 KB per 25-word memory, where dicts of
dicts and a ``Counter`` per row took 3-5 KB (``benchmarks/results/scale.md``).
"""

from __future__ import annotations

import math
import threading
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, islice, repeat

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.analysis import analyze, analyze_batch, named_terms
from memsvc.retrieval.relevance import coverage
from memsvc.retrieval.temporal import date_phrases

__all__ = [
    "BM25_B",
    "BM25_K1",
    "BULK_ROWS",
    "FEEDBACK_TERMS",
    "FEEDBACK_WEIGHT",
    "NEIGHBOUR_WEIGHT",
    "QUERY_IDF_WEIGHTING",
    "LexicalIndex",
]

BM25_K1 = 1.2
BM25_B = 0.75
NEIGHBOUR_WEIGHT = 0.5
"""Weight of the previous memory's words in a memory's document (textbook defaults:
k1, b as Robertson's; the neighbour field at half weight)."""

QUERY_IDF_WEIGHTING = False
"""Weight each query term by its IDF over the query's best term's (the query side of the
vector-space ``ltc.ltc`` scheme: IDF on both sides, so a common word counts ~IDF^2 less
than a rare name). Tried for issue 14; off: no gain on the dev split."""
FEEDBACK_TERMS = 10
FEEDBACK_WEIGHT = 0.5
"""Pseudo-relevance feedback from the top episode (``feedback_terms``): how many of its
strongest new terms are added and the weight of the strongest (RM3's textbook 10 terms,
half weight; not searched)."""

BULK_ROWS = 8192
"""``put_many`` analyses and indexes this many rows at a time: a batch's tokens are held
as Python strings until its rows are indexed, so a million-row load in one batch would
hold tens of millions of them at once."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
_NO_TERMS: frozenset[int] = frozenset()
_QueryEvidence = tuple[list[int], list[float], list[bool], bool, float, float]


def query_collection(found: list[tuple[Floats, int]]) -> int:
    """The N of the ranking's IDF: how many rows hold at least one of the query's terms
    (``found``: each term's frequencies over the rows). Rows sharing no word with the query
    say nothing about how specific its words are, and counting them made every IDF grow
    with unrelated content (2,400 unrelated notes added to a 600-turn conversation moved
    turn@10 0.776 -> 0.747; with this N, 0.772)."""
    if not found:
        return 0
    hit = np.zeros(found[0][0].size, dtype=bool)
    for tf, _ in found:
        hit |= tf > 0
    return int(hit.sum())


_QUERY_COLLECTION = query_collection


class LexicalIndex:
    """Postings by row number (the row numbering of the project's dense matrix).

    ``_postings[term id]`` is ``[row, tf, row, tf, ...]`` in no particular order;
    ``_rows[row]`` is ``[term ids..., tfs...]`` (two halves), or None for a row that holds
    no text. A term whose postings empty keeps its id (an empty array), so ids are stable.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._postings: list[array[int]] = []
        self._rows: list[array[int] | None] = []
        self._lengths = np.zeros(0, dtype=np.float64)
        self._docs = 0
        self._version = 0
        self._norms: tuple[tuple[int, int, float, float, float], Ints, Floats] | None = None
        """(version, n, prev, norm): the length normalisation of ``scores`` for one
        ``prev`` array (a timeline's), kept until the index or the timeline changes."""
        self._asked: tuple[tuple[str, int], _QueryEvidence] | None = None
        """(query, version) and ``_query_evidence``'s answer for them."""
        self._scratch_lock = threading.Lock()
        self._scratch_bools = np.zeros(0, dtype=bool)
        self._scratch_floats = np.zeros(0, dtype=np.float64)

    @property
    def documents(self) -> int:
        """How many rows hold indexed text."""
        return self._docs

    def put(self, row: int, text: str) -> None:
        """Index ``text`` as row ``row`` (replacing what the row held)."""
        self.clear(row)
        self._version += 1
        counts = Counter(analyze(text))
        self._ensure(row + 1)
        if row >= len(self._rows):
            self._rows.extend([None] * (row + 1 - len(self._rows)))
        self._lengths[row] = float(sum(counts.values()))
        entry = array("I", (self._term_id(term) for term in counts))
        entry.extend(counts.values())
        self._rows[row] = entry
        self._docs += 1
        half = len(entry) // 2
        for tid, tf in zip(entry[:half], entry[half:], strict=True):
            self._postings[tid].extend((row, tf))

    def put_many(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        """``put(rows[i], texts[i])`` for each i, in order, into the same index (the same
        term ids, row entries, lengths and postings; the postings of a term some replaced
        row held may be in another order, which no score depends on), several times
        faster: see ``_put_batch``."""
        if len(rows) != len(texts):
            raise ValueError(f"{len(rows)} rows but {len(texts)} texts")
        start, seen = 0, set[int]()
        for at, row in enumerate(rows):
            if row in seen or at - start == BULK_ROWS:  # a row put twice: its first put first
                self._put_batch(rows[start:at], texts[start:at])
                start, seen = at, set[int]()
            seen.add(row)
        if start < len(rows):
            self._put_batch(rows[start:], texts[start:])

    def _put_batch(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        """Put distinct ``rows``: their texts analysed together (``analyze_batch``), each
        distinct token mapped to its term ids once, each row's term frequencies counted
        from those ids, and the postings appended per term rather than per (row, term)."""
        held = self._rows
        for row in rows:
            if row < len(held) and held[row] is not None:
                self.clear(row)
        self._version += 1
        done = analyze_batch(texts)
        ids = {token: tuple(map(self._term_id, terms)) for token, terms in done.terms.items()}
        top = max(rows) + 1
        self._ensure(top)
        if top > len(held):
            held.extend([None] * (top - len(held)))
        lengths = self._lengths
        of = ids.__getitem__
        tids, at_rows, tfs = array("I"), array("I"), array("I")
        at = iter(done.tokens)
        for row, count in zip(rows, done.counts, strict=True):
            terms = list(chain.from_iterable(map(of, islice(at, count))))
            counts = dict.fromkeys(terms, 1)  # most rows repeat no term: no Counter for them
            if len(counts) < len(terms):
                counts = Counter(terms)
            entry = array("I", counts)
            entry.extend(counts.values())
            held[row] = entry
            lengths[row] = float(len(terms))
            tids.extend(counts)
            at_rows.extend(repeat(row, len(counts)))
            tfs.extend(counts.values())
        self._docs += len(rows)
        self._append_postings(tids, at_rows, tfs)

    def _append_postings(self, tids: array[int], rows: array[int], tfs: array[int]) -> None:
        """Append each (row, tf) to its term's postings, in the given order within a term
        (the order ``put`` would append them in): one stable sort by term, then one
        ``frombytes`` per term."""
        by_term = np.frombuffer(tids, dtype=np.uint32)
        order = np.argsort(by_term, kind="stable")
        pairs = np.empty((order.size, 2), dtype=np.uint32)
        pairs[:, 0] = np.frombuffer(rows, dtype=np.uint32)[order]
        pairs[:, 1] = np.frombuffer(tfs, dtype=np.uint32)[order]
        sorted_terms = by_term[order]
        starts = np.flatnonzero(np.diff(sorted_terms, prepend=-1))
        ends = np.append(starts[1:], order.size)
        flat = pairs.data.cast("B")
        postings = self._postings
        for tid, start, end in zip(
            sorted_terms[starts].tolist(), (starts * 8).tolist(), (ends * 8).tolist(), strict=True
        ):
            postings[tid].frombytes(flat[start:end])

    def _term_id(self, term: str) -> int:
        tid = self._ids.get(term)
        if tid is None:
            tid = self._ids[term] = len(self._postings)
            self._postings.append(array("I"))
        return tid

    def _ensure(self, size: int) -> None:
        if size > self._lengths.size:
            grown = np.zeros(max(size, int(self._lengths.size * 1.5) + 64))
            grown[: self._lengths.size] = self._lengths
            self._lengths = grown

    def clear(self, row: int) -> None:
        """Remove row ``row``'s terms from the index (no-op when it holds none)."""
        entry = self._rows[row] if 0 <= row < len(self._rows) else None
        if entry is None:
            return
        self._version += 1
        for tid in entry[: len(entry) // 2]:
            _drop_row(self._postings[tid], row)
        self._rows[row] = None
        self._docs -= 1
        self._lengths[row] = 0.0

    def _posting(self, term: str) -> array[int] | None:
        tid = self._ids.get(term)
        return self._postings[tid] if tid is not None else None

    def rows_holding(self, terms: list[str]) -> Ints:
        """The rows (sorted) whose own text holds every one of the analysed ``terms``."""
        rows: Ints | None = None
        for term in terms:
            posting = self._posting(term)
            if not posting:
                return np.zeros(0, dtype=np.int64)
            these = np.frombuffer(posting, dtype=np.uint32)[0::2].astype(np.int64)
            rows = these if rows is None else np.intersect1d(rows, these, assume_unique=True)
        return np.sort(rows) if rows is not None else np.zeros(0, dtype=np.int64)

    def _term_freqs(self, term: str, n: int) -> tuple[Floats, int]:
        posting = self._posting(term)
        tf = np.zeros(n, dtype=np.float64)
        if not posting:
            return tf, 0
        pairs = np.frombuffer(posting, dtype=np.uint32).reshape(-1, 2)
        tf[pairs[:, 0]] = pairs[:, 1]
        return tf, len(posting) // 2

    def scores(
        self, query: str, n: int, prev: Ints, extra: dict[str, float] | None = None
    ) -> Floats:
        """BM25F score of each of the first ``n`` rows; ``prev[i]`` is row i's predecessor
        in its episode or -1. ``extra``: more terms with their weights (the query's own
        weigh 1), from ``feedback_terms``."""
        out = np.zeros(n, dtype=np.float64)
        if n == 0 or self.documents == 0:
            return out
        norm = self._norm(n, prev)
        has_prev = prev[:n] >= 0
        prev_rows = np.where(has_prev, prev[:n], 0)
        terms = dict.fromkeys(analyze(query), 1.0)
        terms.update((t, w) for t, w in (extra or {}).items() if t not in terms)
        found = [(*self._term_freqs(term, n), w) for term, w in terms.items()]
        found = [(tf, df, w) for tf, df, w in found if df > 0]
        docs = query_collection([(tf, df) for tf, df, _ in found])
        idfs = [math.log(1.0 + (docs - df + 0.5) / (df + 0.5)) for _, df, _ in found]
        if QUERY_IDF_WEIGHTING and idfs:
            top = max(idfs)
            found = [(tf, df, w * idf / top) for (tf, df, w), idf in zip(found, idfs, strict=True)]
        for (tf, _, w), idf in zip(found, idfs, strict=True):
            tf = tf + NEIGHBOUR_WEIGHT * np.where(has_prev, tf[prev_rows], 0.0)
            out += w * idf * tf * (BM25_K1 + 1.0) / (tf + norm)
        return out

    def _norm(self, n: int, prev: Ints) -> Floats:
        """``scores``' per-row BM25 length normalisation for the first ``n`` rows (the
        average length is over every row: an O(n) pass, done once per index state)."""
        key = (self._version, n, NEIGHBOUR_WEIGHT, BM25_K1, BM25_B)
        held = self._norms
        if held is not None and held[0] == key and held[1] is prev:
            return held[2]
        self._ensure(n)
        has_prev = prev[:n] >= 0
        prev_rows = np.where(has_prev, prev[:n], 0)
        own_len = self._lengths[:n]
        length = own_len + NEIGHBOUR_WEIGHT * np.where(has_prev, own_len[prev_rows], 0.0)
        live_lengths = length[own_len > 0]
        avg = float(live_lengths.mean()) if live_lengths.size else 1.0
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / max(avg, 1e-9))
        self._norms = (key, prev, norm)
        return norm

    def sparse_scores(self, query: str, n: int, prev: Ints, nxt: Ints) -> tuple[Ints, Floats]:
        """The rows of the first ``n`` whose ``scores`` are above 0 (sorted) and those
        scores, bit for bit the same, in time proportional to the query terms' postings
        rather than to ``n``: a row scores only if it or its predecessor holds a query
        term. ``nxt`` is the inverse of ``prev`` (each row's successor or -1)."""
        none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        if n == 0 or self.documents == 0:
            return none
        terms = dict.fromkeys(analyze(query), 1.0)
        postings = []
        for term, w in terms.items():
            posting = self._posting(term)
            if posting:
                pairs = np.frombuffer(posting, dtype=np.uint32).reshape(-1, 2)
                postings.append((pairs[:, 0].astype(np.int64), pairs[:, 1], w))
        if not postings:
            return none
        with self._scratch(n + 1) as (hit, scratch):
            for held_rows, _, _ in postings:
                hit[held_rows] = True
            # the N of the IDF (``query_collection``): the rows holding a term, counted
            # before their successors (which score through the neighbour field alone) are
            # added; the successors from the postings, not a pass over every row
            holding = int(np.count_nonzero(hit[:n]))
            after = np.concatenate([nxt[held_rows] for held_rows, _, _ in postings])
            hit[after[after >= 0]] = True
            rows = np.flatnonzero(hit[:n])
            hit[rows] = False  # the scratch is handed back cleared
            norm = self._norm(n, prev)[rows]
            before = prev[:n][rows]
            before = np.where(before >= 0, before, n)  # row n of the scratch holds 0.0
            own: list[tuple[Floats, Floats]] = []  # each term's tf at ``rows``, before them
            for held_rows, tfs, _ in postings:
                scratch[held_rows] = tfs
                own.append((scratch[rows], scratch[before]))
                scratch[held_rows] = 0.0
        dfs = [held_rows.size for held_rows, _, _ in postings]
        docs = holding
        if query_collection is not _QUERY_COLLECTION:  # a benchmark's ablation replaced it
            docs = query_collection([(tf, df) for (tf, _), df in zip(own, dfs, strict=True)])
        idfs = [math.log(1.0 + (docs - df + 0.5) / (df + 0.5)) for df in dfs]
        weights = [w for _, _, w in postings]
        if QUERY_IDF_WEIGHTING:
            top = max(idfs)
            weights = [w * idf / top for w, idf in zip(weights, idfs, strict=True)]
        out = np.zeros(rows.size, dtype=np.float64)
        for (tf_own, tf_before), w, idf in zip(own, weights, idfs, strict=True):
            tf = tf_own + NEIGHBOUR_WEIGHT * tf_before
            out += w * idf * tf * (BM25_K1 + 1.0) / (tf + norm)
        return rows, out

    @contextmanager
    def _scratch(self, size: int) -> Iterator[tuple[npt.NDArray[np.bool_], Floats]]:
        """A cleared bool array and a zero float array of at least ``size`` entries, to be
        handed back cleared: the index's own (no O(rows) allocation and clearing per
        query) unless another thread holds them, then new ones."""
        if not self._scratch_lock.acquire(blocking=False):
            yield np.zeros(size, dtype=bool), np.zeros(size, dtype=np.float64)
            return
        try:
            if self._scratch_floats.size < size:
                room = max(size, int(self._scratch_floats.size * 1.5) + 64)
                self._scratch_bools = np.zeros(room, dtype=bool)
                self._scratch_floats = np.zeros(room, dtype=np.float64)
            yield self._scratch_bools, self._scratch_floats
        except BaseException:  # left half-written: cleared for the next query
            self._scratch_bools[:] = False
            self._scratch_floats[:] = 0.0
            raise
        finally:
            self._scratch_lock.release()

    def feedback_terms(self, query: str, rows: Ints) -> dict[str, float]:
        """The ``FEEDBACK_TERMS`` strongest terms of ``rows`` (one episode) that the query
        lacks, by summed tf x IDF, weighted ``FEEDBACK_WEIGHT`` x theirs / the best's."""
        asked = {self._ids[t] for t in analyze(query) if t in self._ids}
        weight: Counter[int] = Counter()
        for row in rows.tolist():
            entry = self._rows[row] if row < len(self._rows) else None
            if entry is None:
                continue
            half = len(entry) // 2
            for tid, tf in zip(entry[:half], entry[half:], strict=True):
                if tid not in asked:
                    weight[tid] += tf * self._idf_of(tid)
        best = weight.most_common(FEEDBACK_TERMS)
        if not best or best[0][1] <= 0:
            return {}
        names = self._names()
        top = best[0][1]
        return {names[tid]: FEEDBACK_WEIGHT * w / top for tid, w in best if w > 0}

    def _idf_of(self, tid: int) -> float:
        df = len(self._postings[tid]) // 2
        return math.log(1.0 + (self.documents - df + 0.5) / (df + 0.5))

    def _names(self) -> list[str]:
        names = [""] * len(self._postings)
        for term, tid in self._ids.items():
            names[tid] = term
        return names

    def idf(self, term: str) -> float:
        """BM25's IDF of ``term`` in this index; a term no memory holds gets the highest."""
        docs = self.documents
        posting = self._posting(term)
        df = len(posting) // 2 if posting is not None else 0
        return math.log(1.0 + (docs - df + 0.5) / (df + 0.5))

    def _row_terms(self, row: int) -> frozenset[int]:
        entry = self._rows[row] if 0 <= row < len(self._rows) else None
        return frozenset(entry[: len(entry) // 2]) if entry is not None else _NO_TERMS

    def coverage(self, query: str, rows: list[int], prev: list[int]) -> list[float]:
        """For each of ``rows`` (``prev``: its predecessor row or -1), the IDF-weighted
        share of the query's terms it holds, its predecessor's at ``NEIGHBOUR_WEIGHT``."""
        return self.evidence(query, rows, prev)[0]

    def evidence(
        self, query: str, rows: list[int], prev: list[int]
    ) -> tuple[list[float], list[float], float, float]:
        """The word evidence of relevance (``relevance``'s module docstring): each row's
        ``coverage`` and ``coverage_undated`` (the words of an absolute date the query
        names count only where the row or its predecessor holds them), the query's
        ``unknown`` share: of its terms outside such dates, the IDF-weighted share no row
        of the index holds, and its ``unnamed`` share: of the terms of the names it holds
        (``analysis.named_terms``, dates left out), the share no row holds. O(query terms)
        per row."""
        tids, weights, optional, dated, unknown, unnamed = self._query_evidence(query)
        covers, covers_undated = [], []
        for row, before in zip(rows, prev, strict=True):
            own, nb = self._row_terms(row), self._row_terms(before)
            held, lent = [t in own for t in tids], [t in nb for t in tids]
            covers.append(coverage(weights, held, lent, NEIGHBOUR_WEIGHT))
            covers_undated.append(
                coverage(weights, held, lent, NEIGHBOUR_WEIGHT, optional) if dated else covers[-1]
            )
        return covers, covers_undated, unknown, unnamed

    def _query_evidence(self, query: str) -> _QueryEvidence:
        """``evidence``'s part of the query alone: its terms' ids, IDFs and whether each is
        a word of a date it names, whether it names one, its ``unknown`` and ``unnamed``
        shares; kept for the last query until the index changes (a search asks for its
        hits' evidence a page at a time)."""
        key = (query, self._version)
        held = self._asked
        if held is not None and held[0] == key:
            return held[1]
        terms = list(dict.fromkeys(analyze(query)))
        dated = set(analyze(" ".join(date_phrases(query)))) if terms else set()
        optional = [t in dated for t in terms]
        weights = [self.idf(t) for t in terms]
        tids = [self._ids.get(t, -1) for t in terms]
        unseen = [self._unseen(t) for t in terms]
        undated = sum(w for w, d in zip(weights, optional, strict=True) if not d)
        missing = sum(w for w, d, u in zip(weights, optional, unseen, strict=True) if u and not d)
        unknown = missing / undated if undated > 0.0 else 0.0
        names = named_terms(query) - dated if terms else frozenset()
        unnamed = sum(map(self._unseen, names)) / len(names) if names else 0.0
        found: _QueryEvidence = (tids, weights, optional, bool(dated), unknown, unnamed)
        self._asked = (key, found)
        return found

    def _unseen(self, term: str) -> bool:
        """Whether no row holds ``term``."""
        tid = self._ids.get(term, -1)
        return tid < 0 or not self._postings[tid]


def _drop_row(posting: array[int], row: int) -> None:
    """Remove ``row``'s (row, tf) pair from a posting, moving the last pair into its place."""
    at = posting.index(row)
    while at % 2:  # matched a term frequency, not a row: look further
        at = posting.index(row, at + 1)
    posting[at], posting[at + 1] = posting[-2], posting[-1]
    del posting[-2:]
