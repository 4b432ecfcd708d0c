"""Write-time similarity checks against a project's active memories: near-duplicates and
possible conflicts, flagged for the review queue (never blocking a write).

A project searched through its vector index (``CandidateSource.uses_ann``) answers these
with a top-k query per new vector, batched (cost per write proportional to the batch);
a smaller one with one matrix product over the vectors held in memory."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from memsvc.domain import Kind
from memsvc.retrieval.cache import CachedProject, ProjectCache
from memsvc.retrieval.candidates import CandidateSource

__all__ = ["Neighbours"]

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]
CONFLICTING_KINDS = (Kind.RULE, Kind.DECISION)
ANN_TOP = 8
"""Hits asked of the vector index per vector, unfiltered: the active ones are re-scored
exactly from the held vectors and the best kept."""
Nearest = list[tuple[str, float] | None]


class Neighbours:
    """Finds, for new memories' vectors, their nearest active memory in the project."""

    def __init__(
        self,
        cache: ProjectCache,
        near_cosine: float,
        conflict_cosine: float,
        source: CandidateSource | None = None,
    ) -> None:
        self.cache = cache
        self.near_cosine = near_cosine
        self.conflict_cosine = conflict_cosine
        self.source = source

    def nearest(self, project: str, vectors: Vector, kind: str | None) -> Nearest:
        """For each vector, the most similar active memory (of ``kind``, if given)."""
        entry = self.cache.current(project)
        if self.source is not None and self.source.uses_ann(project, entry.n):
            index = self.source.index
            try:
                if kind is None:
                    hits = index.ann_search(project, vectors, ANN_TOP)
                else:  # a kind is selective: let LanceDB filter
                    hits = index.ann_search(project, vectors, ANN_TOP, ["active"], [kind])
            except Exception as exc:  # noqa: BLE001 - the matrix still answers
                log.warning("vector index query for %s failed, scanning: %s", project, exc)
            else:
                return _rescored(entry, vectors, hits, kind)
        wanted = {kind} if kind is not None else None
        return self.cache.nearest(entry, vectors, {"active"}, [wanted] * len(vectors))

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


def _rescored(
    entry: CachedProject, vectors: Vector, hits: list[list[tuple[str, float]]], kind: str | None
) -> Nearest:
    """Each vector's best active hit (of ``kind``), by the exact cosine to its held vector."""
    out: Nearest = []
    with entry.lock:
        for vec, found in zip(vectors, hits, strict=True):
            rows = [entry.pos.get(mid) for mid, _ in found]
            live = [
                r
                for r in rows
                if r is not None
                and entry.statuses[r] == "active"
                and (kind is None or entry.kinds[r] == kind)
            ]
            if not live:
                out.append(None)
                continue
            cosines = entry.matrix[live] @ vec
            best = int(np.argmax(cosines))
            out.append((entry.ids[live[best]], float(cosines[best])))
    return out
