"""The compact keyword index scores exactly like the dict-of-dicts one it replaced, through
puts, replacements and clears, and holds far less memory per row."""

from __future__ import annotations

import random
import tracemalloc

import numpy as np

from memsvc.retrieval.analysis import analyze
from memsvc.retrieval.lexical import LexicalIndex
from tests.memsvc.lexical_reference import ReferenceIndex

WORDS = (  # noqa: SIM905 - one readable string
    "redis postgres cache invoice retry token rotate shard deploy rollback user_id "
    "__init__ kafka s3 billing gateway schedule the a of to and running runs 東京都 "
    "設定 👍🏽 👨‍👩‍👧 café naïve 2024 v1.2 HTTP_TIMEOUT"
).split()


def _text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 30))]
    return " ".join([*words, f"note{rng.randint(0, 50)}"] if rng.random() < 0.8 else words)


def _both(rng: random.Random, rows: int, ops: int) -> tuple[LexicalIndex, ReferenceIndex]:
    new, old = LexicalIndex(), ReferenceIndex()
    for row in range(rows):
        text = _text(rng)
        new.put(row, text)
        old.put(row, text)
    for _ in range(ops):  # replacements and clears in random order, some of absent rows
        row = rng.randrange(rows + 5)
        if rng.random() < 0.4:
            new.clear(row)
            old.clear(row)
        elif row < rows:
            text = _text(rng)
            new.put(row, text)
            old.put(row, text)
    return new, old


def test_scores_idf_and_coverage_are_identical_to_the_reference() -> None:
    rng = random.Random(5)
    new, old = _both(rng, rows=400, ops=600)
    assert new.documents == old.documents
    n = 400
    prev = np.array([rng.randrange(-1, i) if i else -1 for i in range(n)], dtype=np.int64)
    none = np.full(n, -1, dtype=np.int64)
    for _ in range(60):
        query = " ".join(rng.choice([*WORDS, "missing", "nothing"]) for _ in range(4))
        for before in (prev, none):
            assert np.array_equal(new.scores(query, n, before), old.scores(query, n, before))
        rows = rng.sample(range(n), 30)
        back = [int(prev[r]) for r in rows]
        assert new.coverage(query, rows, back) == old.coverage(query, rows, back)
        for term in query.split():
            assert new.idf(term) == old.idf(term)


def test_a_row_cleared_then_put_again_is_scored_once() -> None:
    index = LexicalIndex()
    index.put(0, "apple apple pie")
    index.put(1, "1 1 1 apple")  # a term frequency equal to a row number
    index.clear(1)
    index.put(1, "apple tart")
    index.put(0, "pear")
    ref = ReferenceIndex()
    for row, text in [(0, "pear"), (1, "apple tart")]:
        ref.put(row, text)
    none = np.full(2, -1, dtype=np.int64)
    assert np.array_equal(index.scores("apple pear", 2, none), ref.scores("apple pear", 2, none))
    assert index.documents == 2


def _held(factory: type[LexicalIndex] | type[ReferenceIndex], texts: list[str]) -> int:
    tracemalloc.start()
    try:
        index = factory()
        for row, text in enumerate(texts):
            index.put(row, text)
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert index.documents == len(texts)
    return size


def test_the_compact_index_holds_a_fraction_of_the_reference_memory() -> None:
    rng = random.Random(9)
    texts = [" ".join(rng.choice(WORDS) for _ in range(25)) + f" note{i}" for i in range(3000)]
    for text in texts:  # fill the stemmer's cache outside the measurement
        analyze(text)
    compact, reference = _held(LexicalIndex, texts), _held(ReferenceIndex, texts)
    assert compact * 2 < reference
