"""The LoCoMo benchmark's parsing and metrics, on a tiny synthetic conversation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.baselines import PlainBM25
from benchmarks.locomo import (
    load_locomo,
    mrr,
    ndcg_at,
    parse_evidence,
    recall_all_at,
    recall_any_at,
    session_order,
    turn_recall_at,
)
from benchmarks.quality_report import Scores, score_ranking


def test_parse_evidence_tidies_untidy_ids() -> None:
    assert parse_evidence(["D8:6; D9:17", "D:11:26", "D30:05", "D", "D1:3", "D1:3"]) == [
        (8, 6),
        (9, 17),
        (11, 26),
        (30, 5),
        (1, 3),
    ]


RANKED = [(2, 1), (2, 4), (1, 1), (3, 7), (1, 2)]


def test_session_recall_counts_distinct_sessions_in_order() -> None:
    assert session_order(RANKED) == [2, 1, 3]
    assert recall_any_at(RANKED, [(1, 9)], 1) == 0.0
    assert recall_any_at(RANKED, [(1, 9)], 2) == 1.0
    assert recall_all_at(RANKED, [(1, 9), (3, 1)], 2) == 0.0
    assert recall_all_at(RANKED, [(1, 9), (3, 1)], 3) == 1.0


def test_turn_recall_ndcg_and_mrr() -> None:
    assert turn_recall_at(RANKED, [(1, 1), (5, 5)], 10) == 0.5
    assert turn_recall_at(RANKED, [(1, 1)], 2) == 0.0
    assert ndcg_at([2, 1, 3], {2}, 10) == 1.0
    assert ndcg_at([2, 1, 3], {1}, 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at([2, 1, 3], {1, 3}, 10) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    )
    assert mrr([2, 1, 3], {3}) == pytest.approx(1 / 3)
    assert mrr([2], {9}) == 0.0


def _write_fixture(path: Path) -> Path:
    conv = {
        "speaker_a": "Ann",
        "speaker_b": "Bo",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a greyhound."},
            {
                "speaker": "Bo",
                "dia_id": "D1:2",
                "text": "Lovely!",
                "blip_caption": "a photo of a dog",
            },
        ],
        "session_2_date_time": "10:00 am on 1 June, 2023",
        "session_2": [{"speaker": "Bo", "dia_id": "D2:1", "text": "I bought a kayak."}],
        "session_3_date_time": "9:00 am on 2 June, 2023",
    }
    qa = [
        {"question": "What pet?", "answer": "greyhound", "evidence": ["D1:1"], "category": 4},
        {"question": "Boat?", "adversarial_answer": "x", "evidence": ["D:2:1"], "category": 5},
    ]
    path.write_text(json.dumps([{"sample_id": "conv-x", "conversation": conv, "qa": qa}]))
    return path


def test_load_locomo_builds_memory_texts_and_questions(tmp_path: Path) -> None:
    (conv,) = load_locomo(_write_fixture(tmp_path / "tiny.json"))
    texts = [t for _, t in conv.turns]
    assert texts == [
        "Ann: I adopted a greyhound.",
        "Bo: Lovely! [shares a photo of a dog]",
        "Bo: I bought a kayak.",
    ]
    assert conv.turns[2][0].when.isoformat() == "2023-06-01T10:00:00+00:00"
    assert [(q.category, q.evidence) for q in conv.questions] == [(4, [(1, 1)]), (5, [(2, 1)])]


def test_scores_aggregate_by_category(tmp_path: Path) -> None:
    (conv,) = load_locomo(_write_fixture(tmp_path / "tiny.json"))
    scores = Scores()
    scores.add(conv.questions[0], [(2, 1), (1, 1)])
    scores.add(conv.questions[1], [(2, 1)])
    head = scores.mean([4])
    assert head["any@1"] == 0.0 and head["any@5"] == 1.0 and head["turn@10"] == 1.0
    assert scores.count([5]) == 1
    assert score_ranking([(2, 1)], conv.questions[1])["MRR"] == 1.0


def test_plain_bm25_baseline_ranks_by_words() -> None:
    bm25 = PlainBM25(["the greyhound runs", "a kayak floats", "the cat sleeps"])
    assert bm25.ranking("kayak", 2)[0] == 1


def test_fit_padding_keeps_answers_and_adds_distinct_notes_per_project() -> None:
    from benchmarks.calibrate import padded
    from benchmarks.corpora import FIT

    grown = padded(FIT, 5)
    for before, after in zip(FIT, grown, strict=True):
        assert after.memories[: len(before.memories)] == before.memories
        assert len(after.memories) == len(before.memories) + 5
        assert after.queries == before.queries
    assert grown[0].memories[-1] != grown[1].memories[-1]
    assert padded(FIT, 0) is FIT


def test_vector_cache_embeds_each_text_once_and_reloads(tmp_path: Path) -> None:
    from benchmarks.embed_cache import CachedEmbedder
    from memsvc.retrieval.embedder import HashEmbedder

    calls: list[list[str]] = []

    class Counting(HashEmbedder):
        def embed(self, texts: list[str]) -> object:  # type: ignore[override]
            calls.append(texts)
            return np.zeros((len(texts), 384), dtype=np.float32) + len(calls)

    cache = CachedEmbedder(tmp_path / "v.npz")
    cache._inner = Counting()  # type: ignore[assignment]
    first = cache.embed(["a", "b", "a"])
    assert calls == [["a", "b"]] and first.shape == (3, 384)
    cache.embed(["b"])
    assert len(calls) == 1
    cache.save()
    again = CachedEmbedder(tmp_path / "v.npz")
    assert (again.embed(["a", "b"]) == first[:2]).all()
