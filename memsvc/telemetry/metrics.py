"""The service's metrics in a registry of its own (one per built service, so tests and
several services in one process never share counters): requests and tool calls by name,
search stages, audit events, the index backlog and the in-memory cache."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """Counters, histograms and gauges of one service."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "memsvc_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "memsvc_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "memsvc_tool_calls",
            "MCP tool calls by tool and outcome",
            ["tool", "outcome"],
            registry=r,
        )
        self.tool_seconds = Histogram(
            "memsvc_tool_seconds",
            "MCP tool call latency",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "memsvc_search_stage_seconds",
            "Time per search stage",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.audit_events = Counter(
            "memsvc_audit_events", "Audit events recorded by outcome", ["outcome"], registry=r
        )
        self.outbox_pending = Gauge(
            "memsvc_index_outbox_pending", "Index changes waiting to be applied", registry=r
        )
        self.cache_projects = Gauge("memsvc_cache_projects", "Projects held in memory", registry=r)
        self.cache_rows = Gauge("memsvc_cache_rows", "Memories held in memory", registry=r)
        self.cache_bytes = Gauge(
            "memsvc_cache_bytes",
            "Estimated memory of the held projects (evicted past MEMSVC_CACHE_MB)",
            registry=r,
        )
        self.ann_building = Gauge(
            "memsvc_ann_building", "1 while a vector index is being built", registry=r
        )

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one search stage."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds.labels(name).observe(time.perf_counter() - start)

    def bind_gauges(
        self,
        pending: Callable[[], int],
        projects: Callable[[], int],
        rows: Callable[[], int],
        held_bytes: Callable[[], int] | None = None,
    ) -> None:
        """Read the gauges from their sources when scraped."""
        self.outbox_pending.set_function(pending)
        self.cache_projects.set_function(projects)
        self.cache_rows.set_function(rows)
        if held_bytes is not None:
            self.cache_bytes.set_function(held_bytes)

    def bind_index_health(
        self, held: Callable[[], int], loads: Callable[[], int], catch_ups: Callable[[], int]
    ) -> None:
        """Projects whose index is held back (rebuilding, reconciling), and how the cache
        kept up with other servers: full table loads vs incremental catch-ups."""
        r = self.registry
        Gauge(
            "memsvc_index_projects_rebuilding",
            "Projects whose searches answer IndexRebuilding while their index is repaired",
            registry=r,
        ).set_function(held)
        Gauge(
            "memsvc_cache_full_loads", "Full loads of a project's index table", registry=r
        ).set_function(loads)
        Gauge(
            "memsvc_cache_catch_ups",
            "Incremental catch-ups with other servers' index changes",
            registry=r,
        ).set_function(catch_ups)

    def bind_ann(self, building: Callable[[], int]) -> None:
        """Read the vector-index build gauge from its source when scraped."""
        self.ann_building.set_function(building)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
