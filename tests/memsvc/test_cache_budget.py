"""The in-memory search state stays within its budget: cold projects are evicted and
reloaded on demand, with the same answers."""

from __future__ import annotations

from pathlib import Path

from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, SearchQuery
from memsvc.bootstrap import build_components
from memsvc.domain import Kind
from memsvc.retrieval.cache import ROW_BYTES
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import make_settings

ME = Actor.local(Channel.REST)


def test_cold_projects_are_evicted_past_the_budget_and_reload_on_demand(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", cache_mb=1)
    with build_components(settings, embedder=HashEmbedder(64)) as parts:
        svc = parts.service
        ids = {}
        per_project = (1 << 20) // ROW_BYTES // 2 + 10  # two projects do not fit in 1 MB
        for name in ("alpha", "beta", "gamma"):
            svc.create_project(ME, ProjectCreate(id=name))
            drafts = [
                MemoryDraft(kind=Kind.FACT, content=f"{name} note number {i} about things")
                for i in range(per_project)
            ]
            drafts.append(MemoryDraft(kind=Kind.FACT, content=f"the {name} secret is kept here"))
            ids[name] = svc.add_memories(ME, name, drafts)[-1].memory.id
        for name in ("alpha", "beta", "gamma", "alpha"):
            hits = svc.search_memories(ME, name, SearchQuery(query=f"{name} secret kept"))
            assert hits[0].memory.id == ids[name]
            assert parts.cache.held_bytes() <= (1 << 20) or parts.cache.project_count() == 1
        assert parts.cache.project_count() == 1
