"""Real `memsvc mcp` processes driven by the SDK's stdio client: roots-based placement,
handshake provenance, and two processes writing one data dir at once."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import Implementation

from memsvc.store.index import LanceIndex
from tests.mcp_server.conftest import (
    MEMSVC,
    call,
    fail,
    roots_callback,
    structured,
    subprocess_env,
    text,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@asynccontextmanager
async def stdio(
    data_dir: Path, log: Path, *args: str, roots: tuple[str, ...] = (), **kw: Any
) -> AsyncIterator[Client]:
    """A `memsvc mcp` subprocess (stderr to ``log``) and an SDK client session on it."""
    # compaction every few writes, so it races the other process's appends too
    env = subprocess_env(
        data_dir,
        MEMSVC_BACKGROUND="true",
        MEMSVC_COMPACT_EVERY_WRITES="8",
        MEMSVC_COMPACT_MIN_FRAGMENTS="4",
    )
    params = StdioServerParameters(command=MEMSVC, args=["mcp", *args], env=env)
    with log.open("a") as errlog:
        async with Client(
            stdio_client(params, errlog=errlog),
            list_roots_callback=roots_callback(*roots) if roots else None,
            client_info=Implementation(name="test-editor", version="3.1"),
            **kw,
        ) as c:
            yield c


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_process_places_calls_by_the_clients_roots(tmp_path: Path, mode: str) -> None:
    data, log = tmp_path / "data", tmp_path / "mcp.log"
    async with stdio(data, log, roots=("/home/dev/acme/backend",), mode=mode) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        await call(c, "create_project", id="acme", root_paths=["/home/dev/acme"])
        added = await call(c, "add_memory", kind="fact", content="We use FastAPI.", agent="a1")
        found = await call(c, "search_memories", query="FastAPI")
        opened = await call(c, "open_last_project")
    assert {"add_memory", "search_memories", "open_last_project", "write_handoff"} <= tools
    memory = structured(added)["memory"]
    assert structured(added)["project_source"] == "workspace roots"
    assert memory["project"] == "acme"
    prov = memory["provenance"]
    assert (prov["channel"], prov["client"], prov["client_version"], prov["agent"]) == (
        "mcp",
        "test-editor",
        "3.1",
        "a1",
    )
    assert [h["memory"]["id"] for h in structured(found)["hits"]] == [memory["id"]]
    assert structured(opened)["project"]["id"] == "acme"
    assert "We use FastAPI." in text(opened)


async def test_stdio_default_project_flag_and_error_without_one(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "mcp.log"
    async with stdio(data, log) as c:
        await call(c, "create_project", id="alpha", root_paths=[])
        error = await fail(c, "get_context")
    async with stdio(data, log, "--project", "alpha") as c:
        ctx = await call(c, "get_context")
    assert "alpha" in error and "project=" in error
    assert structured(ctx)["project_source"] == "server default"


async def test_two_processes_writing_one_data_dir_lose_nothing(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "mcp.log"
    per_process = int(os.environ.get("MEMSVC_TEST_WRITES", "25"))
    async with stdio(data, log) as c:
        await call(c, "create_project", id="shared", root_paths=[])

    ids: dict[str, list[str]] = {}
    # search only once the other process has written everything (a search that finds
    # nothing relevant answers an empty list, so a race would fail the check)
    written_all = {"a": anyio.Event(), "b": anyio.Event()}

    async def writer(name: str) -> None:
        async with stdio(data, log, "--project", "shared") as c:
            mine = []
            for i in range(per_process):
                added = await call(
                    c, "add_memory", kind="fact", content=f"{name} wrote note {i} tok{name}x{i}"
                )
                mine.append(structured(added)["memory"]["id"])
            other = "b" if name == "a" else "a"
            written_all[name].set()
            await written_all[other].wait()
            for i in (0, per_process - 1):  # the other process's writes are searchable here
                found = await call(c, "search_memories", query=f"tok{other}x{i}", limit=50)
                assert structured(found)["hits"], f"{name} cannot find {other}'s note {i}"
            ids[name] = mine

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer, "a")
        tg.start_soon(writer, "b")

    written = set(ids["a"]) | set(ids["b"])
    assert len(written) == 2 * per_process
    with sqlite3.connect(data / "memsvc.db") as db:
        stored = {r[0] for r in db.execute("SELECT id FROM memory WHERE project_id = 'shared'")}
        pending = db.execute("SELECT count(*) FROM index_outbox WHERE applied_at IS NULL")
        assert pending.fetchone()[0] == 0
    assert stored == written
    # Read the index as it was left, without the start-up reconciliation that would hide loss.
    snap = LanceIndex(str(data / "lance"), "hash-64", 64).snapshot("shared")
    assert set(snap.ids) == written
    assert max(Counter(snap.ids).values()) == 1, "a memory is indexed twice"
