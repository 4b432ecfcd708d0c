"""Write-time similarity checks against a project's active memories: near-duplicates and
possible conflicts, flagged for the review queue (never blocking a write).

Up to ``exact_max_rows`` rows (``MEMSVC_EXACT_SCAN_MAX_ROWS``, at most
``EXACT_CHECK_MAX_ROWS``) a batch is checked with one matrix product over the project's
held vectors, exactly. Above it, through the coarse quantizer over those same vectors
(``retrieval/coarse.py``), kept in the project's cache entry (searches use it too) and
updated with the rows added since the last check: the cost per batch is proportional to
the batch, not the project. (LanceDB's vector index is not asked: it
scans the rows written since its last build flat, per query, and is built only in the
background.)"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from memsvc.domain import Kind
from memsvc.retrieval.cache import CachedProject, ProjectCache
from memsvc.retrieval.coarse import CoarseIndex

__all__ = ["Neighbours"]

Vector = npt.NDArray[np.float32]
CONFLICTING_KINDS = (Kind.RULE, Kind.DECISION)
EXACT_CHECK_MAX_ROWS = 20_000
"""The exact check is used up to this many rows even when searches scan more exactly: a
batch of 500 against 20k held vectors is already a product of 4 G multiply-adds plus a
mask over every row, while the coarse quantizer's cost does not grow with the project."""
CANDIDATES = 32
"""Best rows the coarse quantizer returns per vector; the first active one (of the kind
asked) is the answer."""
Nearest = list[tuple[str, float] | None]


class Neighbours:
    """Finds, for new memories' vectors, their nearest active memory in the project."""

    def __init__(
        self,
        cache: ProjectCache,
        near_cosine: float,
        conflict_cosine: float,
        exact_max_rows: int | None = None,
    ) -> None:
        self.cache = cache
        self.near_cosine = near_cosine
        self.conflict_cosine = conflict_cosine
        self.exact_max_rows = (
            EXACT_CHECK_MAX_ROWS
            if exact_max_rows is None
            else min(exact_max_rows, EXACT_CHECK_MAX_ROWS)
        )

    def nearest(self, project: str, vectors: Vector, kind: str | None) -> Nearest:
        """For each vector, the most similar active memory (of ``kind``, if given)."""
        entry = self.cache.current(project)
        if entry.n > self.exact_max_rows:
            return self._coarse_nearest(entry.trained_coarse(), entry, vectors, kind)
        wanted = {kind} if kind is not None else None
        return self.cache.nearest(entry, vectors, {"active"}, [wanted] * len(vectors))

    @staticmethod
    def _coarse_nearest(
        coarse: CoarseIndex, entry: CachedProject, vectors: Vector, kind: str | None
    ) -> Nearest:
        out: Nearest = []
        with entry.lock, coarse.lock:
            matrix = entry.matrix[: entry.n]
            coarse.file(matrix)
            for rows, sims in coarse.search(matrix, vectors, CANDIDATES):
                best = None
                for at, sim in zip(rows.tolist(), sims.tolist(), strict=True):
                    if entry.statuses[at] == "active" and (kind is None or entry.kinds[at] == kind):
                        best = (entry.ids[at], float(sim))
                        break
                out.append(best)
        return out

    def duplicates(self, project: str, vectors: Vector) -> list[str | None]:
        """For each vector, the id of an active memory at least ``near_cosine`` similar."""
        best = self.nearest(project, vectors, None)
        return [b[0] if b is not None and b[1] >= self.near_cosine else None for b in best]

    def conflicts(
        self, project: str, kinds: list[Kind], vectors: Vector, near: list[str | None]
    ) -> list[str | None]:
        """Rules and decisions close to an active one of the same kind may contradict it.

        Only the nearest same-kind neighbour counts, and only between ``conflict_cosine``
        and the near-duplicate threshold: similar enough to be about the same thing,
        different enough to say something else. A curator decides in the review queue.
        """
        asks = [
            i
            for i, (kind, dup) in enumerate(zip(kinds, near, strict=True))
            if dup is None and kind in CONFLICTING_KINDS
        ]
        out: list[str | None] = [None] * len(kinds)
        if not asks:
            return out
        for kind in dict.fromkeys(kinds[i] for i in asks):
            same = [i for i in asks if kinds[i] == kind]
            best = self.nearest(project, vectors[same], kind.value)
            for i, b in zip(same, best, strict=True):
                if b is not None and b[1] >= self.conflict_cosine:
                    out[i] = b[0]
        return out
