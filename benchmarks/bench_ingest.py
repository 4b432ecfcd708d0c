"""Ingest rate against project size (issue 11): one project filled through the service
(``add_memories``, batches of 500, the deterministic fill embedder of ``bench_scale.py``)
in-process, with every batch's rate logged against the rows held before it.

    .venv/bin/python benchmarks/bench_ingest.py --root /tmp/memsvc-scale \\
        --sizes 10000,100000,1000000 --out benchmarks/results/ingest.md

The data dir (``--root``/``ingest-one``) grows across runs: a run tops it up to the
largest size, appending each batch's (rows held, memories, seconds) to ``batches.jsonl``
beside it, and reports, per size asked, the median and range of the ``--window``
batches written from that size on. ``--profile`` runs one batch under cProfile at each
size reached and writes the top functions to ``--root``/``profile-<rows>.txt``.

The fill runs with the server's background maintenance on (compaction and the vector
index builder, as ``memsvc serve`` would), so its cost is in the figures; with
``--no-background`` it runs without them (as ``bench_scale.py`` fills) and compacts the
table once at the end. numpy's BLAS is kept to one thread, as a server does once its
model is loaded.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import pstats
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits

from benchmarks.bench_scale import (
    ACTOR,
    BATCH,
    fill_embedder,
    held,
    loadavg,
    server_embedder,
    split_sizes,
)
from benchmarks.common import header, iter_synthetic_memories
from memsvc import MemoryDraft, Settings
from memsvc.bootstrap import build_components
from memsvc.domain import Kind

PROJECT = "scale"
SEED = 7


def batches_from(have: int) -> Iterator[list[MemoryDraft]]:
    """The seeded corpus's rows past the first ``have``, as drafts in batches of ``BATCH``
    (streamed: a 1M fill never holds a million strings at once)."""
    rows = itertools.islice(iter_synthetic_memories(SEED), have, None)
    while batch := list(itertools.islice(rows, BATCH)):
        yield [MemoryDraft(kind=Kind(k), content=c) for k, c in batch]


def profile_batch(svc: Any, drafts: list[MemoryDraft], have: int, root: Path) -> float:
    """One batch under cProfile; the top 45 functions by cumulative time to a file."""
    prof = cProfile.Profile()
    begin = time.perf_counter()
    prof.enable()
    svc.add_memories(ACTOR, PROJECT, drafts)
    prof.disable()
    took = time.perf_counter() - begin
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(45)
    path = root / f"profile-{have}.txt"
    path.write_text(f"batch of {len(drafts)} at {have} rows: {took:.2f} s\n{out.getvalue()}")
    print(f"profiled a batch at {have} rows: {took:.2f} s -> {path}", flush=True)
    return took


def fill(args: argparse.Namespace) -> None:
    """Top the project up to the largest size, logging every batch."""
    data = args.root / "ingest-one"
    settings = Settings(
        data_dir=data,
        background=not args.no_background,
        embedder=server_embedder(args.embedder),
        **dict(args.setting),
    )
    target, to_profile = max(args.sizes), sorted(args.sizes) if args.profile else []
    # a server keeps numpy's BLAS to one thread once its model is loaded (embedder.py);
    # the fill embedder loads none, so do the same here
    threadpool_limits(1, user_api="blas")
    with (
        build_components(settings, embedder=fill_embedder(args.embedder)) as parts,  # type: ignore[arg-type]
        (args.root / "ingest-batches.jsonl").open("a") as log,
    ):
        svc = parts.service
        have, warm = held(svc, PROJECT), False
        for drafts in batches_from(have):
            drafts = drafts[: target - have]
            if not drafts:
                break
            # one profiled batch per size reached, after one warm-up batch in this process
            if to_profile and to_profile[0] <= have and warm:
                to_profile = [s for s in to_profile if s > have]
                profile_batch(svc, drafts, have, args.root)
                have += len(drafts)
                continue
            begin = time.perf_counter()
            svc.add_memories(ACTOR, PROJECT, drafts)
            took = time.perf_counter() - begin
            log.write(json.dumps({"held": have, "n": len(drafts), "s": took, "at": time.time()}))
            log.write("\n")
            log.flush()
            have, warm = have + len(drafts), True
            if have % 10_000 == 0:
                print(f"{have} rows, last batch {len(drafts) / took:.0f}/s, load {loadavg()}")
        if args.no_background:  # what the background compaction would have done meanwhile
            begin = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parts.index.optimize(PROJECT, cleanup_older_than=timedelta(0))
            print(f"compacted in {time.perf_counter() - begin:.0f} s", flush=True)


def window(batches: list[dict[str, float]], size: int, count: int) -> list[float]:
    """The rates of the first ``count`` batches written at ``size`` rows or more."""
    after = sorted((b for b in batches if b["held"] >= size), key=lambda b: b["held"])
    return [b["n"] / b["s"] for b in after[:count]]


def report(args: argparse.Namespace, load: tuple[str, str]) -> str:
    log_path = args.root / "ingest-batches.jsonl"
    batches = [json.loads(line) for line in log_path.read_text().splitlines() if line]
    command = "python benchmarks/bench_ingest.py " + shlex.join(sys.argv[1:])
    lines = header("Ingest rate against project size", command)
    lines += [
        f"- load average (1/5/15 min) at start: {load[0]}; at the end: {load[1]} "
        "(2 cores shared with other jobs: expect noise)",
        "",
        f"Rate per `add_memories` call of {BATCH} memories, the first {args.window} batches "
        "written once the project held each size: median (min-max), memories/s.",
        "",
        "| rows held | batches | ingest/s median (min-max) | vs the first size |",
        "|---:|---:|---|---:|",
    ]
    base = None
    for size in sorted(args.sizes):
        rates = window(batches, size, args.window)
        if not rates:
            lines.append(f"| {size:,} | 0 | not reached | - |")
            continue
        med = statistics.median(rates)
        base = base or med
        lines.append(
            f"| {size:,} | {len(rates)} | {med:.0f} ({min(rates):.0f}-{max(rates):.0f}) "
            f"| {100 * med / base:.0f}% |"
        )
    sql, lance = split_sizes(args.root / "ingest-one")
    sizes = f"SQLite {sql / 2**20:.0f} MB, LanceDB {lance / 2**20:.0f} MB"
    lines += ["", f"Data dir after the fill: {sizes}."]
    return "\n".join(lines) + "\n"


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("/tmp/memsvc-scale"))
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--embedder", choices=["minilm", "hash"], default="minilm")
    p.add_argument("--window", type=int, default=10, help="batches per size in the report")
    p.add_argument("--profile", action="store_true", help="cProfile one batch at each size")
    p.add_argument("--no-background", action="store_true", help="no compaction or index builds")
    p.add_argument("--setting", action="append", default=[], help="Settings field=value")
    p.add_argument("--out", type=Path, default=None, help="markdown report (default: print)")
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.setting = [tuple(e.split("=", 1)) for e in args.setting]
    return args


def main() -> None:
    args = parse()
    args.root.mkdir(parents=True, exist_ok=True)
    load_start = loadavg()
    fill(args)
    text = report(args, (load_start, loadavg()))
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
