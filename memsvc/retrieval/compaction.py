"""When to compact a project's LanceDB table, and when to drop its old versions.

Every index write adds a version to the table and most add a fragment (an ``add`` or an
``update`` writes a new file; a ``delete`` writes a deletion file). LanceDB's
``optimize`` — the compaction its Python API offers without pylance — rewrites every
fragment under about a million rows into one and then deletes the files of versions
older than a grace period. A table below a million rows is therefore rewritten whole by
each compaction, so the policy decides *when*: a few rows added to a large table never
trigger one (they wait until they are a share of it, ``growth``, or until fragments or
versions reach a hard cap that keeps reads and manifests small), while a small table is
compacted as soon as it has ``min_fragments``.

Old versions stay readable for ``cleanup_grace_s``: a reader in another process (two
``memsvc mcp`` windows on one data dir) may be in the middle of a query on one.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsvc.store.index import TableShape

__all__ = ["CompactionPolicy"]


@dataclass(frozen=True)
class CompactionPolicy:
    """The thresholds (``Settings.compact_*``, ``Settings.index_cleanup_grace_s``)."""

    min_fragments: int = 16
    """Below this many fragments a table is never compacted."""
    growth: float = 0.2
    """… and from there it is once the rows outside its largest fragment reach this share
    of that fragment (a table of ``cheap_rows`` or fewer: at ``min_fragments``)."""
    cheap_rows: int = 10_000
    max_fragments: int = 128
    """Compacted at this many fragments whatever their size (reads and manifests slow
    down with each one)."""
    max_versions: int = 512
    """… or at this many versions (deletes add versions but no fragments)."""
    cleanup_grace_s: float = 300.0

    def due(self, shape: TableShape) -> bool:
        """Whether compacting ``shape`` now is worth a rewrite of its small fragments."""
        if shape.fragments >= self.max_fragments or shape.versions >= self.max_versions:
            return shape.fragments > 1 or shape.versions > 1
        if shape.fragments < self.min_fragments:
            return False
        if shape.largest_fragment <= self.cheap_rows:
            return True
        return shape.rows - shape.largest_fragment >= self.growth * shape.largest_fragment
