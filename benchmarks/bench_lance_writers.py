"""Two processes writing one LanceDB table at once, without memsvc's per-project lock:
do commits conflict, does LanceDB retry them, does anything get lost or doubled?

Each worker process upserts its own memories the way ``LanceIndex.upsert`` does (delete
by id, then add), ``--rows`` times, into one shared table; at the end the table must hold
every id exactly once. Run on a local directory and on S3 (moto server on loopback):

    .venv/bin/python -m benchmarks.bench_lance_writers --rows 150
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections import Counter
from typing import Any

import numpy as np

DIM = 32


def _connect(uri: str, options: dict[str, str] | None) -> Any:
    from datetime import timedelta

    import lancedb

    return lancedb.connect(uri, read_consistency_interval=timedelta(0), storage_options=options)


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), DIM), nullable=False),
        ]
    )


def _worker(uri: str, options: dict[str, str] | None, wid: int, rows: int, out: Any) -> None:
    table = _connect(uri, options).open_table("t")
    rng = np.random.default_rng(wid)
    errors: Counter[str] = Counter()
    lat: list[float] = []
    for n in range(rows):
        rid = f"w{wid}-{n:05d}"
        vec = rng.standard_normal(DIM).astype(np.float32).tolist()
        for attempt in range(5):
            start = time.perf_counter()
            try:
                table.delete(f"id IN ('{rid}')")
                table.add([{"id": rid, "vector": vec}])
                lat.append(time.perf_counter() - start)
                break
            except Exception as exc:
                errors[f"{type(exc).__name__}: {str(exc)[:90]}"] += 1
                if attempt == 4:
                    errors["gave up"] += 1
    out.put({"wid": wid, "errors": dict(errors), "lat": lat})


def run(uri: str, options: dict[str, str] | None, workers: int, rows: int) -> dict[str, Any]:
    """``workers`` processes upserting ``rows`` ids each into one table; what happened."""
    _connect(uri, options).create_table("t", schema=_schema(), mode="overwrite")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(uri, options, w, rows, out)) for w in range(workers)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - start
    ids = _connect(uri, options).open_table("t").to_arrow().column("id").to_pylist()
    counts = Counter(ids)
    lat = [x for r in results for x in r["lat"]]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    return {
        "uri": uri.split("://")[0] if "://" in uri else "local dir",
        "workers": workers,
        "upserts": workers * rows,
        "wall_s": round(wall, 1),
        "upsert_ms_median": round(1000 * statistics.median(lat), 1) if lat else None,
        "upsert_ms_range": [round(1000 * min(lat), 1), round(1000 * max(lat), 1)] if lat else None,
        "missing": workers * rows - len(counts),
        "doubled": sum(1 for c in counts.values() if c > 1),
        "errors": dict(errors),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=150)
    parser.add_argument("--s3", action="store_true", help="also on S3 (moto server)")
    args = parser.parse_args(argv)
    reports = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            reports.append(run(tmp, None, workers, args.rows))
    if args.s3:
        from tests.conftest import s3_server

        with s3_server("bench") as url:
            options = {
                "endpoint": url,
                "region": "us-east-1",
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
                "allow_http": "true",
            }
            for workers in (1, 2):
                reports.append(run(f"s3://bench/w{workers}", options, workers, args.rows))
    for r in reports:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
