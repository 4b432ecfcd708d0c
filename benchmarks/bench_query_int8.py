"""Query embedding on the int8 copy of the ONNX export against the fp32 graph (issue 11):
per-query latency, interleaved query by query in one process (the machine's noise falls
on both), and how far the int8 vectors lie from the fp32 ones.

Queries: the LoCoMo dev questions (``--data``, as agents ask: short questions naming
people and dates), the hand-written corpora's queries and synthetic engineering queries.
Both embedders are ``MiniLMEmbedder(backend="onnx")``, one thread, ``quantized_queries``
on and off.

    python benchmarks/bench_query_int8.py --data ../shared/bench/locomo_dev.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.common import RESULTS, header, pct, synthetic_queries
from benchmarks.corpora import CHECK, FIT


def queries(data: Path, limit: int) -> dict[str, list[str]]:
    """The query sets, each at most ``limit`` long."""
    convs = json.loads(data.read_text(encoding="utf-8"))
    locomo = [q["question"] for c in convs for q in c["qa"]]
    notes = [text for p in (*FIT, *CHECK) for text, _ in p.queries]
    return {
        "LoCoMo dev questions": locomo[:limit],
        "hand-written corpora queries": notes[:limit],
        "synthetic engineering queries": synthetic_queries(limit, seed=5),
    }


def measure(texts: list[str]) -> dict[str, list[float]]:
    """Milliseconds per query for each graph, interleaved, and each query's cosine."""
    from memsvc.retrieval.embedder import MiniLMEmbedder

    q8 = MiniLMEmbedder(backend="onnx", threads=1, quantized_queries=True)
    fp32 = MiniLMEmbedder(backend="onnx", threads=1, quantized_queries=False)
    for e in (q8, fp32):
        e.warm()
        for t in texts[:10]:
            e.embed_query(t)
    out: dict[str, list[float]] = {"int8": [], "fp32": [], "cosine": []}
    for i, text in enumerate(texts):
        vecs = {}
        order = [("int8", q8), ("fp32", fp32)]
        for name, e in order if i % 2 == 0 else order[::-1]:
            begin = time.perf_counter()
            vecs[name] = e.embed_query(text)
            out[name].append(1000 * (time.perf_counter() - begin))
        out["cosine"].append(float(vecs["int8"] @ vecs["fp32"]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--limit", type=int, default=400)
    p.add_argument("--out", type=Path, default=RESULTS / "query_int8.md")
    args = p.parse_args()
    command = f"python benchmarks/bench_query_int8.py --data {args.data} --limit {args.limit}"
    lines = header("Query embedding: int8 copy of the ONNX export vs fp32", command)
    lines += [
        f"- load average at the start {os.getloadavg()[0]:.2f}; one process, one thread per "
        "graph, each query embedded by both in turn (which goes first alternates)",
        "",
        "| queries | n | fp32 p50 / p95 ms | int8 p50 / p95 ms | int8 / fp32 (p50) |"
        " cosine int8 vs fp32: mean / min |",
        "|---|---|---|---|---|---|",
    ]
    for name, texts in queries(args.data, args.limit).items():
        m = measure(texts)
        f50, q50 = statistics.median(m["fp32"]), statistics.median(m["int8"])
        lines.append(
            f"| {name} | {len(texts)} | {f50:.2f} / {pct(m['fp32'], 95):.2f} | "
            f"{q50:.2f} / {pct(m['int8'], 95):.2f} | {q50 / f50:.2f} | "
            f"{float(np.mean(m['cosine'])):.4f} / {min(m['cosine']):.4f} |"
        )
        print(lines[-1], flush=True)
    lines.append(f"\nLoad average at the end {os.getloadavg()[0]:.2f}.")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
