"""A self-healing index: a project whose LanceDB table cannot be read (a fragment file
removed) answers 503 ``IndexRebuilding`` while it is rebuilt from SQL in the background,
other projects keep serving, and it is whole again without ``memsvc reindex``. A rebuild
killed midway leaves other processes the old, complete table."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from memsvc import Actor, MemoryDraft, ProjectCreate, SearchQuery
from memsvc.api import create_app
from memsvc.bootstrap import Components, build_components
from memsvc.domain import Kind
from memsvc.retrieval import indexing
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import LiveServer, free_port, make_settings

HEAL_BOUND_S = 30.0
"""A damaged project must serve complete results again within this of the first failure."""


def _add(parts: Components, actor: Actor, project: str, content: str) -> str:
    draft = MemoryDraft(kind=Kind.FACT, content=content)
    return parts.service.add_memory(actor, project, draft).memory.id


def _fragments(data_dir: Path, project: str) -> list[Path]:
    tables = list((data_dir / "lance").glob(f"{project}__*.lance"))
    assert len(tables) == 1, tables
    return sorted((tables[0] / "data").glob("*.lance"))


@pytest.fixture
def deployment(tmp_path: Path, actor: Actor) -> Iterator[tuple[Path, Components, list[str]]]:
    """Server A wrote three memories to ``acme`` (three commits: three fragments) and one
    to ``other``; yields the data dir, A and acme's ids."""
    settings = make_settings(tmp_path / "d")
    with build_components(settings, embedder=HashEmbedder()) as a:
        a.service.create_project(actor, ProjectCreate(id="acme"))
        a.service.create_project(actor, ProjectCreate(id="other"))
        ids = [_add(a, actor, "acme", f"zqlima deploy step {n}") for n in range(3)]
        _add(a, actor, "other", "zqmike lives elsewhere")
        yield tmp_path / "d", a, ids


def test_a_lost_fragment_is_rebuilt_in_the_background_while_other_projects_serve(
    deployment: tuple[Path, Components, list[str]], actor: Actor
) -> None:
    data_dir, _a, ids = deployment
    port = free_port()
    settings = make_settings(data_dir, port=port)
    with ExitStack() as stack:
        b = stack.enter_context(build_components(settings, embedder=HashEmbedder()))
        server = stack.enter_context(LiveServer(create_app(b.service, settings), port))
        client = stack.enter_context(httpx.Client(base_url=server.url + "/api/v1", timeout=30))
        # the repair waits for the test's go, so the held state can be looked at
        go, real = threading.Event(), b.cache.health.repair
        assert real is not None
        b.cache.health.repair = lambda project: (go.wait(30), real(project))

        _fragments(data_dir, "acme")[0].unlink()  # lost from the bucket or the disk

        def search(project: str, word: str) -> httpx.Response:
            return client.post(f"/projects/{project}/search", json={"query": word})

        r = search("acme", "zqlima")
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "IndexRebuilding"
        assert "acme" in r.json()["detail"] and "retry" in r.json()["detail"]
        assert search("acme", "zqlima").status_code == 503  # held while the repair waits
        other = search("other", "zqmike")
        assert other.status_code == 200 and len(other.json()["hits"]) == 1
        assert client.get(f"/projects/acme/memories/{ids[0]}").status_code == 200  # SQL reads
        ready = client.get("/ready").json()
        assert ready["ready"] is True  # other projects serve: the process takes traffic
        assert "acme" in ready["checks"]["projects_unavailable"]
        metrics = httpx.get(server.url + "/metrics", timeout=30).text
        assert "memsvc_index_projects_rebuilding 1.0" in metrics

        go.set()
        deadline = time.monotonic() + HEAL_BOUND_S
        while True:
            r = search("acme", "zqlima")
            if r.status_code == 200:
                break
            assert r.status_code == 503 and time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert sorted(h["memory"]["id"] for h in r.json()["hits"]) == sorted(ids)
        assert client.get("/ready").json()["checks"]["projects_unavailable"] == {}
        assert b.cache.health.repairs == 1


def test_a_rebuild_killed_midway_leaves_other_processes_the_whole_old_table(
    deployment: tuple[Path, Components, list[str]],
    actor: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, a, ids = deployment
    with build_components(make_settings(data_dir), embedder=HashEmbedder()) as b:
        monkeypatch.setattr(indexing, "REBUILD_BATCH", 1)
        calls = {"n": 0}
        real = a.sync.embedder.embed

        def dies_midway(texts: list[str]) -> object:
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt("killed midway")  # as a SIGKILL would, mid-build
            return real(texts)

        monkeypatch.setattr(a.sync.embedder, "embed", dies_midway)
        with pytest.raises(KeyboardInterrupt):
            a.service.reindex("acme")
        monkeypatch.undo()
        query = SearchQuery(query="zqlima", limit=10, min_relevance=0.0)
        hits = b.service.search_memories(actor, "acme", query)
        assert sorted(h.memory.id for h in hits if "zqlima" in h.memory.content) == sorted(ids)
        assert b.cache.health.repairs == 0


def test_a_row_count_out_of_step_with_sql_is_repaired_in_the_background(
    deployment: tuple[Path, Components, list[str]], actor: Actor
) -> None:
    _data_dir, a, ids = deployment
    a.index.delete("acme", [ids[1]])  # the index lost a row SQL still has
    assert a.sync.check_counts() == ["acme"]
    deadline = time.monotonic() + HEAL_BOUND_S
    while a.cache.health.repairs < 1:
        assert time.monotonic() < deadline, "the background repair did not finish"
        time.sleep(0.1)
    assert a.index.count("acme") == 3
    assert a.sync.check_counts() == []
    query = SearchQuery(query="zqlima", limit=10, min_relevance=0.0)
    hits = a.service.search_memories(actor, "acme", query)
    assert sorted(h.memory.id for h in hits if "zqlima" in h.memory.content) == sorted(ids)


def test_a_read_of_a_version_cleaned_up_meanwhile_is_retried_on_the_latest_not_taken_for_damage(
    deployment: tuple[Path, Components, list[str]], actor: Actor
) -> None:
    data_dir, a, ids = deployment
    with build_components(make_settings(data_dir), embedder=HashEmbedder()) as b:
        # B's reader is on the version of the three fragments when A compacts them into
        # one and cleans up every older version (as a clean-up past its grace would)
        table = b.index._table("acme", create=False)  # the real table handle, pinned
        table.checkout(table.version)
        before = set(_fragments(data_dir, "acme"))
        with pytest.warns(UserWarning, match="older version will fail"):  # as it says
            a.index.optimize("acme", cleanup_older_than=timedelta(0))
        assert before - set(_fragments(data_dir, "acme"))  # files B's version needs are gone
        query = SearchQuery(query="zqlima", limit=10, min_relevance=0.0)
        hits = b.service.search_memories(actor, "acme", query)
        assert sorted(h.memory.id for h in hits if "zqlima" in h.memory.content) == sorted(ids)
        assert b.cache.health.held() == {} and b.cache.health.repairs == 0
