"""Query embedding latency and batch throughput of the bundled MiniLM: torch vs ONNX
Runtime, 1 vs 2 intra-op threads, idle vs under a competing CPU load, in one run.

Each configuration runs in its own subprocess (torch's thread count is process-wide and
set once), loads the model from scratch (its load time is reported too), embeds single
queries never seen before and batches of 64 memories. "Loaded" means one busy-looping
process per core running beside it for the whole measurement, as a busy server would.

    python benchmarks/bench_embed.py [--queries 150] [--batches 6] [--out results/embed.md]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, header, pct, synthetic_memories, synthetic_queries


def _spin(stop: float) -> None:
    x = 0
    while time.monotonic() < stop:
        x += 1


def worker(backend: str, threads: int, queries: int, batches: int, cache: str) -> dict[str, object]:
    """Measure one configuration in this process; returns the numbers as a dict."""
    from memsvc.retrieval.embedder import MiniLMEmbedder

    started = time.perf_counter()
    embedder = MiniLMEmbedder(backend=backend, threads=threads, cache_dir=Path(cache))
    embedder.warm()
    load_s = time.perf_counter() - started
    assert embedder.backend == backend
    texts = [t for _, t in synthetic_memories(64 * (batches + 1), seed=3)]
    qs = synthetic_queries(queries + 10, seed=5)
    for q in qs[:10]:  # warm the kernels and allocator
        embedder.embed([q])
    embedder.embed(texts[:64])
    query_ms = []
    for q in qs[10:]:
        t0 = time.perf_counter()
        embedder.embed([q])
        query_ms.append((time.perf_counter() - t0) * 1000)
    rates = []
    for b in range(1, batches + 1):
        chunk = texts[64 * b : 64 * (b + 1)]
        t0 = time.perf_counter()
        embedder.embed(chunk)
        rates.append(len(chunk) / (time.perf_counter() - t0))
    # the lock the torch path takes around tokenisation, uncontended
    lock = threading.Lock()
    t0 = time.perf_counter()
    for _ in range(100_000):
        with lock:
            pass
    lock_us = (time.perf_counter() - t0) / 100_000 * 1e6
    return {
        "load_s": load_s,
        "q_p50": statistics.median(query_ms),
        "q_p95": pct(query_ms, 95),
        "q_min": min(query_ms),
        "q_max": max(query_ms),
        "b_median": statistics.median(rates),
        "b_min": min(rates),
        "b_max": max(rates),
        "lock_us": lock_us,
    }


def run_config(
    backend: str, threads: int, loaded: bool, args: argparse.Namespace, cache: str
) -> dict[str, object]:
    """One configuration in a fresh subprocess, with the competing load around it."""
    spinners: list[multiprocessing.Process] = []
    if loaded:
        stop = time.monotonic() + 600
        spinners = [
            multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
            for _ in range(os.cpu_count() or 2)
        ]
        for p in spinners:
            p.start()
    try:
        load_before = os.getloadavg()[0]
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            backend,
            str(threads),
            "--queries",
            str(args.queries),
            "--batches",
            str(args.batches),
            "--cache",
            cache,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        result = dict(json.loads(out.strip().splitlines()[-1]))
        # the machine is shared: the 1-minute load average says how idle "idle" was
        result["loadavg"] = f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"
        return result
    finally:
        for p in spinners:
            p.terminate()
            p.join()


def export_time(cache: str) -> float:
    """Seconds for a fresh process to export the bundled model to ONNX and load it."""
    code = (
        "import time,sys; from pathlib import Path; t=time.perf_counter();"
        "from memsvc.retrieval.embedder import MiniLMEmbedder;"
        f"MiniLMEmbedder(backend='onnx', cache_dir=Path({cache!r})).warm();"
        "print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("BACKEND", "THREADS"))
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--cache", default="")
    parser.add_argument("--out", type=Path, default=RESULTS / "embed.md")
    args = parser.parse_args()
    if args.worker:
        backend, threads = args.worker
        result = worker(backend, int(threads), args.queries, args.batches, args.cache)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="memsvc-bench-onnx-") as cache:
        export_s = export_time(cache)
        rows = []
        for loaded in (False, True):
            for backend in ("torch", "onnx"):
                for threads in (1, 2):
                    r = run_config(backend, threads, loaded, args, cache)
                    rows.append((backend, threads, loaded, r))
                    print(backend, threads, "loaded" if loaded else "idle", r, flush=True)

    lines = header(
        "Embedding: torch vs ONNX Runtime, threads, contention",
        f"python benchmarks/bench_embed.py --queries {args.queries} --batches {args.batches}",
    )
    lines += [
        f"Bundled all-MiniLM-L6-v2 through `MiniLMEmbedder(backend=..., threads=...)`. Each row "
        "is a fresh subprocess: model load (ONNX from the cached local export), then "
        f"{args.queries} single queries never seen before (synthetic, ~10 tokens) and "
        f"{args.batches} batches of 64 synthetic memories (~25 tokens). *loaded*: one "
        "busy-looping process per core beside it for the whole row; *loadavg*: the machine's "
        "1-minute load average before-after the row (other work shares this machine). "
        "Query latency in ms "
        "(p50 / p95 / min-max); batch throughput in texts/s (median, min-max over batches).",
        "",
        f"- one-off ONNX export from the bundled weights (fresh process, import + export + "
        f"load): {export_s:.1f} s",
        f"- uncontended lock acquire+release (the torch path's tokenizer lock): "
        f"{float(rows[0][3]['lock_us']):.2f} µs per call",
        "",
        "| backend | threads | CPU | loadavg | load s | query p50 | query p95 | query range "
        "| batch-64 texts/s | batch range |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, threads, loaded, r in rows:
        lines.append(
            f"| {backend} | {threads} | {'loaded' if loaded else 'idle'} | {r['loadavg']} "
            f"| {float(r['load_s']):.1f} | {float(r['q_p50']):.2f} | {float(r['q_p95']):.2f} "
            f"| {float(r['q_min']):.1f}-{float(r['q_max']):.1f} "
            f"| {float(r['b_median']):.0f} | {float(r['b_min']):.0f}-{float(r['b_max']):.0f} |"
        )
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
