"""Text analysis, the in-memory BM25F index, neighbours in time and query dates."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from memsvc.retrieval.analysis import analyze
from memsvc.retrieval.lexical import LexicalIndex
from memsvc.retrieval.temporal import in_spans, query_spans
from memsvc.retrieval.timeline import EPISODE_GAP_S, build_timeline


def test_analyze_stems_and_drops_stop_words() -> None:
    assert analyze("When did they go to the Support Groups?") == ["go", "support", "group"]
    assert analyze("running runs") == ["run", "run"]


def test_identifiers_match_whole_and_by_parts() -> None:
    assert analyze("set user_id in __init__") == ["set", "user_id", "user", "id", "init"]
    assert set(analyze("user id")) <= set(analyze("user_id"))


def _index(texts: list[str]) -> LexicalIndex:
    index = LexicalIndex()
    for row, text in enumerate(texts):
        index.put(row, text)
    return index


def test_bm25_ranks_the_matching_document_first() -> None:
    index = _index(["the cat sat", "dogs bark loudly", "a cat and a dog"])
    none = np.full(3, -1, dtype=np.int64)
    scores = index.scores("barking dog", 3, none)
    assert int(np.argmax(scores)) == 1
    assert scores[0] == 0.0


def test_unrelated_documents_leave_the_scores_unchanged() -> None:
    """The IDF's N is the query's collection (rows sharing a word with it): padding with
    documents of the same lengths that share no word leaves every score as it was."""
    texts = ["cat sat mat", "dog ran far", "cat dog"]
    padding = ["red green blue", "violin cello harp", "oak pine"] * 5
    plain, padded = _index(texts), _index(texts + padding)
    n = len(texts + padding)
    before = plain.scores("cat dog mat", 3, np.full(3, -1, dtype=np.int64))
    after = padded.scores("cat dog mat", n, np.full(n, -1, dtype=np.int64))
    assert before.tolist() == after[:3].tolist() and not after[3:].any()
    assert before[2] > 0.0 and before[0] > before[1]


def test_neighbour_field_lends_the_previous_words_at_half_weight() -> None:
    index = _index(["Did you adopt the puppy?", "Yes, last May!", "Unrelated chatter"])
    alone = index.scores("puppy", 3, np.full(3, -1, dtype=np.int64))
    linked = index.scores("puppy", 3, np.array([-1, 0, 1], dtype=np.int64))
    assert alone[1] == 0.0 and linked[1] > 0.0
    assert linked[0] > linked[1]  # own words weigh more than a neighbour's


def test_clear_removes_a_row_from_the_postings() -> None:
    index = _index(["apple pie", "apple tart"])
    index.clear(0)
    scores = index.scores("apple", 2, np.full(2, -1, dtype=np.int64))
    assert scores[0] == 0.0 and scores[1] > 0.0 and index.documents == 1


def test_timeline_orders_by_time_then_written_and_cuts_episodes() -> None:
    times = np.array([0.0, 0.0, 10 * EPISODE_GAP_S, 5.0, 1.0])
    written = np.array([1.0, 2.0, 3.0, 4.0, 0.5])
    live = np.array([True, True, True, True, False])
    tl = build_timeline(times, written, ["a", "b", "c", "d", "e"], live)
    assert tl.prev.tolist() == [-1, 0, -1, 1, -1]
    assert tl.episode.tolist() == [0, 0, 1, 0, -1]


def test_query_spans_read_days_months_and_years() -> None:
    day = query_spans("What did Nate make on 9 November, 2022?")
    assert day == [(datetime(2022, 11, 9, tzinfo=UTC), datetime(2022, 11, 10, tzinfo=UTC))]
    month = query_spans("in December 2023")
    assert month == [(datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))]
    assert query_spans("October 13, 2023")[0][0] == datetime(2023, 10, 13, tzinfo=UTC)
    assert query_spans("camping in June") == []
    assert len(query_spans("from 2021 to 2022")) == 2


def test_in_spans_widens_by_a_week() -> None:
    spans = query_spans("on 9 November, 2022")
    near = datetime(2022, 11, 15, tzinfo=UTC).timestamp()
    far = datetime(2022, 12, 1, tzinfo=UTC).timestamp()
    assert in_spans(np.array([near, far]), spans).tolist() == [True, False]
