"""Writer streams in the index: new tables keep each memory's stream, tables made before
the column keep working as one stream until a reindex adds it, and rows appended by a
server that does not know the column read as stream 0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from memsvc import Actor, Channel, MemoryDraft, MemoryPatch, ProjectCreate, SearchQuery
from memsvc.bootstrap import Components, build_components
from memsvc.domain import Kind, ProvenanceIn
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.store.fleet import writer_stream
from memsvc.store.index import STREAM, IndexRow, LanceIndex
from tests.conftest import make_settings

WHEN = datetime(2023, 5, 8, 14, 0, tzinfo=UTC)
ANN = ProvenanceIn(agent="ann-agent", session="s1")
BO = ProvenanceIn(agent="bo-agent", session="s1")


def _add(parts: Components, actor: Actor, text: str, minutes: int, by: ProvenanceIn) -> str:
    when = WHEN + timedelta(minutes=minutes)
    draft = MemoryDraft(kind=Kind.FACT, content=text, valid_from=when, provenance=by)
    return parts.service.add_memory(actor, "acme", draft).memory.id


def _greyhound(parts: Components, actor: Actor) -> tuple[str, str]:
    """A question by one agent and, a minute later, a short reply by another."""
    _add(parts, actor, "Ann: Did you ever adopt the greyhound?", 0, ANN)
    reply = _add(parts, actor, "Bo: Yes, last May!", 1, BO)
    return _add(parts, actor, "Cy: We adopt tools slowly", 60 * 24 * 30, ANN), reply


def _lent(parts: Components, actor: Actor, reply: str) -> bool:
    """Whether the reply is ranked with words lent by the question before it."""
    query = SearchQuery(query="greyhound adopt", limit=5, min_relevance=0)
    hits = parts.service.search_memories(actor, "acme", query)
    found = {h.memory.id: h for h in hits}[reply]
    return bool(found.parts["lexical_score"])


def _old_table(index: LanceIndex, project: str) -> None:
    """The project's table as a server before writer streams made it: no stream column."""
    schema = pa.schema([f for f in index._schema() if f.name != STREAM])
    index._db.create_table(index._name(project), schema=schema)


def _columns(index: LanceIndex, project: str) -> list[str]:
    return list(index._table(project, create=False).schema.names)


def test_new_tables_keep_each_memorys_writer_stream(tmp_path: Path, actor: Actor) -> None:
    with build_components(make_settings(tmp_path / "d"), embedder=HashEmbedder()) as parts:
        parts.service.create_project(actor, ProjectCreate(id="acme"))
        _, reply = _greyhound(parts, actor)
        index = parts.sync.index
        assert STREAM in _columns(index, "acme")
        snap = index.snapshot("acme")
        assert snap.streams is not None
        want = {
            m.id: writer_stream(m.provenance.model_dump(mode="json"))
            for m in (parts.service.get_memory(actor, "acme", i) for i in snap.ids)
        }
        assert dict(zip(snap.ids, snap.streams.tolist(), strict=True)) == want
        assert len(set(want.values())) == 2 and 0 not in want.values()
        assert index.rows_of("acme", [reply])[reply].stream == want[reply]  # catch-ups too
        entry = parts.cache.entry("acme", 0)
        assert entry.streams[: entry.n].tolist() == [want[i] for i in entry.ids]
        assert not _lent(parts, actor, reply)


def test_a_table_without_the_column_is_one_stream_until_a_reindex(
    tmp_path: Path, actor: Actor
) -> None:
    settings = make_settings(tmp_path / "d")
    with build_components(settings, embedder=HashEmbedder()) as parts:
        parts.service.create_project(actor, ProjectCreate(id="acme"))
        _old_table(parts.sync.index, "acme")
        later, reply = _greyhound(parts, actor)  # appended without the column
        parts.service.update_memory(actor, "acme", later, MemoryPatch(title="tools"))  # upsert
        assert STREAM not in _columns(parts.sync.index, "acme")
        assert parts.sync.index.snapshot("acme").streams is None
        assert parts.sync.index.rows_of("acme", [reply])[reply].stream == 0
        assert _lent(parts, actor, reply)  # as before streams: one episode of both agents
        parts.sync.reindex("acme")
        assert STREAM in _columns(parts.sync.index, "acme")
    with build_components(settings, embedder=HashEmbedder()) as parts:  # reloaded
        assert not _lent(parts, actor, reply)


def test_rows_appended_without_a_stream_read_as_stream_zero(tmp_path: Path) -> None:
    """A server that does not know the column appends records without it: LanceDB stores
    null, which reads as 0 (one stream of such rows), next to rows that have one."""
    index = LanceIndex(str(tmp_path / "lance"), "hash-4", 4)
    vector = np.full(4, 0.5, dtype=np.float32)
    ids = ["01ARZ3NDEKTSV4RRFFQ69G5FA1", "01ARZ3NDEKTSV4RRFFQ69G5FA2"]
    index.append("p", [IndexRow(ids[0], "fact", "active", "a", "h", vector, 1.0, 1.0, 77)])
    old: dict[str, Any] = IndexRow(ids[1], "fact", "active", "b", "h", vector, 2.0, 2.0).record()
    del old[STREAM]
    index._table("p", create=False).add([old])
    snap = index.snapshot("p")
    assert snap.streams is not None
    assert dict(zip(snap.ids, snap.streams.tolist(), strict=True)) == {ids[0]: 77, ids[1]: 0}
    assert {i: r.stream for i, r in index.rows_of("p", ids).items()} == {ids[0]: 77, ids[1]: 0}


def test_a_writer_stream_is_who_wrote_it_agent_and_session() -> None:
    def stream(**kw: Any) -> int:
        return writer_stream({"principal": "alice", "channel": "mcp", **kw})

    assert stream(agent="a", session="1") == stream(agent="a", session="1", client="x")
    assert stream(agent="a", session="1") != stream(agent="a", session="2")
    assert stream(agent="a") != stream(agent="b")
    assert stream(client="claude-code") == stream(agent="claude-code")  # the identity rule
    assert writer_stream({"principal": "bob", "channel": "mcp", "agent": "a"}) != stream(agent="a")
    web = {"principal": "alice", "channel": Channel.WEB.value}
    assert writer_stream({**web, "agent": "a"}) == writer_stream(web)  # a human, no agent
    # persisted in index tables: the hash must not change between versions or processes
    assert stream(agent="a", session="1") == -2703371779847969923
