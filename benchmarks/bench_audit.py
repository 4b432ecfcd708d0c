"""What auditing costs: add and search latency with the real audit recorder (hash chain +
signed checkpoints) beside the same operations with a no-op recorder, in the same run and
interleaved; then how long verification takes over 100k events.

The no-op recorder exists only here, substituted through ``build_service(audit=...)``:
production has no switch to turn auditing off.

    .venv/bin/python benchmarks/bench_audit.py [--embedder minilm|hash] [--events 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session
from ulid import ULID

from benchmarks.common import cpu_model
from memsvc import Actor, Channel, MemoryDraft, ProjectCreate, SearchQuery, Settings, build_service
from memsvc.audit.checkpoints import Checkpointer
from memsvc.audit.export import write_bundle
from memsvc.audit.ledger import AuditLog
from memsvc.audit.verification import verify_store
from memsvc.bootstrap import build_components
from memsvc.clock import utcnow
from memsvc.domain import Outcome
from memsvc.retrieval.embedder import HashEmbedder, MiniLMEmbedder
from memsvc.store.models import AuditEventRow

ACTOR = Actor.local(Channel.REST)
TOPICS = ["postgres", "deploy", "pytest", "ruff", "docker", "redis", "auth", "cache", "logging"]


class NoopAudit(AuditLog):
    """Records nothing: the baseline the real recorder is compared with."""

    def record(self, session: Session, **_: Any) -> AuditEventRow:
        return AuditEventRow(
            seq=0,
            chain="",
            ts=utcnow(),
            principal="",
            channel="",
            action="",
            outcome="ok",
            prev_hash="",
            hash="",
        )


def _text(i: int) -> str:
    a, b = TOPICS[i % len(TOPICS)], TOPICS[(i * 7 + 3) % len(TOPICS)]
    return f"note {i}: the {a} setup depends on {b}; see runbook section {i % 97}"


def _ms(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.95)] * 1000


def latency(embedder_name: str, seed_rows: int, rounds: int, block: int) -> dict[str, Any]:
    emb = MiniLMEmbedder() if embedder_name == "minilm" else HashEmbedder(64)
    if isinstance(emb, MiniLMEmbedder):
        emb.warm()
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        services = {}
        for name, audit in (("audited", None), ("no-op", NoopAudit())):
            settings = Settings(data_dir=Path(tmp) / name, embedder="hash", background=False)
            svc = stack.enter_context(build_service(settings, embedder=emb, audit=audit))
            svc.create_project(ACTOR, ProjectCreate(id="bench"))
            drafts = [MemoryDraft(kind="fact", content=_text(i)) for i in range(seed_rows)]
            for start in range(0, seed_rows, 500):
                svc.add_memories(ACTOR, "bench", drafts[start : start + 500])
            services[name] = svc
            results[name] = {"add": [], "search": []}
        n = seed_rows
        for r in range(rounds):  # interleave blocks so machine noise hits both sides alike
            order = list(services.items()) if r % 2 == 0 else list(services.items())[::-1]
            for name, svc in order:
                for _ in range(block):
                    n += 1
                    t0 = time.perf_counter()
                    svc.add_memory(ACTOR, "bench", MemoryDraft(kind="fact", content=_text(n)))
                    results[name]["add"].append(time.perf_counter() - t0)
                    q = SearchQuery(query=f"{TOPICS[n % 9]} {TOPICS[(n + 4) % 9]}", limit=10)
                    t0 = time.perf_counter()
                    svc.search_memories(ACTOR, "bench", q)
                    results[name]["search"].append(time.perf_counter() - t0)
    out: dict[str, Any] = {}
    for op in ("add", "search"):
        real, base = _ms(results["audited"][op]), _ms(results["no-op"][op])
        out[op] = {"audited": real, "no-op": base, "overhead": (real[0] / base[0] - 1) * 100}
    out["samples"] = len(results["audited"]["add"])
    return out


def _generate(svc_db: Any, audit: AuditLog, events: int) -> None:
    per_tx = 1000
    for start in range(0, events, per_tx):
        with svc_db.maintenance() as s:
            for i in range(start, min(events, start + per_tx)):
                ids = [str(ULID()) for _ in range(i % 4)]
                audit.record(
                    s,
                    actor=ACTOR,
                    action="search_memories",
                    project="bench",
                    outcome=Outcome.OK,
                    returned_ids=ids,
                    detail={"query": _text(i)[:40]},
                )


def verify_cost(events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "v", embedder="hash", background=False)
        with build_components(settings, embedder=HashEmbedder(64)) as parts:
            svc = parts.service
            svc.create_project(ACTOR, ProjectCreate(id="bench"))
            audit = AuditLog(False, Checkpointer.from_settings(settings))
            t0 = time.perf_counter()
            _generate(parts.db, audit, events)
            gen_s = time.perf_counter() - t0
            svc.checkpoint_audit()
            bundle = svc.export_audit(ACTOR, "bench")
        t0 = time.perf_counter()
        report = verify_store(settings)
        verify_s = time.perf_counter() - t0
        assert report.first is None, report.summary()
        out_dir = Path(tmp) / "export"
        write_bundle(bundle, out_dir)
        import subprocess

        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "verify_audit.py", "."], cwd=out_dir, capture_output=True, text=True
        )
        standalone_s = time.perf_counter() - t0
        assert done.returncode == 0, done.stdout
    return {
        "events": report.events,
        "checkpoints": report.checkpoints,
        "record_us": gen_s / events * 1e6,
        "verify_s": verify_s,
        "standalone_s": standalone_s,
    }


def recorder_cost(ops: int) -> dict[str, float]:
    """The recorder alone, as a read operation pays it: one write transaction holding one
    event (chain lookup, insert, references, a checkpoint every 100) vs the no-op."""
    out: dict[str, list[float]] = {"audited": [], "no-op": []}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "r", embedder="hash", background=False)
        with build_components(settings, embedder=HashEmbedder(64)) as parts:
            parts.service.create_project(ACTOR, ProjectCreate(id="bench"))
            recorders = {"audited": parts.audit, "no-op": NoopAudit()}
            for i in range(ops):
                for name, rec in recorders.items():
                    ids = [str(ULID()) for _ in range(10)]
                    t0 = time.perf_counter()
                    with parts.db.maintenance() as s:
                        rec.record(
                            s,
                            actor=ACTOR,
                            action="search_memories",
                            project="bench",
                            outcome=Outcome.OK,
                            returned_ids=ids,
                            detail={"query": _text(i)},
                        )
                    out[name].append(time.perf_counter() - t0)
    real, base = _ms(out["audited"]), _ms(out["no-op"])
    return {"audited": real[0], "no-op": base[0], "added_ms": real[0] - base[0], "ops": ops}


def _machine() -> str:
    cpu = cpu_model()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average at start {load:.2f}"
    )


def _recorder_section(rec: dict[str, float], machine: str) -> str:
    return "\n".join(
        [
            "",
            "## The recorder alone (what each operation pays for its event)",
            "",
            f"One write transaction holding one event with 10 returned ids, {rec['ops']:.0f} "
            "times each, interleaved (`--recorder-only`). Machine: " + machine + ".",
            "",
            "| recorder | p50 ms per transaction |",
            "|---|---|",
            f"| audited | {rec['audited']:.3f} |",
            f"| no-op (the transaction alone) | {rec['no-op']:.3f} |",
            f"| **added by auditing** | **{rec['added_ms']:.3f}** |",
            "",
        ]
    )


def _rows(res: dict[str, Any]) -> Iterator[str]:
    for op in ("add", "search"):
        r = res[op]
        yield (
            f"| {op} | {r['audited'][0]:.2f} | {r['no-op'][0]:.2f} | {r['overhead']:+.1f}% "
            f"| {r['audited'][1]:.2f} | {r['no-op'][1]:.2f} |"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="both", choices=["minilm", "hash", "both"])
    ap.add_argument("--seed-rows", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--block", type=int, default=20)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "audit.md"))
    ap.add_argument(
        "--recorder-only", action="store_true", help="only the recorder cost; append to --out"
    )
    args = ap.parse_args()
    if args.recorder_only:
        rec = recorder_cost(2000)
        print(rec, flush=True)
        with Path(args.out).open("a") as fh:
            fh.write(_recorder_section(rec, _machine()))
        return 0
    started = datetime.now(UTC)
    machine = _machine()
    names = ["minilm", "hash"] if args.embedder == "both" else [args.embedder]
    lat: dict[str, dict[str, Any]] = {}
    for name in names:
        lat[name] = latency(name, args.seed_rows, args.rounds, args.block)
        print(name, lat[name], flush=True)
    ver = verify_cost(args.events)
    print(ver, flush=True)
    command = " ".join([".venv/bin/python", "benchmarks/bench_audit.py", *sys.argv[1:]])
    lines = [
        "# Audit cost",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine} (the load average says whether anything else ran); the "
        "audited/no-op comparison is in the same process, interleaved.",
        f"- Command: `{command}`",
        f"- Store: SQLite (WAL) + LanceDB in a temp dir, {args.seed_rows} memories seeded per "
        f"side; {args.rounds} interleaved rounds of {args.block} add + {args.block} search"
        " per side.",
        "- `audited` = the production `AuditLog` (hash chain, memory references, Ed25519 "
        "checkpoint every 100 events per chain); `no-op` = a recorder that writes nothing, "
        "substituted in this benchmark only. Both still open the write transaction in which "
        "an operation's event would be recorded (it also records the principal's activity).",
        "",
    ]
    for name, res in lat.items():
        label = (
            "all-MiniLM-L6-v2 (production)"
            if name == "minilm"
            else "hash embedder (no model: worst case for the relative overhead)"
        )
        lines += [
            f"## Latency per operation, embedder {label}",
            "",
            "| operation | audited p50 ms | no-op p50 ms | added (p50) "
            "| audited p95 ms | no-op p95 ms |",
            "|---|---|---|---|---|---|",
            *_rows(res),
            "",
            f"{res['samples']} samples per cell.",
            "",
        ]
    lines += [
        f"## Verification of {ver['events']:,} events",
        "",
        "| what | time |",
        "|---|---|",
        "| `memsvc audit verify` path (`verify_store`: chains, references, "
        f"{ver['checkpoints']} checkpoints, head) | {ver['verify_s']:.2f} s |",
        f"| exported `verify_audit.py` (standalone, same chain) | {ver['standalone_s']:.2f} s |",
        "| recording, for scale (`AuditLog.record`, 1000 per transaction) "
        f"| {ver['record_us']:.0f} µs/event |",
        "",
    ]
    Path(args.out).write_text("\n".join(lines) + _recorder_section(recorder_cost(2000), machine))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
