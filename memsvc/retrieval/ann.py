"""Building each big project's vector index in the background, on a size policy.

A project's LanceDB table gets an IVF_HNSW_SQ index once it holds more than
``exact_scan_max_rows`` rows (below that, searching every row in memory is both exact
and faster). Rows written after a build are searched exactly by LanceDB and folded into
the index by the regular compaction (``optimize``); when the table has grown to
``RETRAIN_GROWTH`` x the rows the index was trained on, it is trained again so its
partitions follow the data. Builds run on their own thread, never on a request; writers
go on meanwhile. One process builds a project's index at a time (``build_claim``).
"""

from __future__ import annotations

import logging
import threading
import time

from memsvc.clock import Periodic
from memsvc.retrieval.cache import ProjectCache
from memsvc.store.index import AnnState, LanceIndex

__all__ = ["RETRAIN_GROWTH", "AnnBuilder"]

log = logging.getLogger(__name__)
RETRAIN_GROWTH = 2.0
"""Retrain a project's index when its table has this many times the rows it was trained on."""


class AnnBuilder:
    """Decides which held projects need their vector index (re)built, and builds them."""

    def __init__(self, index: LanceIndex, cache: ProjectCache, min_rows: int) -> None:
        self.index = index
        self.cache = cache
        self.min_rows = min_rows
        self._trained: dict[str, int] = {}
        self._states: dict[str, AnnState] = {}
        self._building: str | None = None
        self._builds = {"ok": 0, "failed": 0}
        self._guard = threading.Lock()
        self._runner: Periodic | None = None

    def needs_build(self, project: str, state: AnnState) -> bool:
        """Whether ``state`` calls for a (re)training of the project's index."""
        if state.rows <= self.min_rows:
            return False
        if not state.built:
            return True
        trained = self._trained.setdefault(project, state.indexed)
        return state.rows >= RETRAIN_GROWTH * trained

    def build_due(self) -> list[str]:
        """(Re)build the index of every held project that needs one; returns those built."""
        built = []
        for project, rows in sorted(self.cache.sizes().items()):
            if rows > self.min_rows and self.build(project):
                built.append(project)
        return built

    def build(self, project: str, force: bool = False) -> bool:
        """Train the project's index if the policy (or ``force``) says so and no other
        thread or process is at it; True when this call built it."""
        state = self.index.ann_state(project)
        self._states[project] = state
        if not (force or self.needs_build(project, state)):
            return False
        with self.index.build_claim(project) as mine:
            if not mine:
                return False
            return self._train(project, state)

    def _train(self, project: str, state: AnnState) -> bool:
        start = time.monotonic()
        with self._guard:
            self._building = project
        try:
            self.index.build_ann(project, retrain=True)
        except Exception as exc:  # noqa: BLE001 - retried at the next round
            log.warning("vector index build for %s failed: %s", project, exc)
            self._builds["failed"] += 1
            return False
        finally:
            with self._guard:
                self._building = None
        self._trained[project] = state.rows
        self._states[project] = self.index.ann_state(project)
        self._builds["ok"] += 1
        log.info(
            "vector index of %s built over %d rows in %.1f s",
            project,
            state.rows,
            time.monotonic() - start,
        )
        return True

    def status(self) -> dict[str, object]:
        """What readiness reports (counts only: the probe is unauthenticated, so no
        project names): whether a build runs, builds so far, and the big projects'
        coverage as last looked at."""
        with self._guard:
            building = self._building is not None
        big = [s for s in self._states.values() if s.rows > self.min_rows]
        return {
            "building": building,
            "builds": dict(self._builds),
            "big_projects": len(big),
            "indexed_projects": sum(1 for s in big if s.built),
            "unindexed_rows": sum(s.unindexed for s in big),
        }

    def building(self) -> int:
        """1 while a build runs in this process, else 0 (a gauge)."""
        with self._guard:
            return int(self._building is not None)

    def start(self, interval_s: float) -> None:
        """Look for due builds every ``interval_s`` on a thread of its own until ``stop``."""
        self._runner = Periodic("memsvc-ann", interval_s, self._round)
        self._runner.start()

    def _round(self) -> None:
        self.build_due()

    def stop(self) -> None:
        """Stop after the build under way (a build is not interrupted)."""
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
