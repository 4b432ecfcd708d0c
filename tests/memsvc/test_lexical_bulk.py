"""The bulk path of the keyword index (``analyze_many``, ``LexicalIndex.put_many``, used by
``ProjectCache._load``) builds exactly what analysing and putting the rows one by one
builds: the same terms, term ids, row entries, lengths and postings, and bit for bit the
same scores."""

from __future__ import annotations

import itertools
import random
import threading
from array import array
from pathlib import Path

import numpy as np
import pytest

from memsvc.retrieval import lexical
from memsvc.retrieval.analysis import analyze, analyze_many
from memsvc.retrieval.cache import ProjectCache
from memsvc.retrieval.lexical import LexicalIndex
from memsvc.store.index import IndexRow, LanceIndex

WORDS = (  # noqa: SIM905 - one readable string
    "redis postgres cache caching invoice invoices retry retried token rotate shard the a of "
    "to and running runs RUNNING Café NAÏVE naïve 2024 v1.2 x"
).split()
PIECES = [
    *WORDS,
    "user_id",
    "__init__",
    "HTTP_TIMEOUT",
    "_a_",
    "__",
    "snake_case_name_",
    "the_and_of",
    "東京都",
    "設定",
    "日本語テキスト",
    "한국어",
    "ｶﾀｶﾅ",
    "👍🏽",
    "👍",
    "👨‍👩‍👧",
    "🇯🇵",
    "🇯",
    "❤️",
    "❤︎",
    "#️⃣",
    "➀➁",
    "a➀",
    "\u212a",  # the Kelvin sign, ASCII k once lower-cased
    "\u212aelvin",
    "İstanbul",
    "ΣΊΣΥΦΟΣ",
    "straße",
    "ﬁle",
    "x\u0301y",
    "١٢٣",
    "e" * 45,
    "supercalifragilisticexpialidocious_" * 2,
    "café_au_lait",
    "",
]
SEPARATORS = [" ", "  ", ", ", ".", "-", "\n", "\t", "/", "(", ")", "'", '"', "\x00", "\x1f", "…"]


def _text(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return ""
    words = [rng.choice(PIECES) for _ in range(rng.randint(0, 30))]
    if rng.random() < 0.7:
        words.append(f"note{rng.randint(0, 80)}")
    if rng.random() < 0.3:
        words.append("".join(chr(rng.randrange(32, 127)) for _ in range(rng.randint(1, 20))))
    out = ""
    for word in words:
        out += word + rng.choice(SEPARATORS)
    return out


def test_analyze_many_gives_analyzes_terms_for_every_kind_of_text() -> None:
    rng = random.Random(1)
    texts = [_text(rng) for _ in range(3000)]
    texts += ["", " ", "the of and", "\u212a", "ÀÉÎ", "🇯🇵🇯🇵🇯", "東京 東京", "a_b_a_b"]
    assert analyze_many(texts) == [analyze(t) for t in texts]


def test_analyze_many_splits_ascii_exactly_as_the_regex_at_every_character() -> None:
    texts = [f"Word{chr(c)}Other_part{chr(c)}{chr(c)}x9" for c in range(128)]
    texts += [chr(c) * 3 for c in range(128)]
    texts += ["".join(chr(c) for c in range(128))]
    assert analyze_many(texts) == [analyze(t) for t in texts]


def _one_by_one(
    rows: list[int], texts: list[str], index: LexicalIndex | None = None
) -> LexicalIndex:
    index = index if index is not None else LexicalIndex()
    for row, text in zip(rows, texts, strict=True):
        index.put(row, text)
    return index


def _pairs(posting: array[int]) -> list[tuple[int, int]]:
    return sorted(zip(posting[::2], posting[1::2], strict=True))


def _assert_same_structure(bulk: LexicalIndex, single: LexicalIndex, posting_order: bool) -> None:
    assert list(bulk._ids.items()) == list(single._ids.items())  # same ids, in the same order
    assert bulk._rows == single._rows
    assert bulk.documents == single.documents
    size = len(single._rows)
    assert len(bulk._rows) == size
    assert np.array_equal(bulk._lengths[:size], single._lengths[:size])
    assert not bulk._lengths[size:].any()
    if posting_order:
        assert bulk._postings == single._postings
    else:
        assert [_pairs(p) for p in bulk._postings] == [_pairs(p) for p in single._postings]


def _assert_same_scores(bulk: LexicalIndex, single: LexicalIndex, rng: random.Random) -> None:
    n = len(single._rows)
    prev = np.full(n, -1, dtype=np.int64)  # episodes: random chains of rows
    nxt = np.full(n, -1, dtype=np.int64)
    order = rng.sample(range(n), n)
    for before, row in itertools.pairwise(order):
        if rng.random() < 0.8:
            prev[row], nxt[before] = before, row
    for _ in range(80):
        query = _text(rng) or "redis"
        for links in (prev, np.full(n, -1, dtype=np.int64)):
            a, b = bulk.scores(query, n, links), single.scores(query, n, links)
            assert a.tobytes() == b.tobytes()
        rows_a, scores_a = bulk.sparse_scores(query, n, prev, nxt)
        rows_b, scores_b = single.sparse_scores(query, n, prev, nxt)
        assert np.array_equal(rows_a, rows_b)
        assert scores_a.tobytes() == scores_b.tobytes()
        some = np.array(rng.sample(range(n), min(n, 8)), dtype=np.int64)
        assert bulk.feedback_terms(query, some) == single.feedback_terms(query, some)
        back = [int(prev[r]) for r in some]
        assert bulk.coverage(query, some.tolist(), back) == single.coverage(
            query, some.tolist(), back
        )


def test_put_many_into_an_empty_index_builds_the_same_index_as_put() -> None:
    rng = random.Random(2)
    texts = [_text(rng) for _ in range(1500)]
    rows = list(range(len(texts)))
    bulk = LexicalIndex()
    bulk.put_many(rows, texts)
    single = _one_by_one(rows, texts)
    _assert_same_structure(bulk, single, posting_order=True)
    _assert_same_scores(bulk, single, rng)


def test_put_many_across_batches_and_in_any_row_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "BULK_ROWS", 37)
    rng = random.Random(3)
    rows = rng.sample(range(900), 700)  # gaps, any order
    texts = [_text(rng) for _ in rows]
    bulk = LexicalIndex()
    bulk.put_many(rows, texts)
    single = _one_by_one(rows, texts)
    _assert_same_structure(bulk, single, posting_order=True)
    _assert_same_scores(bulk, single, rng)


def test_put_many_replacing_rows_and_repeating_rows_scores_the_same() -> None:
    rng = random.Random(4)
    first = [_text(rng) for _ in range(400)]
    bulk = _one_by_one(list(range(400)), first)
    single = _one_by_one(list(range(400)), first)
    for row in rng.sample(range(400), 60):
        bulk.clear(row)
        single.clear(row)
    # replacements, new rows past the end, and rows put twice in one call (the last wins)
    rows = [rng.randrange(450) for _ in range(500)]
    texts = [_text(rng) for _ in rows]
    bulk.put_many(rows, texts)
    _one_by_one(rows, texts, single)
    _assert_same_structure(bulk, single, posting_order=False)
    _assert_same_scores(bulk, single, rng)


def test_put_many_of_nothing_and_mismatched_lengths() -> None:
    index = LexicalIndex()
    index.put_many([], [])
    assert index.documents == 0 and not index._rows
    with pytest.raises(ValueError, match="2 rows but 1 texts"):
        index.put_many([0, 1], ["one"])


def test_bulk_loads_and_searches_in_threads_agree_with_one_by_one() -> None:
    rng = random.Random(5)
    texts = [_text(rng) for _ in range(600)]
    rows = list(range(len(texts)))
    single = _one_by_one(rows, texts)
    queries = [_text(rng) for _ in range(300)]
    expected = [analyze(q) for q in queries]
    built: list[LexicalIndex] = []
    mismatches: list[str] = []
    start = threading.Barrier(4)

    def load() -> None:
        start.wait()
        for _ in range(3):
            index = LexicalIndex()
            index.put_many(rows, texts)
            built.append(index)

    def search() -> None:
        start.wait()
        for query, terms in zip(queries, expected, strict=True):
            if analyze(query) != terms:
                mismatches.append(query)

    threads = [threading.Thread(target=f) for f in (load, load, search, search)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not mismatches
    assert len(built) == 6
    for index in built:
        _assert_same_structure(index, single, posting_order=True)


def test_a_cold_load_builds_the_keyword_index_of_one_by_one_puts(tmp_path: Path) -> None:
    rng = random.Random(6)
    index = LanceIndex(str(tmp_path / "lance"), "hash-8", 8)
    texts = [_text(rng) for _ in range(300)]
    vectors = np.random.default_rng(6).random((len(texts), 8), dtype=np.float32)
    index.upsert(
        "p",
        [
            IndexRow(f"m{i:04d}", "fact", "active", text, f"h{i}", vectors[i], float(i), float(i))
            for i, text in enumerate(texts)
        ],
    )
    entry = ProjectCache(index, 8).entry("p", 0)
    snap = index.snapshot("p")
    single = _one_by_one(list(range(len(snap.texts))), snap.texts)
    _assert_same_structure(entry.lexical, single, posting_order=True)
    assert entry.lexical.documents == 300
