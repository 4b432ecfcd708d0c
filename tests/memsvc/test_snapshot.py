"""A project's table read whole for the cache, in batches (``LanceIndex.snapshot``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memsvc.store import index as index_module
from memsvc.store.index import IndexRow, LanceIndex


def _filled(tmp_path: Path, n: int) -> tuple[LanceIndex, np.ndarray]:
    index = LanceIndex(str(tmp_path / "lance"), "hash-8", 8)
    vectors = np.random.default_rng(3).random((n, 8), dtype=np.float32)
    rows = [
        IndexRow(f"m{i:04d}", "fact", "active", f"note {i}", f"h{i}", vectors[i], float(i), 2.0 * i)
        for i in range(n)
    ]
    index.upsert("p", rows)
    return index, vectors


@pytest.mark.parametrize("counted", [None, 0, 7])
def test_the_snapshot_holds_every_row_across_batches_even_when_the_count_was_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted: int | None
) -> None:
    """Batches smaller than the table, and a row count that is behind the table (rows
    written between the count and the scan): every row, each with its own vector."""
    index, vectors = _filled(tmp_path, 50)
    monkeypatch.setattr(index_module, "SNAPSHOT_BATCH", 16)
    if counted is not None:
        real = index._streamed_snapshot

        def short(table: Any) -> Any:
            monkeypatch.setattr(table, "count_rows", lambda *_a, **_k: counted)
            return real(table)

        monkeypatch.setattr(index, "_streamed_snapshot", short)
    snap = index.snapshot("p")
    assert sorted(snap.ids) == [f"m{i:04d}" for i in range(50)]
    assert snap.vectors.shape == (50, 8) and snap.vectors.flags.owndata
    for at, mid in enumerate(snap.ids):
        i = int(mid[1:])
        assert np.array_equal(snap.vectors[at], vectors[i])
        assert snap.texts[at] == f"note {i}" and snap.hashes[at] == f"h{i}"
        assert snap.times[at] == float(i) and snap.written[at] == 2.0 * i
