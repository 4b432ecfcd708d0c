"""Write-time similarity checks against a project's active memories: near-duplicates and
possible conflicts, flagged for the review queue (never blocking a write)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from memsvc.domain import Kind
from memsvc.retrieval.cache import ProjectCache

__all__ = ["Neighbours"]

Vector = npt.NDArray[np.float32]
CONFLICTING_KINDS = (Kind.RULE, Kind.DECISION)


class Neighbours:
    """Finds, for new memories' vectors, their nearest active memory in the project."""

    def __init__(self, cache: ProjectCache, near_cosine: float, conflict_cosine: float) -> None:
        self.cache = cache
        self.near_cosine = near_cosine
        self.conflict_cosine = conflict_cosine

    def duplicates(self, project: str, vectors: Vector) -> list[str | None]:
        """For each vector, the id of an active memory at least ``near_cosine`` similar."""
        entry = self.cache.current(project)
        best = self.cache.nearest(entry, vectors, {"active"}, [None] * len(vectors))
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
        entry = self.cache.current(project)
        best = self.cache.nearest(
            entry, vectors[asks], {"active"}, [{kinds[i].value} for i in asks]
        )
        for i, b in zip(asks, best, strict=True):
            if b is not None and b[1] >= self.conflict_cosine:
                out[i] = b[0]
        return out
