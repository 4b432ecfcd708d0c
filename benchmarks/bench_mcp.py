"""MCP latency: round trips of search_memories and get_context over stdio and streamable
HTTP at 1k memories, and the cold start of `memsvc mcp` to its first answered tool call.

    .venv/bin/python benchmarks/bench_mcp.py [--calls 200] [--memories 1000] [--embedder minilm]

Writes benchmarks/results/mcp.md.

    .venv/bin/python benchmarks/bench_mcp.py --payload [--calls 200] [--embedder hash]

measures what the MCP payloads cost instead: tools/list characters, a 10-hit search's
structured result against its text, and in-memory round trips of the SDK client (which
re-validates every structured result against the listed output schema). Writes
benchmarks/results/mcp_payload.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from benchmarks.common import cpu_model
from memsvc import Actor, Channel, Kind, MemoryDraft, ProjectCreate, Settings, build_service

ROOT = Path(__file__).resolve().parent.parent
MEMSVC = str(Path(sys.executable).with_name("memsvc"))
TOPICS = ["database", "deploy", "auth", "billing", "search", "cache", "tests", "logging", "ui"]
VERBS = ["uses", "avoids", "prefers", "migrated to", "depends on", "was split from"]
THINGS = ["postgres", "redis", "argo", "pytest", "stripe", "oauth", "kafka", "nginx", "s3"]
KINDS = [Kind.FACT, Kind.DECISION, Kind.PREFERENCE, Kind.RULE]


def populate(data_dir: Path, embedder: str, n: int) -> None:
    rng = random.Random(7)
    settings = Settings(data_dir=data_dir, embedder=embedder, background=False)
    actor = Actor.local(Channel.CLI)
    with build_service(settings) as service:
        service.create_project(actor, ProjectCreate(id="bench", root_paths=[]))
        drafts = [
            MemoryDraft(
                kind=KINDS[3] if i % 20 == 0 else KINDS[i % 3],
                content=f"The {rng.choice(TOPICS)} module {rng.choice(VERBS)} "
                f"{rng.choice(THINGS)} since sprint {i} (note {i}).",
            )
            for i in range(n)
        ]
        for start in range(0, n, 500):
            service.add_memories(actor, "bench", drafts[start : start + 500])


def env_for(data_dir: Path, embedder: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSVC_")}
    env.update(MEMSVC_DATA_DIR=str(data_dir), MEMSVC_EMBEDDER=embedder)
    return env


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def round_trips(c: Client, calls: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    out: dict[str, list[float]] = {"search_memories": [], "get_context": []}
    await c.call_tool("search_memories", {"query": "warm up the model"})
    for i in range(calls):
        query = f"{rng.choice(TOPICS)} {rng.choice(THINGS)} {i}"
        for tool, args in (
            ("search_memories", {"query": query, "limit": 10}),
            ("get_context", {"task": query, "budget_tokens": 2000}),
        ):
            t = time.perf_counter()
            result = await c.call_tool(tool, args)
            out[tool].append((time.perf_counter() - t) * 1000)
            assert not result.is_error, result.content
    return out


async def bench_stdio(data_dir: Path, embedder: str, calls: int) -> dict[str, list[float]]:
    params = StdioServerParameters(
        command=MEMSVC, args=["mcp", "--project", "bench"], env=env_for(data_dir, embedder)
    )
    with open(os.devnull, "w") as devnull:
        async with Client(stdio_client(params, errlog=devnull), mode="legacy") as c:
            return await round_trips(c, calls)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench_http(data_dir: Path, embedder: str, calls: int) -> dict[str, list[float]]:
    port = free_port()
    env = env_for(data_dir, embedder) | {"MEMSVC_PROJECT": "bench"}
    proc = subprocess.Popen(
        [MEMSVC, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        async with Client(url + "/mcp", mode="legacy") as c:
            return await round_trips(c, calls)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def cold_start(data_dir: Path, embedder: str, tool: str, args: dict[str, Any]) -> float:
    params = StdioServerParameters(
        command=MEMSVC, args=["mcp", "--project", "bench"], env=env_for(data_dir, embedder)
    )
    t = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        async with Client(stdio_client(params, errlog=devnull), mode="legacy") as c:
            result = await c.call_tool(tool, args)
            elapsed = time.perf_counter() - t
            assert not result.is_error, result.content
    return elapsed


def machine() -> str:
    model = cpu_model()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores ({model}), {platform.python_version()}, load average {load}"


def row(name: str, samples: list[float]) -> str:
    return (
        f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {pct(samples, 0.95):.1f} |"
    )


async def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        populate(data_dir, args.embedder, args.memories)
        stdio_ms = await bench_stdio(data_dir, args.embedder, args.calls)
        http_ms = await bench_http(data_dir, args.embedder, args.calls)
        first: dict[str, list[float]] = {"get_context (no model needed)": [], "search_memories": []}
        for _ in range(args.cold_runs):
            first["get_context (no model needed)"].append(
                await cold_start(data_dir, args.embedder, "get_context", {})
            )
            first["search_memories"].append(
                await cold_start(data_dir, args.embedder, "search_memories", {"query": "deploy"})
            )
    lines = [
        "# MCP latency",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M}Z",
        f"- machine: {machine()}",
        f"- command: `.venv/bin/python benchmarks/bench_mcp.py --calls {args.calls} "
        f"--memories {args.memories} --embedder {args.embedder} --cold-runs {args.cold_runs}`",
        f"- data: {args.memories} memories in one project; embedder `{args.embedder}`; "
        "client: the mcp SDK `Client` (legacy handshake), one call at a time",
        "",
        "## Round trips (ms)",
        "",
        "| transport · tool | calls | p50 | p95 |",
        "|---|---|---|---|",
        row("stdio · search_memories", stdio_ms["search_memories"]),
        row("stdio · get_context (task, 2000 tokens)", stdio_ms["get_context"]),
        row("HTTP /mcp · search_memories", http_ms["search_memories"]),
        row("HTTP /mcp · get_context (task, 2000 tokens)", http_ms["get_context"]),
        "",
        "## Cold start of `memsvc mcp`: spawn to first answered tool call (s)",
        "",
        "| first call | runs | median | max |",
        "|---|---|---|---|",
    ]
    for name, samples in first.items():
        lines.append(
            f"| {name} | {len(samples)} | {statistics.median(samples):.2f} | {max(samples):.2f} |"
        )
    lines += [
        "",
        "`initialize` never waits for the model: it loads in a background thread after start-up;",
        "a first `search_memories` waits for it, a first `get_context` without a task does not.",
        "",
    ]
    return "\n".join(lines)


async def payload(args: argparse.Namespace) -> str:
    """tools/list size, 10-hit search sizes and in-memory round trips (client validating)."""
    from mcp_server import create_mcp_server

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        populate(data_dir, args.embedder, args.memories)
        settings = Settings(
            data_dir=data_dir, embedder=args.embedder, background=False, project="bench"
        )
        with build_service(settings) as service:
            async with Client(create_mcp_server(service, settings)) as c:
                listed = await c.list_tools()
                tools_chars = len(listed.model_dump_json(by_alias=True, exclude_none=True))
                out_chars = sum(len(json.dumps(t.output_schema or {})) for t in listed.tools)
                found = await c.call_tool("search_memories", {"query": "deploy", "limit": 10})
                text = found.content[0].text  # type: ignore[union-attr]
                data = json.dumps(found.structured_content, separators=(",", ":"))
                ms = await round_trips(c, args.calls)
    ratio = len(data) / len(text)
    return "\n".join(
        [
            "# MCP payloads",
            "",
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M}Z",
            f"- machine: {machine()}",
            f"- command: `.venv/bin/python benchmarks/bench_mcp.py --payload --calls {args.calls} "
            f"--memories {args.memories} --embedder {args.embedder}`",
            "- client: the mcp SDK `Client` in memory (validates structured results)",
            "",
            "| measure | value |",
            "|---|---|",
            f"| tools/list JSON (chars) | {tools_chars} |",
            f"| of which output schemas (chars) | {out_chars} |",
            f"| tools | {len(listed.tools)} |",
            f"| 10-hit search text (chars) | {len(text)} |",
            f"| 10-hit search structured JSON (chars) | {len(data)} ({ratio:.2f}x text) |",
            f"| search_memories round trip p50 / p95 (ms) | "
            f"{statistics.median(ms['search_memories']):.1f} / "
            f"{pct(ms['search_memories'], 0.95):.1f} |",
            f"| get_context round trip p50 / p95 (ms) | "
            f"{statistics.median(ms['get_context']):.1f} / {pct(ms['get_context'], 0.95):.1f} |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--payload", action="store_true", help="measure payload sizes")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    name = "mcp_payload.md" if args.payload else "mcp.md"
    args.out = args.out or ROOT / "benchmarks/results" / name
    report = anyio.run(payload if args.payload else run, args)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
