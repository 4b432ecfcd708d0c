"""Shared benchmark helpers: machine description, percentiles, synthetic memories."""

from __future__ import annotations

import itertools
import os
import platform
import random
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

_SUBJECTS = [
    "the billing service",
    "the auth gateway",
    "our CI pipeline",
    "the search index",
    "the mobile app",
    "the data warehouse",
    "the scheduler",
    "the payments API",
    "the admin console",
    "the ingestion worker",
    "the notification service",
    "the CDN config",
]
_VERBS = [
    "stores",
    "retries",
    "caches",
    "validates",
    "exports",
    "rotates",
    "compresses",
    "shards",
    "logs",
    "encrypts",
    "batches",
    "throttles",
]
_OBJECTS = [
    "invoices in postgres",
    "tokens for 15 minutes",
    "events to kafka",
    "images on s3",
    "user sessions in redis",
    "metrics to prometheus",
    "reports as parquet",
    "emails via ses",
    "webhooks with backoff",
    "feature flags in launchdarkly",
    "secrets in vault",
    "jobs in celery",
]
_REASONS = [
    "because latency matters",
    "after the 2024 outage",
    "to cut costs",
    "for compliance",
    "since the migration",
    "per the security review",
    "to keep p95 low",
    "until Q3",
]
KINDS = ["fact", "fact", "fact", "decision", "preference", "rule"]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> str:
    cpu = cpu_model()
    import torch

    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def header(title: str, command: str) -> list[str]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return [
        f"# {title}",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        f"- commit: {commit or 'uncommitted'}",
        "",
    ]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values_s: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ms = [v * 1000 for v in values_s]
    return statistics.median(ms), pct(ms, 95)


def synthetic_memories(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """n distinct (kind, content) pairs that read like engineering notes."""
    return list(itertools.islice(iter_synthetic_memories(seed), n))


def iter_synthetic_memories(seed: int = 7) -> Iterator[tuple[str, str]]:
    """``synthetic_memories`` as an endless stream (the same rows in the same order)."""
    rng = random.Random(seed)
    for i in itertools.count():
        text = (
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"{rng.choice(_REASONS)} (note {i}, owner team-{rng.randint(1, 40)})"
        )
        yield rng.choice(KINDS), text


def synthetic_queries(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [
        f"how does {rng.choice(_SUBJECTS)} handle {rng.choice(_OBJECTS).split()[0]} {i}"
        for i in range(n)
    ]


def python() -> str:
    return sys.executable
