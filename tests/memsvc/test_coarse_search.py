"""Search above ``exact_scan_max_rows`` with the default ``search_ann="coarse"``: the best
cosines come from the in-memory coarse quantizer, every other signal is the exact scan's,
so the ranking is the exact scan's wherever the quantizer finds the dense top."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, Kind, MemoryDraft, MemoryPatch, SearchQuery
from memsvc.bootstrap import Components, build_components
from memsvc.retrieval import coarse as coarse_mod
from memsvc.retrieval.coarse import CoarseIndex
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import make_settings
from tests.memsvc.test_ann import PROJECT, _load, conversation, queries

THRESHOLD = 50


def _clustered(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    """Unit vectors around ``clusters`` centres, as embeddings of topical text are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    vecs = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    vecs = vecs.astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def _exact_top(matrix: np.ndarray, q: np.ndarray, m: int, mask: np.ndarray) -> set[int]:
    sims = np.where(mask, matrix @ q, -np.inf)
    return set(np.argsort(-sims, kind="stable")[:m].tolist())


@pytest.fixture
def small_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan of a few lists, so a test-sized project is searched approximately."""
    monkeypatch.setattr(coarse_mod, "SEARCH_MIN_SCAN", 600)
    monkeypatch.setattr(coarse_mod, "SEARCH_SCAN_SHARE", 0.0)


def test_the_best_masked_rows_are_the_exact_ones_almost_always(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(coarse_mod, "SEARCH_MIN_SCAN", 1200)  # a fifth of the rows
    monkeypatch.setattr(coarse_mod, "SEARCH_SCAN_SHARE", 0.0)
    matrix = _clustered(6000, 32, clusters=40, seed=1)
    index = CoarseIndex(32)
    index.train(matrix)
    assert index.lists >= 20
    mask = np.ones(len(matrix), dtype=bool)
    found = []
    for q in _clustered(40, 32, clusters=40, seed=2):
        rows = index.best_masked(matrix, q, 50, mask)
        assert rows.size == 50 and len(set(rows.tolist())) == 50
        found.append(len(set(rows.tolist()) & _exact_top(matrix, q, 50, mask)) / 50)
    assert np.mean(found) >= 0.9, found


def test_a_rare_mask_is_scanned_until_enough_of_its_rows_are_held(small_scan: None) -> None:
    matrix = _clustered(6000, 32, clusters=40, seed=3)
    index = CoarseIndex(32)
    index.train(matrix)
    mask = np.zeros(len(matrix), dtype=bool)
    mask[::97] = True  # 62 rows, spread over every list
    q = matrix[5]
    rows = index.best_masked(matrix, q, 40, mask)
    assert rows.size == 40 and mask[rows].all()
    everyone = index.best_masked(matrix, q, 62, mask)  # every masked row: all lists scanned
    assert set(everyone.tolist()) == set(np.flatnonzero(mask).tolist())


def test_a_moved_row_is_found_by_its_new_vector(small_scan: None) -> None:
    matrix = _clustered(6000, 32, clusters=40, seed=4)
    index = CoarseIndex(32)
    index.train(matrix)
    mask = np.ones(len(matrix), dtype=bool)
    q = -matrix[0]  # far from where row 17 was filed
    matrix[17] = q
    assert 17 not in index.best_masked(matrix, q, 20, mask).tolist()  # not yet told
    index.moved(17)
    assert 17 in index.best_masked(matrix, q, 20, mask).tolist()


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Components]:
    settings = make_settings(tmp_path / "data", exact_scan_max_rows=THRESHOLD)
    with build_components(settings, embedder=HashEmbedder(64)) as built:
        yield built


def _top(parts: Components, actor: Actor, text: str) -> list[tuple[str, float]]:
    query = SearchQuery(query=text, limit=10, min_relevance=0)
    hits = parts.service.search_memories(actor, PROJECT, query)
    return [(h.memory.id, h.score) for h in hits]


def _trained(parts: Components) -> CoarseIndex:
    entry = parts.cache.current(PROJECT)
    deadline = time.monotonic() + 60
    while entry.coarse is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert entry.coarse is not None, "the background training did not finish"
    return entry.coarse


def test_a_big_project_is_ranked_as_the_exact_scan_ranks_it(
    parts: Components, actor: Actor
) -> None:
    """The quantizer scans every row of a project this small (``SEARCH_MIN_SCAN``), so
    the coarse path must give the exact scan's hits and scores."""
    turns = conversation(sessions=12, turns=40)
    _load(parts, actor, turns)
    texts = queries(turns, 20)
    first = _top(parts, actor, texts[0])  # starts the training; answered by the scan
    coarse = _trained(parts)
    assert coarse.covered == len(turns)
    assert parts.cache.coarse_status() == {"projects": 1, "trained": 1, "training": 0}
    assert parts.service.readiness()["coarse_index"]["trained"] == 1
    assert not parts.index.ann_built(PROJECT)  # no LanceDB vector index for this mode
    for text in texts:
        approximate = _top(parts, actor, text)
        parts.source.exact_max = 10**9
        try:
            exact = _top(parts, actor, text)
        finally:
            parts.source.exact_max = THRESHOLD
        assert [i for i, _ in approximate] == [i for i, _ in exact], text
        assert [s for _, s in approximate] == pytest.approx([s for _, s in exact], abs=1e-6)
    assert [i for i, _ in first] == [i for i, _ in _top(parts, actor, texts[0])]


def test_with_a_narrow_scan_the_ranking_stays_close(
    parts: Components, actor: Actor, small_scan: None
) -> None:
    turns = conversation(sessions=30, turns=40)
    _load(parts, actor, turns)
    _top(parts, actor, "warm up")
    coarse = _trained(parts)
    assert coarse.lists >= 4  # 1,200 rows: a scan of 600 reads some lists, not all
    overlaps = []
    for text in queries(turns, 30):
        approximate = [i for i, _ in _top(parts, actor, text)]
        parts.source.exact_max = 10**9
        try:
            exact = [i for i, _ in _top(parts, actor, text)]
        finally:
            parts.source.exact_max = THRESHOLD
        overlaps.append(len(set(approximate) & set(exact)) / 10)
    assert np.mean(overlaps) >= 0.9, overlaps


def test_rows_written_after_training_are_searched(parts: Components, actor: Actor) -> None:
    _load(parts, actor, conversation(sessions=5, turns=40))
    _top(parts, actor, "warm up")
    coarse = _trained(parts)
    late = parts.service.add_memories(
        actor, PROJECT, [MemoryDraft(kind=Kind.FACT, content="Di: the quokka photo zzyzx")]
    )[0].memory.id
    assert _top(parts, actor, "quokka photo zzyzx")[0][0] == late
    assert coarse.covered == 201
    parts.service.update_memory(actor, PROJECT, late, MemoryPatch(content="Di: a wombat gif"))
    assert coarse.moved_rows == 1  # re-embedded in place: scored exactly from now on
    assert _top(parts, actor, "wombat gif")[0][0] == late
