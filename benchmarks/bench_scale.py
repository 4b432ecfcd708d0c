"""Scale on one machine (issue 11): one project at 10k / 50k / 100k memories and many
projects on one server, each served by a real `memsvc serve` subprocess and measured over
HTTP: search p50/p95 with the server's own stage breakdown, ingest rate, RSS, data-dir size,
cold restart to the first answered search, and 4 concurrent clients' throughput.

    make bench-scale     # writes benchmarks/results/scale.md

    .venv/bin/python benchmarks/bench_scale.py --root /tmp/memsvc-scale \\
        --sizes 10000,50000,100000 --projects 200x1000 --embedder minilm \\
        --out benchmarks/results/scale.md

How data dirs are filled: see ``METHOD`` below.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, header, pct, synthetic_memories, synthetic_queries
from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, Settings
from memsvc.bootstrap import build_components
from memsvc.domain import Kind
from memsvc.errors import NotFound
from memsvc.retrieval.embedder import HashEmbedder, MiniLMEmbedder

ACTOR = Actor.local(Channel.CLI)
BATCH = 500
HOT_PROJECTS = 20
"""Projects searched again and again for the hot-project latency (many-project dirs)."""
DIM = 384
_STAGE = re.compile(r'^memsvc_search_stage_seconds_(sum|count)\{stage="(\w+)"\} (\S+)$')
METHOD = """Filling is resumable: each configuration has its own data dir under ``--root``
(``one-<size>``, ``many-<projects>x<rows>``); a run tops a dir up to its size and reuses
it as it is when full, and a bigger ``one-`` dir starts as a copy of the biggest full
smaller one. Memories are written through the service (``add_memories``, batches of 500,
validation, redaction, duplicate checks, SQL, audit, outbox, LanceDB) with a
deterministic hash embedder that files its 384-dim vectors under the query embedder's
identity, so a server with the real model answers from the same table (the vectors carry
no meaning: latencies are real, hits are not; quality is bench_quality.py's business).
Pass server settings with ``--env MEMSVC_X=y`` (e.g. another candidate path) to compare."""
_REQUEST = re.compile(r'^memsvc_request_seconds_(sum|count)\{route="([^"]*search[^"]*)"\} (\S+)$')


class FillEmbedder:
    """Hash vectors (words and word pairs) under another embedder's identity and dim."""

    def __init__(self, identity: str, dim: int) -> None:
        self.identity, self.dim = identity, dim
        self._hash = HashEmbedder(dim)

    def embed(self, texts: list[str]) -> Any:
        return self._hash.embed(texts)


def fill_embedder(name: str) -> FillEmbedder:
    if name == "minilm":
        return FillEmbedder(MiniLMEmbedder.identity, MiniLMEmbedder.dim)
    return FillEmbedder(f"hash-{DIM}", DIM)


def server_embedder(name: str) -> str:
    return "minilm" if name == "minilm" else f"hash-{DIM}"


# -- filling ------------------------------------------------------------------------------


@dataclass
class Filled:
    """What filling a data dir did (kept in ``fill.json`` so a resumed run can report it)."""

    rows: int = 0
    added: int = 0
    seconds: float = 0.0
    batch_rates: list[float] = field(default_factory=list)
    lance_before_compaction: int = 0
    compaction_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.added / self.seconds if self.seconds else 0.0


def held(svc: Any, project: str) -> int:
    try:
        stats = svc.project_stats(ACTOR, project)
    except NotFound:
        svc.create_project(ACTOR, ProjectCreate(id=project))
        return 0
    return sum(sum(kinds.values()) for kinds in stats.counts.values())


def top_up(svc: Any, project: str, target: int, seed: int, filled: Filled) -> None:
    """Add the project's missing memories (the seeded corpus's rows past those held)."""
    have = held(svc, project)
    items = synthetic_memories(target, seed=seed)[have:]
    for start in range(0, len(items), BATCH):
        drafts = [MemoryDraft(kind=Kind(k), content=c) for k, c in items[start : start + BATCH]]
        begin = time.perf_counter()
        svc.add_memories(ACTOR, project, drafts)
        took = time.perf_counter() - begin
        filled.batch_rates.append(len(drafts) / took)
        filled.seconds += took
        filled.added += len(drafts)
    filled.rows += target


def fill_dir(data: Path, plan: dict[str, int], embedder: str, log: Any) -> Filled:
    """Bring every project of ``plan`` in ``data`` to its size; compact what was added."""
    state = data / "fill.json"
    settings = Settings(data_dir=data, background=False, embedder=server_embedder(embedder))
    filled = Filled()
    with build_components(settings, embedder=fill_embedder(embedder)) as parts:  # type: ignore[arg-type]
        for n, (project, size) in enumerate(plan.items()):
            top_up(parts.service, project, size, seed=7 + n, filled=filled)
            if n % 50 == 49:
                log(f"  {data.name}: {n + 1}/{len(plan)} projects")
        if filled.added:
            filled.lance_before_compaction = split_sizes(data)[1]
            begin = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for project in plan:
                    parts.index.optimize(project, cleanup_older_than=timedelta(0))
            filled.compaction_s = time.perf_counter() - begin
    if not filled.added and state.exists():
        return Filled(**json.loads(state.read_text()))
    state.write_text(json.dumps(filled.__dict__))
    return filled


def seed_from_smaller(root: Path, size: int) -> None:
    """Start ``one-<size>`` as a copy of the biggest full smaller ``one-`` dir."""
    target = root / f"one-{size}"
    if target.exists():
        return
    smaller = []
    for d in root.glob("one-*"):
        n = int(d.name.split("-")[1])
        if n < size and (d / "fill.json").exists():
            smaller.append((n, d))
    if smaller:
        shutil.copytree(max(smaller)[1], target)
        (target / "fill.json").unlink()


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def split_sizes(data: Path) -> tuple[int, int]:
    """(SQLite bytes, LanceDB bytes) of a data dir."""
    sql = sum(f.stat().st_size for f in data.glob("memsvc.db*"))
    return sql, dir_bytes(data / "lance") if (data / "lance").exists() else 0


# -- the server ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) the process has used so far: on a shared
    machine a steadier measure of a search's cost than its latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def served(data: Path, embedder: str, extra_env: dict[str, str]) -> Iterator[tuple[Any, str]]:
    port = 19000 + os.getpid() % 500 + random.randint(0, 400)
    env = {**os.environ, "MEMSVC_DATA_DIR": str(data), "MEMSVC_EMBEDDER": embedder, **extra_env}
    exe = str(Path(sys.executable).with_name("memsvc"))
    with (data / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            [exe, "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            yield proc, f"http://127.0.0.1:{port}/api/v1"
        finally:
            proc.terminate()
            proc.wait(timeout=120)


def first_answer(base: str, project: str, started: float) -> float:
    """Seconds from the process's start to its first answered search."""
    with httpx.Client(base_url=base, timeout=300) as c:
        while True:
            try:
                r = c.post(f"/projects/{project}/search", json={"query": "where is the config"})
                if r.status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)


def listening(base: str, started: float) -> float:
    """Seconds from the process's start until ``/health`` answers (imports, migrations,
    opening the stores: what every start pays before any search)."""
    with httpx.Client(base_url=base, timeout=300) as c:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if c.get("/health").status_code == 200:
                    return time.perf_counter() - started
            time.sleep(0.05)


def reconciled(base: str, started: float, timeout_s: float = 1800) -> float:
    """Seconds from the process's start until readiness reports the start-up index
    reconciliation done (searches are answered meanwhile)."""
    with httpx.Client(base_url=base, timeout=300) as c:
        while time.perf_counter() - started < timeout_s:
            with contextlib.suppress(httpx.TransportError):
                if c.get("/ready").json()["checks"].get("startup") == "ok":
                    break
            time.sleep(0.2)
    return time.perf_counter() - started


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def gauges(c: httpx.Client) -> dict[str, float]:
    """The cache gauges and counters of ``/metrics`` (unlabelled ``memsvc_cache_*``)."""
    root = str(c.base_url).removesuffix("/").removesuffix("/api/v1")
    out = {}
    for line in c.get(f"{root}/metrics").text.splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("memsvc_cache_") and "{" not in name:
            out[name.removesuffix("_total")] = float(value)
    return out


def wait_vector_index(c: httpx.Client, timeout_s: float, big: bool) -> float:
    """With ``big`` (a project above the exact-scan threshold), wait until readiness
    reports its vector index built (a server without the ANN path reports nothing);
    returns the seconds waited."""
    begin = time.perf_counter()
    while big and time.perf_counter() - begin < timeout_s:
        ready = c.get("/ready").json()
        coarse = ready.get("coarse_index")
        if coarse and coarse["projects"]:  # search_ann=coarse: trained on the first search
            if not coarse["training"]:
                break
            time.sleep(2)
            continue
        state = ready.get("vector_index")
        if not state or (
            state["big_projects"]
            and not state["building"]
            and state["indexed_projects"] >= state["big_projects"]
        ):
            break
        time.sleep(2)
    return time.perf_counter() - begin


def stage_totals(c: httpx.Client) -> dict[str, tuple[float, float]]:
    """(sum seconds, count) per search stage, and for the search route as ``request``."""
    out: dict[str, list[float]] = {}
    root = str(c.base_url).removesuffix("/").removesuffix("/api/v1")
    for line in c.get(f"{root}/metrics").text.splitlines():
        m = _STAGE.match(line) or _REQUEST.match(line)
        if m:
            name = m.group(2) if m.re is _STAGE else "request"
            slot = out.setdefault(name, [0.0, 0.0])
            slot[0 if m.group(1) == "sum" else 1] += float(m.group(3))
    return {k: (v[0], v[1]) for k, v in out.items()}


def stage_means(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """Mean milliseconds per call of each stage between two scrapes."""
    means = {}
    for name, (total, count) in after.items():
        t0, c0 = before.get(name, (0.0, 0.0))
        if count > c0:
            means[name] = 1000 * (total - t0) / (count - c0)
    if "request" in means:  # the rest of the route: parsing, the audit event, the answer
        means["request, outside the stages"] = means["request"] - sum(
            v for k, v in means.items() if k != "request"
        )
    return means


def timed_searches(c: httpx.Client, pairs: list[tuple[str, str]]) -> list[float]:
    out = []
    for project, query in pairs:
        begin = time.perf_counter()
        c.post(f"/projects/{project}/search", json={"query": query}).raise_for_status()
        out.append(time.perf_counter() - begin)
    return out


def concurrent(base: str, pairs: list[tuple[str, str]], clients: int) -> tuple[float, list[float]]:
    """(searches per second, latencies) with ``clients`` threads sharing ``pairs``."""
    shares = [pairs[i::clients] for i in range(clients)]
    results: list[list[float]] = [[] for _ in range(clients)]

    def run(i: int) -> None:
        with httpx.Client(base_url=base, timeout=300) as c:
            results[i] = timed_searches(c, shares[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - begin
    return len(pairs) / wall, [x for r in results for x in r]


@dataclass
class Served:
    cold_s: list[float] = field(default_factory=list)
    health_s: list[float] = field(default_factory=list)
    reconciled_s: list[float] = field(default_factory=list)
    rss_reconciled_peak: int = 0
    rss_cold: int = 0
    hot: list[float] = field(default_factory=list)
    cache: dict[str, float] = field(default_factory=dict)
    rss: int = 0
    first_touch: list[float] = field(default_factory=list)
    search: list[float] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    throughput: float = 0.0
    concurrent: list[float] = field(default_factory=list)
    index_wait: float = 0.0
    cpu_ms: float = 0.0


def measure(data: Path, projects: list[str], rows_max: int, args: argparse.Namespace) -> Served:
    out = Served()
    embedder, env = server_embedder(args.embedder), dict(args.env)
    rng = random.Random(len(projects))
    for _ in range(args.restarts):  # cold restarts: process start to the first answer
        started = time.perf_counter()
        with served(data, embedder, env) as (proc, base):
            out.health_s.append(listening(base, started))
            out.cold_s.append(first_answer(base, rng.choice(projects), started))
            out.rss_cold = rss_bytes(proc.pid)
            out.reconciled_s.append(reconciled(base, started))
            out.rss_reconciled_peak = max(out.rss_reconciled_peak, peak_rss_bytes(proc.pid))
    with served(data, embedder, env) as (proc, base), httpx.Client(base_url=base) as c:
        first_answer(base, projects[0], time.perf_counter())
        c.timeout = httpx.Timeout(300)
        threshold = int(dict(args.env).get("MEMSVC_EXACT_SCAN_MAX_ROWS", 50_000))
        out.index_wait = wait_vector_index(c, args.index_wait, rows_max > threshold)
        if len(projects) > 1:  # every project's first search loads its state
            reconciled(base, time.perf_counter())  # (reconciliation must not skew this)
            touch = [(p, f"first look at {p}") for p in projects[1:]]
            out.first_touch = timed_searches(c, touch)
        queries = synthetic_queries(args.queries + args.concurrent_queries, seed=len(projects))
        pairs = [(rng.choice(projects), q) for q in queries]
        if len(projects) > 1:  # a few hot projects, searched again and again
            hot = projects[:: max(1, len(projects) // HOT_PROJECTS)][:HOT_PROJECTS]
            timed_searches(c, [(p, "warm up") for p in hot])
            out.hot = timed_searches(c, [(hot[i % len(hot)], q) for i, (_, q) in enumerate(pairs)])
        before, cpu_before = stage_totals(c), cpu_seconds(proc.pid)
        out.search = timed_searches(c, pairs[: args.queries])
        out.cpu_ms = (cpu_seconds(proc.pid) - cpu_before) / max(1, args.queries) * 1000
        out.stages = stage_means(before, stage_totals(c))
        out.throughput, out.concurrent = concurrent(base, pairs[args.queries :], args.clients)
        out.rss = rss_bytes(proc.pid)
        out.cache = gauges(c)
    return out


def rss_probe(data: Path, project: str, embedder: str) -> dict[str, float]:
    """``bench_row_memory.py --data-dir``'s in-process RSS figures, in a fresh process."""
    script = Path(__file__).with_name("bench_row_memory.py")
    identity = fill_embedder(embedder).identity
    command = [sys.executable, str(script), "--data-dir", str(data), "--project", project]
    done = subprocess.run(
        [*command, "--identity", identity],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def probe_text(probe: dict[str, float] | None) -> str:
    if not probe:
        return "-"
    peak = probe["after start-up"] - probe["baseline"]
    per_row = (probe["after loading, trimmed"] - probe["after start-up, trimmed"]) / probe["rows"]
    return f"+{peak:.0f} MB / {per_row * 1024:.1f} KB"


# -- the report ---------------------------------------------------------------------------


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    v = [x * 1000 for x in values]
    return f"{statistics.median(v):.1f} / {pct(v, 95):.1f} ({min(v):.1f}-{max(v):.1f})"


def mb(n: int) -> str:
    return f"{n / 2**20:.0f}"


def row(
    name: str, rows: int, filled: Filled, s: Served, data: Path, probe: dict[str, float] | None
) -> dict[str, str]:
    sql, lance = split_sizes(data)
    batches = filled.batch_rates or [0.0]
    cold = [x for x in s.cold_s]
    return {
        "config": name,
        "memories": f"{rows:,}",
        "search p50 / p95 (min-max), ms (random project)": ms(s.search),
        f"hot projects ({HOT_PROJECTS}) search p50 / p95 (min-max), ms": ms(s.hot),
        "first search of a project, p50 / p95, ms": ms(s.first_touch),
        "stages, mean ms": ", ".join(f"{k} {v:.1f}" for k, v in sorted(s.stages.items())),
        "server CPU per sequential search (all its threads), ms": f"{s.cpu_ms:.1f}",
        "4 clients: searches/s (p50 / p95 ms)": f"{s.throughput:.1f} ({ms(s.concurrent)})",
        "ingest/s per add_memories call (batches of <= 500): median (range)": (
            f"{statistics.median(batches):.0f} ({min(batches):.0f}-{max(batches):.0f})"
            if filled.batch_rates
            else "-"
        ),
        "cold restart to first answer, s: median (range)": (
            f"{statistics.median(cold):.1f} ({min(cold):.1f}-{max(cold):.1f})"
        ),
        "cold restart to /health answering, s: median (range)": (
            f"{statistics.median(s.health_s):.1f} ({min(s.health_s):.1f}-{max(s.health_s):.1f})"
            if s.health_s
            else "-"
        ),
        "cold restart to start-up reconciliation done, s: median (range)": (
            f"{statistics.median(s.reconciled_s):.1f} "
            f"({min(s.reconciled_s):.1f}-{max(s.reconciled_s):.1f})"
            if s.reconciled_s
            else "-"
        ),
        "peak RSS during start-up reconciliation (VmHWM), MB": mb(s.rss_reconciled_peak),
        "waited for the vector index before measuring, s": f"{s.index_wait:.0f}",
        "RSS after start / after the run, MB": f"{mb(s.rss_cold)} / {mb(s.rss)}",
        "cache after the run: projects held / estimated MB / full loads": (
            f"{s.cache.get('memsvc_cache_projects', 0):.0f} / "
            f"{s.cache.get('memsvc_cache_bytes', 0) / 2**20:.0f} / "
            f"{s.cache.get('memsvc_cache_full_loads', 0):.0f}"
        ),
        "in-process RSS: start-up growth / per memory loaded (trimmed)": probe_text(probe),
        "data dir: SQLite + LanceDB, MB": f"{mb(sql)} + {mb(lance)}",
        "LanceDB before compaction (this run's fill), MB": (
            mb(filled.lance_before_compaction) if filled.lance_before_compaction else "-"
        ),
    }


def render(rows: list[dict[str, str]], args: argparse.Namespace, load: tuple[str, str]) -> str:
    command = "python benchmarks/bench_scale.py " + shlex.join(sys.argv[1:])
    lines = header("Scale on one machine", f"make bench-scale  # {command}")
    lines += [
        f"- load average (1/5/15 min) at start: {load[0]}; at the end: {load[1]} "
        "(2 cores shared with other jobs: expect noise)",
        f"- server embedder: `{server_embedder(args.embedder)}`"
        + (" (the real all-MiniLM-L6-v2 embeds every query)" if args.embedder == "minilm" else ""),
        f"- server settings: {', '.join(f'`{k}={v}`' for k, v in args.env) or 'defaults'}",
        "",
        " ".join(METHOD.split()),
        "",
        f"Sequential searches: {args.queries} distinct queries; concurrent: "
        f"{args.concurrent_queries} more over {args.clients} clients; cold restarts: "
        f"{args.restarts}. Latencies are client-side over loopback HTTP. Stages come from "
        "the server's `memsvc_search_stage_seconds` (and `request`, the whole search "
        "route) over the sequential searches.",
        "",
    ]
    keys = list(rows[0])
    lines += ["| measure | " + " | ".join(r["config"] for r in rows) + " |"]
    lines += ["|---|" + "---|" * len(rows)]
    for k in keys[1:]:
        lines.append(f"| {k} | " + " | ".join(r[k] for r in rows) + " |")
    return "\n".join(lines) + "\n"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def configs(args: argparse.Namespace) -> list[tuple[str, dict[str, int]]]:
    out = [(f"one-{n}", {"scale": n}) for n in args.sizes]
    for spec in args.projects:
        count, rows = (int(x) for x in spec.split("x"))
        out.append((f"many-{spec}", {f"p{i:04d}": rows for i in range(count)}))
    return out


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("/tmp/memsvc-scale"))
    p.add_argument("--sizes", default="10000,50000,100000")
    p.add_argument("--projects", default="200x1000", help="comma list of PROJECTSxROWS")
    p.add_argument("--embedder", choices=["minilm", "hash"], default="minilm")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--concurrent-queries", type=int, default=200)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument(
        "--index-wait",
        type=float,
        default=1800,
        help="seconds to wait for a server's vector index builds before measuring",
    )
    p.add_argument("--env", action="append", default=[], help="MEMSVC_X=value for the server")
    p.add_argument(
        "--no-probe", action="store_true", help="skip the in-process RSS probe (a full load)"
    )
    p.add_argument(
        "--cache-mb",
        default="",
        help="comma list of MEMSVC_CACHE_MB values: each many-project dir is measured once "
        "per value, in this run (default: the server's own setting)",
    )
    p.add_argument("--out", type=Path, default=RESULTS / "scale.md")
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.projects = [s for s in args.projects.split(",") if s]
    args.env = [tuple(e.split("=", 1)) for e in args.env]
    args.cache_mb = [int(x) for x in args.cache_mb.split(",") if x]
    return args


def main() -> None:
    args = parse()
    np.seterr(all="ignore")
    load_start = loadavg()
    args.root.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, plan in configs(args):
        log = lambda msg: print(msg, flush=True)  # noqa: E731
        if name.startswith("one-"):
            seed_from_smaller(args.root, plan["scale"])
        data = args.root / name
        begin = time.perf_counter()
        filled = fill_dir(data, plan, args.embedder, log)
        took = time.perf_counter() - begin
        log(f"{name}: filled (+{filled.added} at {filled.rate:.0f}/s) in {took:.0f}s")
        budgets = args.cache_mb if name.startswith("many-") and args.cache_mb else [None]
        for budget in budgets:
            run = argparse.Namespace(**vars(args))
            if budget is not None:
                run.env = [*args.env, ("MEMSVC_CACHE_MB", str(budget))]
            label = name if budget is None else f"{name}, MEMSVC_CACHE_MB={budget}"
            served_ = measure(data, list(plan), max(plan.values()), run)
            probe = (
                rss_probe(data, "scale", args.embedder)
                if name.startswith("one-") and not args.no_probe
                else None
            )
            rows.append(row(label, sum(plan.values()), filled, served_, data, probe))
            log(f"{label}: measured {rows[-1]} (load {loadavg()})")
            args.out.write_text(render(rows, args, (load_start, loadavg())))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
