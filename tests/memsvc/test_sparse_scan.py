"""The exact scan's sparse scoring (``retrieval.sparse``) gives the candidates, scores and
explained parts of scoring every row (``hybrid.score_rows`` + ``candidates_from``), bit
for bit: over random projects with short and project-long episodes, one writer or
several whose writes interleave (episodes then do not come in runs of rows), deleted
rows, status and kind masks, queries naming dates, and ties at the last place."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from memsvc.retrieval import hybrid, lexical
from memsvc.retrieval.cache import CachedProject
from memsvc.retrieval.lexical import LexicalIndex
from memsvc.retrieval.pool import pool_rows
from memsvc.retrieval.ranking import Candidate
from memsvc.retrieval.sparse import sparse_candidates
from memsvc.retrieval.timeline import Timeline
from memsvc.store.index import IndexRow

WORDS = ["alpha", "beta", "gamma", "delta", "config", "deploy", "cache", "token"]
WORDS += ["river", "mountain", "bread", "march"]
AT = datetime(2024, 6, 1, tzinfo=UTC)


def _project(
    seed: int, n: int, long_episode: bool, dim: int = 16, writers: int = 1
) -> CachedProject:
    rng = random.Random(seed)
    vecs = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    if seed % 3 == 0:  # repeated vectors: ties in the dense part
        vecs[n // 2 :] = vecs[: n - n // 2]
    entry = CachedProject(generation=0, dim=dim)
    entry.matrix = np.zeros((0, dim), dtype=np.float32)
    t = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
    for i in range(n):
        t += rng.choice([30.0, 60.0, 600.0]) if long_episode else rng.choice([60.0, 60.0, 5000.0])
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 6))]
        entry.put(
            IndexRow(
                id=f"m{rng.randrange(10**6):07d}{i:05d}",
                kind=rng.choice(["fact", "rule", "decision"]),
                status=rng.choice(["active"] * 6 + ["archived", "deleted"]),
                text=" ".join(words),
                content_hash="",
                vector=vecs[i],
                time=t,
                written=t,
                stream=rng.randrange(writers) * 1_000_003 if writers > 1 else 0,
            )
        )
    for mid in rng.sample(entry.ids, n // 10):
        entry.remove(mid)
    return entry


def _full(entry: CachedProject, q: np.ndarray, text: str, mask: np.ndarray, depth: int) -> list:
    n = entry.n
    timeline = entry.timeline()
    dense = (entry.matrix[:n] @ q).astype(np.float64)
    lexical = entry.lexical.scores(text, n, timeline.prev)
    times = entry.times_array()
    scores = hybrid.score_rows(text, lexical, dense, times, timeline, mask, AT)
    return hybrid.candidates_from(scores, entry.ids[:n], mask, depth)


def _sparse(
    entry: CachedProject, q: np.ndarray, text: str, mask: np.ndarray, counts: np.ndarray, depth: int
) -> list[Candidate] | None:
    """``sparse_candidates`` over the entry's every-row cosines to ``q``."""
    return sparse_candidates(
        text,
        entry.matrix[: entry.n] @ q,
        entry.lexical,
        entry.timeline(),
        mask,
        counts,
        entry.times_array(),
        entry.ids,
        depth,
        AT,
    )


def _explained(found: list[Candidate]) -> list[tuple]:
    return [(c.id, c.fused, c.dense_score, c.lexical_score, c.signals) for c in found]


@pytest.mark.parametrize("writers", [1, 3])
@pytest.mark.parametrize("seed", range(12))
def test_sparse_scoring_gives_every_rows_scoring_candidates(seed: int, writers: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([300, 800, 1500])
    entry = _project(seed, n=n, long_episode=seed % 2 == 0, writers=writers)
    queries = [
        " ".join(rng.sample(WORDS, 2)),
        "config deploy in march 2024",  # names a month: the time signal
        "zebra",  # no term held: dense only
        rng.choice(WORDS),
    ]
    q = np.random.default_rng(seed + 100).standard_normal(entry.dim).astype(np.float32)
    q /= np.linalg.norm(q)
    compared = 0
    for statuses, kinds in ((["active"], None), (["active", "archived"], {"fact", "rule"})):
        with entry.lock:
            mask = entry.mask(set(statuses), kinds)
            counts = entry.episode_counts(mask)
        for text in queries:
            for depth in (50, 120):
                want = _full(entry, q, text, mask, depth)
                got = _sparse(entry, q, text, mask, counts, depth)
                if got is None:
                    continue
                compared += 1
                assert _explained(got) == _explained(want), (text, depth, statuses)
    assert compared >= 8  # the sparse path answered most of them


def test_sparse_lexical_scores_are_the_full_scores_above_zero() -> None:
    entry = _project(5, n=600, long_episode=False)
    timeline = entry.timeline()
    assert timeline.next is not None
    for text in ("alpha beta", "river bread march", "zebra", "alpha alpha config"):
        full = entry.lexical.scores(text, entry.n, timeline.prev)
        rows, values = entry.lexical.sparse_scores(text, entry.n, timeline.prev, timeline.next)
        assert rows.tolist() == np.flatnonzero(full > 0).tolist()
        assert values.tolist() == full[rows].tolist()


def test_an_empty_index_scores_nothing() -> None:
    rows, values = LexicalIndex().sparse_scores("alpha", 3, np.full(3, -1), np.full(3, -1))
    assert rows.size == 0 and values.size == 0


def test_ties_at_the_last_place_keep_the_smallest_ids() -> None:
    # one long episode: every unscored row shares the episode's value
    entry = _project(4, n=1500, long_episode=True)
    q = np.ones(entry.dim, dtype=np.float32) / np.sqrt(entry.dim)
    with entry.lock:
        mask = entry.mask({"active"}, None)
    found = _full(entry, q, "alpha", mask, 400)
    last = found[-1].fused
    tied = sorted(
        i for i, f in zip(entry.ids, _all_fused(entry, q, "alpha", mask), strict=True) if f == last
    )
    kept = [c.id for c in found if c.fused == last]
    assert len(tied) > len(kept) > 0
    assert kept == tied[: len(kept)]


def _all_fused(entry: CachedProject, q: np.ndarray, text: str, mask: np.ndarray) -> list[float]:
    n = entry.n
    timeline = entry.timeline()
    dense = (entry.matrix[:n] @ q).astype(np.float64)
    lexical = entry.lexical.scores(text, n, timeline.prev)
    scores = hybrid.score_rows(text, lexical, dense, entry.times_array(), timeline, mask, AT)
    return [float(x) for x in scores.fused]


@pytest.mark.parametrize("long_episode", [False, True])
def test_the_pool_from_the_timelines_runs_is_the_pool_from_full_passes(long_episode: bool) -> None:
    entry = _project(7, n=2000, long_episode=long_episode)
    timeline = entry.timeline()
    bare = Timeline(prev=timeline.prev, episode=timeline.episode)  # no runs, no successors
    q = np.random.default_rng(1).standard_normal(entry.dim).astype(np.float32)
    dense_ids = [entry.ids[i] for i in np.argsort(-(entry.matrix[: entry.n] @ q))[:200]]
    with entry.lock:
        mask = entry.mask({"active"}, None)
    for text in ("alpha beta", "bread in march 2024", "zebra"):
        lexical = entry.lexical.scores(text, entry.n, timeline.prev)
        args = (entry.pos, lexical, entry.times_array())
        fast = pool_rows(text, dense_ids, *args, timeline, mask, AT, 100)
        slow = pool_rows(text, dense_ids, *args, bare, mask, AT, 100)
        assert fast.tolist() == slow.tolist()
        assert fast.size < entry.n


@pytest.mark.parametrize(
    "switch",
    [
        (hybrid, "W_DENSE", 0.0),
        (hybrid, "W_LEXICAL", 0.0),
        (hybrid, "W_EPISODE", 0.0),
        (hybrid, "W_TIME", 0.0),
        (lexical, "NEIGHBOUR_WEIGHT", 0.0),
        (lexical, "query_collection", lambda _found: 10_000),
    ],
)
def test_switched_off_signals_switch_off_in_the_sparse_scoring_too(
    switch: tuple[object, str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quality benchmark's ablations set these module constants."""
    module, name, value = switch
    monkeypatch.setattr(module, name, value)
    entry = _project(2, n=900, long_episode=True)
    q = np.random.default_rng(3).standard_normal(entry.dim).astype(np.float32)
    q /= np.linalg.norm(q)
    with entry.lock:
        mask = entry.mask({"active"}, None)
        counts = entry.episode_counts(mask)
    for text in ("alpha beta", "config deploy in march 2024"):
        want = _full(entry, q, text, mask, 50)
        got = _sparse(entry, q, text, mask, counts, 50)
        assert got is None or _explained(got) == _explained(want)


def _top_means_by_sorting(base: np.ndarray, episode: np.ndarray, counts: np.ndarray) -> tuple:
    """The per-episode means as first written: a sort of every scored row."""
    live = np.flatnonzero(episode >= 0)
    order = live[np.lexsort((-base[live], episode[live]))]
    eps = episode[order]
    starts = np.flatnonzero(np.r_[True, eps[1:] != eps[:-1]])
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    keep = order[rank < hybrid.EPISODE_TOP]
    names, inverse = np.unique(episode[keep], return_inverse=True)
    sums = np.bincount(inverse, weights=base[keep], minlength=names.size)
    kept = np.minimum(counts[names], hybrid.EPISODE_TOP)
    return names, sums / np.maximum(kept, 1)


@pytest.mark.parametrize("seed", range(20))
def test_episode_means_without_a_sort_are_the_sorted_ones_bit_for_bit(seed: int) -> None:
    from memsvc.retrieval.sparse import _top_means

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    base = rng.random(n) * 1.3
    if seed % 2:  # many ties, zeros among them
        base = np.round(base, 1)
    episode = rng.integers(-1, max(2, n // 5), n)
    if seed % 4 >= 2:  # episodes in runs (a project written in time order), some rows dead
        episode = np.where(episode >= 0, np.sort(episode), -1)
    counts = np.bincount(episode[episode >= 0], minlength=int(episode.max()) + 1) + rng.integers(
        0, 3, int(episode.max()) + 1
    )
    names, means = _top_means(base, episode, counts)
    want_names, want_means = _top_means_by_sorting(base, episode, counts)
    assert names.tolist() == want_names.tolist()
    assert means.tolist() == want_means.tolist()


def test_a_lexical_depth_scores_only_the_best_lexical_rows() -> None:
    entry = _project(4, n=800, long_episode=False)
    q = np.random.default_rng(9).standard_normal(entry.dim).astype(np.float32)
    q /= np.linalg.norm(q)
    timeline = entry.timeline()
    assert timeline.next is not None
    text = "alpha beta"
    with entry.lock:
        mask = entry.mask({"active"}, None)
        counts = entry.episode_counts(mask)
    rows, values = entry.lexical.sparse_scores(text, entry.n, timeline.prev, timeline.next)
    held = int(mask[rows].sum())
    assert held > 40

    def found(depth: int) -> list[Candidate] | None:
        return sparse_candidates(
            text,
            entry.matrix[: entry.n] @ q,
            entry.lexical,
            timeline,
            mask,
            counts,
            entry.times_array(),
            entry.ids,
            30,
            AT,
            depth,
        )

    every = found(0)
    assert every is not None
    # a depth above the lexical rows changes nothing
    assert _explained(found(held + 1) or []) == _explained(every)
    capped = found(20)
    assert capped is not None and len(capped) == 30
    # a row the lexical cut left out keeps no lexical part
    kept = {entry.ids[r] for r in rows[mask[rows]][np.argsort(-values[mask[rows]])[:20]]}
    for c in capped:
        if c.id not in kept:
            assert c.lexical_score == 0.0
