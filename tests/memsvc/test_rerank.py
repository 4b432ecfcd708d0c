"""Opt-in late-interaction re-ranking (``retrieval.rerank``): MaxSim, the score swap, the
search path with ``rerank_depth`` on and off, and the real model's token states."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, MemoryDraft, MemoryService, ProjectCreate, SearchQuery
from memsvc.bootstrap import build_service
from memsvc.domain import Kind
from memsvc.retrieval.embedder import HashEmbedder, MiniLMEmbedder
from memsvc.retrieval.hybrid import W_DENSE
from memsvc.retrieval.relevance import (
    DEFAULT_CALIBRATION,
    LEXICAL_ONLY,
    WITH_MAXSIM,
    with_maxsim,
)
from memsvc.retrieval.rerank import W_MAXSIM, TokenEmbedder, maxsim, reranked_finals
from tests.conftest import make_settings


def _unit(*rows: list[float]) -> np.ndarray:
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_maxsim_averages_each_query_tokens_best_match() -> None:
    query = _unit([1, 0, 0], [0, 1, 0])
    doc = _unit([1, 0, 0], [0, 0, 1], [0, 1, 1])
    # token 1 matches exactly (1.0); token 2's best is [0,1,1]/sqrt2 (0.707)
    assert maxsim(query, doc) == pytest.approx((1.0 + 2**-0.5) / 2, abs=1e-6)
    assert maxsim(query, np.zeros((0, 3), np.float32)) == 0.0


def test_reranked_finals_swap_the_dense_part_for_scaled_maxsim_under_the_adjustment() -> None:
    # no adjustment (final == fused): the first loses its dense part, the second gains MaxSim
    got = reranked_finals([2.0, 1.0], [2.0, 1.0], [1.0, 0.0], [0.1, 0.9])
    assert got == pytest.approx([2.0 - W_DENSE, 1.0 + W_MAXSIM])
    # an adjustment factor of one half applies to the swapped parts too
    got = reranked_finals([1.0, 0.5], [2.0, 1.0], [1.0, 0.0], [0.1, 0.9])
    assert got == pytest.approx([0.5 * (2.0 - W_DENSE), 0.5 * (1.0 + W_MAXSIM)])
    # equal MaxSim everywhere carries no information: each just loses its dense part
    assert reranked_finals([1.0], [1.0], [0.5], [0.3]) == pytest.approx([1.0 - 0.5 * W_DENSE])


NOTES = [
    "the deploy script pushes the web image to the registry",
    "deploy notes: on friday we talked about lunch, the weather, holidays and the rota "
    "for the script review of the registry mirror",
    "the registry mirror is cleaned every night",
    "lunch is at noon on fridays",
]


@pytest.fixture(params=[0, 3], ids=["off", "depth3"])
def ops(
    request: pytest.FixtureRequest, tmp_path: Path, actor: Actor
) -> Iterator[tuple[MemoryService, int]]:
    depth = int(request.param)
    settings = make_settings(tmp_path / "data", rerank_depth=depth)
    with build_service(settings, embedder=HashEmbedder(64)) as service:
        service.create_project(actor, ProjectCreate(id="ops"))
        for text in NOTES:
            service.add_memory(actor, "ops", MemoryDraft(kind=Kind.FACT, content=text))
        yield service, depth


def test_only_the_first_rerank_depth_hits_are_rescored_and_they_stay_in_score_order(
    ops: tuple[MemoryService, int], actor: Actor
) -> None:
    svc, depth = ops
    q = SearchQuery(query="deploy script registry", limit=10, min_relevance=0.0)
    hits = svc.search_memories(actor, "ops", q)
    assert len(hits) == len(NOTES)
    rescored = [h for h in hits if "maxsim" in h.parts]
    if depth == 0:
        assert not rescored  # off by default: the ranking is the hybrid's alone
        return
    assert len(rescored) == depth and hits[:depth] == rescored
    scores = [h.score for h in rescored]
    assert scores == sorted(scores, reverse=True)
    # a memory holding every query word has every query token matched exactly
    full = [h for h in rescored if h.memory.content.startswith("the deploy script")]
    assert full and full[0].parts["maxsim"] == pytest.approx(1.0, abs=1e-5)


def test_hash_and_minilm_embedders_give_token_states(minilm: MiniLMEmbedder) -> None:
    assert isinstance(HashEmbedder(), TokenEmbedder) and isinstance(minilm, TokenEmbedder)
    texts = ["the deploy script pushes the image", "lunch at noon"]
    states = minilm.token_states(texts)
    tokenizer_lengths = [len(minilm.token_states([t])[0]) for t in texts]
    assert [s.shape[1] for s in states] == [384, 384]
    assert [len(s) for s in states] == tokenizer_lengths  # padding never leaks in
    for s in states:
        assert np.allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-4)
    query = minilm.token_states(["deploy script"])[0]
    assert maxsim(query, states[0]) > maxsim(query, states[1])


def test_re_ranked_hits_get_a_calibration_that_rises_with_maxsim_for_minilm_only() -> None:
    assert with_maxsim(DEFAULT_CALIBRATION) is WITH_MAXSIM
    assert with_maxsim(LEXICAL_ONLY) is None  # the hash embedder's scale is not MiniLM's
    low, high = WITH_MAXSIM.relevance(0.3, 0.3, 0.2), WITH_MAXSIM.relevance(0.3, 0.3, 0.8)
    assert 0.0 <= low < high <= 1.0
    # a calibration fitted without MaxSim ignores it
    assert DEFAULT_CALIBRATION.relevance(0.3, 0.3, 0.9) == DEFAULT_CALIBRATION.relevance(0.3, 0.3)
