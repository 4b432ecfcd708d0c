"""Search above ``exact_scan_max_rows`` with ``search_ann="lance"``: candidates from the
LanceDB vector index, ranked by the same scorer as the exact path (a tiny threshold forces
the ANN path on a corpus small enough for a test); the index built in the background while
writers go on."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from memsvc import Actor, Kind, MemoryDraft, ProjectCreate, SearchQuery
from memsvc.bootstrap import Components, build_components
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.retrieval.pool import pool_rows
from memsvc.retrieval.timeline import Timeline
from tests.conftest import make_settings

PROJECT = "chat"
SPEAKERS = ("Ann", "Bo", "Cy", "Di")
START = datetime(2022, 1, 3, 9, 0, tzinfo=UTC)


def _vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "zu", "pe", "da", "fi"]
    words = {rng.choice(syllables) + rng.choice(syllables) + rng.choice(syllables)}
    while len(words) < 400:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def conversation(sessions: int, turns: int, seed: int = 5) -> list[tuple[datetime, str]]:
    """Dialogue-like turns: each session (a day apart, turns a minute apart) talks about
    a few topic words of its own over common words drawn by a Zipf-like law."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    common, topical = vocab[:120], vocab[120:]
    weights = [1.0 / (r + 1) for r in range(len(common))]
    out = []
    for s in range(sessions):
        topics = rng.sample(topical, 6)
        day = START + timedelta(days=3 * s)
        for t in range(turns):
            words = rng.choices(common, weights, k=rng.randint(5, 12))
            words += rng.sample(topics, rng.randint(0, 2))
            rng.shuffle(words)
            out.append((day + timedelta(minutes=t), f"{SPEAKERS[t % 4]}: {' '.join(words)}"))
    return out


def queries(turns: list[tuple[datetime, str]], n: int, seed: int = 9) -> list[str]:
    """Words of one turn, some with the date it was said."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        when, text = rng.choice(turns)
        words = rng.sample(text.split(":", 1)[1].split(), 3)
        suffix = f" on {when.day} {when:%B}, {when.year}" if i % 3 == 0 else ""
        out.append(" ".join(words) + suffix)
    return out


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Components]:
    settings = make_settings(tmp_path / "data", exact_scan_max_rows=50, search_ann="lance")
    with build_components(settings, embedder=HashEmbedder(64)) as built:
        yield built


def _load(parts: Components, actor: Actor, turns: list[tuple[datetime, str]]) -> None:
    svc = parts.service
    svc.create_project(actor, ProjectCreate(id=PROJECT))
    for start in range(0, len(turns), 200):
        drafts = [
            MemoryDraft(kind=Kind.FACT, content=text, valid_from=when)
            for when, text in turns[start : start + 200]
        ]
        svc.add_memories(actor, PROJECT, drafts)


def _top(parts: Components, actor: Actor, text: str) -> list[str]:
    query = SearchQuery(query=text, limit=10, min_relevance=0)
    return [h.memory.id for h in parts.service.search_memories(actor, PROJECT, query)]


def test_ann_path_ranks_like_the_exact_scan(parts: Components, actor: Actor) -> None:
    turns = conversation(sessions=30, turns=40)
    _load(parts, actor, turns)
    assert not parts.source.uses_ann(PROJECT, len(turns))  # no index yet: exact scan
    parts.index.build_ann(PROJECT, retrain=True)
    assert parts.index.ann_state(PROJECT).indexed == len(turns)
    assert parts.source.uses_ann(PROJECT, len(turns))
    overlaps = []
    for text in queries(turns, 30):
        ann = _top(parts, actor, text)
        parts.source.exact_max = 10**9
        try:
            exact = _top(parts, actor, text)
        finally:
            parts.source.exact_max = 50
        assert len(ann) == len(exact) == 10
        overlaps.append(len(set(ann) & set(exact)) / 10)
    assert sum(overlaps) / len(overlaps) >= 0.9, overlaps
    assert min(overlaps) >= 0.7, overlaps


def test_rows_written_after_the_build_are_searched_exactly(parts: Components, actor: Actor) -> None:
    _load(parts, actor, conversation(sessions=5, turns=40))
    parts.index.build_ann(PROJECT, retrain=True)
    late = parts.service.add_memories(
        actor, PROJECT, [MemoryDraft(kind=Kind.FACT, content="Di: the quokka photo zzyzx")]
    )[0].memory.id
    state = parts.index.ann_state(PROJECT)
    assert state.unindexed >= 1 and state.indexed == 200
    assert _top(parts, actor, "quokka photo zzyzx")[0] == late


def test_index_build_racing_writers_loses_nothing(parts: Components, actor: Actor) -> None:
    turns = conversation(sessions=12, turns=40)
    _load(parts, actor, turns[:240])
    errors: list[BaseException] = []

    def build() -> None:
        try:
            parts.index.build_ann(PROJECT, retrain=True)
        except BaseException as exc:
            errors.append(exc)

    builder = threading.Thread(target=build)
    builder.start()
    svc = parts.service
    for start in range(240, len(turns), 40):
        drafts = [
            MemoryDraft(kind=Kind.FACT, content=t, valid_from=w)
            for w, t in turns[start : start + 40]
        ]
        svc.add_memories(actor, PROJECT, drafts)
    builder.join(timeout=120)
    assert not errors and not builder.is_alive()
    assert parts.sync.pending_count() == 0
    report = parts.sync.reconcile(PROJECT)
    assert (report.embedded, report.updated, report.removed) == (0, 0, 0)
    state = parts.index.ann_state(PROJECT)
    assert state.built and state.rows == len(turns)
    assert state.indexed + state.unindexed == len(turns)
    # the last turn written is found through the ANN path
    _, text = turns[-1]
    assert parts.source.uses_ann(PROJECT, len(turns))
    query = SearchQuery(query=text.split(":", 1)[1], limit=10, min_relevance=0)
    assert text in [h.memory.content for h in svc.search_memories(actor, PROJECT, query)]


def test_write_time_checks_above_the_exact_scan_size_do_not_scan_the_matrix(
    parts: Components, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(parts, actor, conversation(sessions=5, turns=40))
    svc = parts.service
    rule = MemoryDraft(kind=Kind.RULE, content="Never deploy the billing service on a Friday.")
    rule_id = svc.add_memory(actor, PROJECT, rule).memory.id
    assert parts.cache.current(PROJECT).n > 50  # above exact_scan_max_rows, no vector index

    def no_scan(*_: object) -> None:
        raise AssertionError("the matrix was scanned")

    monkeypatch.setattr(parts.cache, "nearest", no_scan)
    again = MemoryDraft(kind=Kind.RULE, content="Never deploy the billing service on a Friday!")
    near = svc.add_memory(actor, PROJECT, again).memory
    assert near.duplicate_of == rule_id
    other = MemoryDraft(kind=Kind.RULE, content="Never deploy the billing service on a Monday.")
    conflict = svc.add_memory(actor, PROJECT, other).memory
    assert conflict.duplicate_of is None and conflict.conflicts_with == rule_id


def test_background_builder_follows_the_size_policy(parts: Components, actor: Actor) -> None:
    ann = parts.sync.ann
    assert ann is not None
    _load(parts, actor, conversation(sessions=1, turns=40))
    assert ann.build_due() == []  # 40 rows: at most exact_scan_max_rows (50)
    _load_more(parts, actor, conversation(sessions=3, turns=40, seed=6))
    assert ann.build_due() == [PROJECT]
    assert ann.build_due() == []  # built: nothing due until the table doubles
    status = parts.service.readiness()["vector_index"]
    assert status["indexed_projects"] == 1 and status["builds"] == {"ok": 1, "failed": 0}
    assert b"memsvc_ann_building 0.0" in parts.service.metrics.exposition()
    _load_more(parts, actor, conversation(sessions=4, turns=40, seed=7))
    assert ann.build_due() == [PROJECT]  # 320 rows >= 2 x 160 trained on
    assert parts.index.ann_state(PROJECT).indexed == 320


def test_one_build_at_a_time(parts: Components, actor: Actor) -> None:
    _load(parts, actor, conversation(sessions=3, turns=40))
    with parts.index.build_claim(PROJECT) as first, parts.index.build_claim(PROJECT) as second:
        assert first and not second
        assert parts.sync.ann is not None and not parts.sync.ann.build(PROJECT)
    assert parts.sync.ann.build(PROJECT)


def _load_more(parts: Components, actor: Actor, turns: list[tuple[datetime, str]]) -> None:
    drafts = [MemoryDraft(kind=Kind.FACT, content=t, valid_from=w) for w, t in turns]
    parts.service.add_memories(actor, PROJECT, drafts)


def test_an_index_built_earlier_is_used_after_a_restart(tmp_path: Path, actor: Actor) -> None:
    settings = make_settings(tmp_path / "data", exact_scan_max_rows=50, search_ann="lance")
    with build_components(settings, embedder=HashEmbedder(64)) as first:
        _load(first, actor, conversation(sessions=3, turns=40))
        first.index.build_ann(PROJECT, retrain=True)
    with build_components(settings, embedder=HashEmbedder(64)) as second:
        assert second.source.uses_ann(PROJECT, 120)


def test_a_failing_vector_index_falls_back_to_the_exact_scan(
    parts: Components, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    turns = conversation(sessions=3, turns=40)
    _load(parts, actor, turns)
    parts.index.build_ann(PROJECT, retrain=True)
    text = queries(turns, 1)[0]
    before = _top(parts, actor, text)

    def broken(*_: object, **__: object) -> None:
        raise OSError("index unreadable")

    monkeypatch.setattr(parts.index, "ann_search", broken)
    parts.source.exact_max = 10**9
    exact = _top(parts, actor, text)
    parts.source.exact_max = 50
    assert _top(parts, actor, text) == exact and len(before) == 10
    again = MemoryDraft(kind=Kind.FACT, content=turns[0][1] + "!", valid_from=turns[0][0])
    assert parts.service.add_memory(actor, PROJECT, again).memory.duplicate_of is not None


def test_a_project_that_is_one_long_episode_keeps_the_pool_small() -> None:
    """Written without an hour's pause, every row is one episode: it must not join the
    pool whole (the pool would be the project), while a small episode still does."""
    n = 5_000
    prev = np.arange(-1, n - 1, dtype=np.int64)
    one = Timeline(prev=prev, episode=np.zeros(n, dtype=np.int64))
    lexical = np.zeros(n, dtype=np.float64)
    lexical[[10, 2_000]] = [2.0, 1.0]
    mask = np.ones(n, dtype=bool)
    times = np.arange(n, dtype=np.float64)
    ids = [f"m{i}" for i in range(n)]
    pos = {m: i for i, m in enumerate(ids)}
    dense = [ids[4_000], ids[4_001]]
    rows = pool_rows("q", dense, pos, lexical, times, one, mask, None, k=10)
    assert rows.size < 20 and {10, 2_000, 4_000}.issubset(set(rows.tolist()))
    small = Timeline(prev=prev, episode=(np.arange(n) // 100).astype(np.int64))
    rows = pool_rows("q", dense, pos, lexical, times, small, mask, None, k=10)
    assert set(range(4_000, 4_100)).issubset(set(rows.tolist()))
    assert 300 <= rows.size <= 306  # three seeded episodes of 100 rows whole, + neighbours
