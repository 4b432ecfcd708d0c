"""The real bundled all-MiniLM-L6-v2 model, end to end through the service."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, ContextRequest, MemoryDraft, ProjectCreate, SearchQuery, build_service
from memsvc.domain import Kind
from memsvc.retrieval.embedder import MiniLMEmbedder
from tests.conftest import make_settings


@pytest.mark.slow
def test_minilm_vectors_are_normalised_and_semantic(minilm: MiniLMEmbedder) -> None:
    vecs = minilm.embed(
        ["the cat sat on the mat", "a kitten rested on a rug", "quarterly tax filing"]
    )
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


@pytest.mark.slow
def test_single_text_fast_path_matches_the_batch_encoder(minilm: MiniLMEmbedder) -> None:
    texts = ["when are db snapshots taken?", "Prefers pytest fixtures over setUp " * 40]
    batch = minilm.embed([*texts, "padding makes this a real batch"])
    for i, text in enumerate(texts):  # the second is long enough to be truncated
        one = minilm.embed([text])
        assert one.shape == (1, 384) and one.dtype == np.float32
        assert float(one[0] @ batch[i]) > 0.9999


@pytest.mark.slow
def test_paraphrase_is_found_with_the_real_model(
    tmp_path: Path, actor: Actor, minilm: MiniLMEmbedder
) -> None:
    with build_service(make_settings(tmp_path / "d"), embedder=minilm) as svc:
        svc.create_project(actor, ProjectCreate(id="acme"))
        facts = [
            "Production database backups run every night at 2am UTC.",
            "The frontend is written in TypeScript with React.",
            "Customer invoices are emailed on the first day of each month.",
        ]
        ids = [
            svc.add_memory(actor, "acme", MemoryDraft(kind=Kind.FACT, content=f)).memory.id
            for f in facts
        ]
        # a paraphrase with no word in common (cosine ~0.48) sits just under the default
        # min_relevance (the calibration puts 0.5 at cosine 0.51 with no shared word), so
        # it is asked for with a lower threshold: the ranking must still put it first
        query = SearchQuery(query="when are db snapshots taken?", min_relevance=0.3)
        hits = svc.search_memories(actor, "acme", query)
        assert hits[0].memory.id == ids[0]
        assert hits[0].memory.embedding_model == "all-MiniLM-L6-v2"
        pack = svc.get_context(
            actor, "acme", ContextRequest(task="billing emails", budget_tokens=400)
        )
        assert pack.items and pack.items[0].id == ids[2]
