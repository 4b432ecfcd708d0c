"""Query embedding: weight-only int8 (ONNX Runtime's ``MatMulNBits``) against the fp32
export and the shipped dynamic int8 copy (issue 11, the next lever after
``results/query_int8.md``).

A ~10-token query through MiniLM is bound by reading its weights (~90 MB of fp32 per
call), not by arithmetic: a copy whose MatMul weights are int8 in blocks, computed with
``accuracy_level`` 4 (int8 products) or 0/1 (fp32), reads a quarter of that. Needs
``pip install onnx_ir`` (the quantizer's import; not a memsvc dependency).

    .venv/bin/python benchmarks/bench_weight_only.py --queries 300
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import summary, synthetic_queries
from memsvc.retrieval.embedder import _model_dir, default_cache_dir
from memsvc.retrieval.onnx_embedder import OnnxMiniLM, _session

VARIANTS = [(8, 32, 4), (8, 128, 4), (4, 32, 4), (8, 32, None)]
"""(bits, block size, accuracy level) of the weight-only copies."""


def weight_only(src: Path, dest: Path, bits: int, block: int, accuracy: int | None) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q = MatMulNBitsQuantizer(
        onnx.load(str(src)),
        bits=bits,
        block_size=block,
        is_symmetric=True,
        accuracy_level=accuracy,
    )
    q.process()
    onnx.save(q.model.model, str(dest))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--queries", type=int, default=300)
    args = p.parse_args()
    model = OnnxMiniLM(_model_dir(), default_cache_dir(), quantized_queries=True)
    sessions = {  # the model's own two graphs, one thread each
        "fp32 (default)": model._session,
        "dynamic int8 (`quantized_queries`)": model._query_session,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for bits, block, acc in VARIANTS:
            dest = Path(tmp) / f"nb{bits}-{block}-{acc}.onnx"
            weight_only(model.path, dest, bits, block, acc)
            sessions[f"weight-only int{bits}, block {block}, accuracy {acc}"] = _session(dest, 1)
        encoded = [model._tokenizer.encode(q).ids for q in synthetic_queries(args.queries, seed=5)]
        times: dict[str, list[float]] = {k: [] for k in sessions}
        cosines: dict[str, list[float]] = {k: [] for k in sessions}
        for ids in encoded:  # every query through every graph in turn
            out = {}
            for name, s in sessions.items():
                t = time.perf_counter()
                out[name] = model._run([ids], s)[0]
                times[name].append(time.perf_counter() - t)
            ref = out["fp32 (default)"]
            for name, v in out.items():
                cosines[name].append(float(ref @ v / np.linalg.norm(ref) / np.linalg.norm(v)))
    tokens = statistics.median(len(x) for x in encoded)
    print(f"{len(encoded)} synthetic queries, median {tokens:.0f} tokens, one thread per graph\n")
    print("| graph | p50 ms | p95 ms | cosine to fp32: mean / min |")
    print("|---|---|---|---|")
    for name, v in times.items():
        p50, p95 = summary(v)
        c = cosines[name]
        print(f"| {name} | {p50:.2f} | {p95:.2f} | {np.mean(c):.5f} / {np.min(c):.5f} |")


if __name__ == "__main__":
    main()
