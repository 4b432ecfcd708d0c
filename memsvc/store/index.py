"""The LanceDB index: one table per (project, embedder), derived from SQL and rebuildable.

Caller text never reaches a ``where()`` string: filters are built only from validated
memory ids and enum values, and full-text queries go through ``MatchQuery`` objects.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: thread locks only
    fcntl = None  # type: ignore[assignment]

import numpy as np
import numpy.typing as npt

from memsvc.domain import MEMORY_ID_RE, PROJECT_ID_RE

__all__ = ["AnnState", "IndexRow", "IndexSnapshot", "LanceIndex", "TableShape"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")
SCHEMA_VERSION = "v2"
"""Part of every table name: a table of an older row layout is left alone and rebuilt."""
STREAM = "stream"
"""The writer-stream column (int64, nullable). Tables are created with it; a table made
before it existed keeps working without it (every row reads as stream 0, and appends leave
it out) until ``memsvc reindex`` rebuilds the table, which adds it: no column is added to a
table in place. A server that does not know the column appends rows without it, which
LanceDB stores as null: they read as stream 0."""
_SAFE_VALUE = re.compile(r"^[a-z_]{1,32}$")


@dataclass(frozen=True)
class IndexRow:
    """One memory as the LanceDB index holds it: id, kind, status, text, hash, vector and times."""

    id: str
    kind: str
    status: str
    text: str
    content_hash: str
    vector: npt.NDArray[np.float32]
    time: float = 0.0
    """Epoch seconds of when the memory holds (``valid_from``, else when written)."""
    written: float = 0.0
    """Epoch seconds of when it was written (orders memories with equal ``time``)."""
    stream: int = 0
    """The writer stream (``store.fleet.writer_stream``); 0: not known (a table made before
    streams were kept, or a row appended by a server that does not know them)."""

    def record(self, stream: bool = True) -> dict[str, Any]:
        """The row as a LanceDB record (the table's column names; without ``stream`` for a
        table that has no such column)."""
        out = {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "text": self.text,
            "content_hash": self.content_hash,
            "time": self.time,
            "written": self.written,
            "vector": self.vector.astype(np.float32).tolist(),
        }
        if stream:
            out[STREAM] = self.stream
        return out


@dataclass(frozen=True)
class IndexSnapshot:
    """Every row of a project's table (vectors included) for in-memory exact search."""

    ids: list[str]
    kinds: list[str]
    statuses: list[str]
    hashes: list[str]
    vectors: npt.NDArray[np.float32]
    texts: list[str]
    times: list[float]
    written: list[float]
    streams: npt.NDArray[np.int64] | None = None
    """Each row's writer stream; None: the table has no stream column (every row 0)."""


@dataclass(frozen=True)
class AnnState:
    """A project table's approximate-nearest-neighbour index: rows it covers and rows added
    since (searched exactly until the next build folds them in)."""

    rows: int
    indexed: int
    unindexed: int

    @property
    def built(self) -> bool:
        """Whether the table has a vector index at all."""
        return self.indexed > 0


ANN_INDEX = "vector_idx"
ANN_PARTITION_ROWS = 32_768
"""Rows per IVF partition when an index is trained. Each probed partition is one HNSW
search, so fewer, bigger partitions answer faster: at 100k rows 4 partitions found 99.7%
of the exact top 10 in the first 200 hits, 24 partitions at nprobes 8 only 85.5% and
slower (measured for this change on the 2-core machine)."""
ANN_MIN_PARTITIONS = 2
"""At least two: a one-partition index answered a batch of 500 top-k queries at 10k rows
in 3.9 s, a two-partition one in about 1 s (``benchmarks/results/scale_ann.md``)."""


@dataclass(frozen=True)
class TableShape:
    """How a project's table lies on disk, for the compaction policy."""

    rows: int
    fragments: int
    largest_fragment: int
    """Rows of the biggest fragment (deleted rows included)."""
    versions: int


def _id_list(ids: list[str]) -> str:
    for i in ids:
        if not MEMORY_ID_RE.match(i):
            raise ValueError(f"not a memory id: {i!r}")
    return ", ".join(f"'{i}'" for i in ids)


def _value_list(values: list[str]) -> str:
    for v in values:
        if not _SAFE_VALUE.match(v):
            raise ValueError(f"not an enum value: {v!r}")
    return ", ".join(f"'{v}'" for v in values)


def _has_stream(table: Any) -> bool:
    """Whether the table has the writer-stream column (tables made before it do not). The
    schema is read each time (~0.4 ms): another process may have rebuilt the table."""
    return STREAM in table.schema.names


def _add(table: Any, rows: list[IndexRow]) -> list[IndexRow]:
    """Add ``rows`` to ``table``; returns them as it keeps them: a table without the stream
    column keeps none, so they are stream 0 there, and in the cache of the server writing
    them too (another server, or this one after a restart, reads them back as 0)."""
    streamed = _has_stream(table)
    if not streamed:
        rows = [replace(r, stream=0) if r.stream else r for r in rows]
    table.add([r.record(streamed) for r in rows])
    return rows


def _streams_of(column: Any) -> npt.NDArray[np.int64]:
    """A stream column as int64, nulls (rows appended by a server that does not know the
    column) as 0."""
    import pyarrow.compute as pc

    filled = pc.fill_null(column, 0)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64)


def _missing_file(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, OSError) or "not found" in text or "no such file" in text


def _read(table: Any, read: Callable[[Any], _T]) -> _T:
    """``read(table)``, and once more on the table's latest version if a file it needed
    was gone: a clean-up of old versions (in another process, or this one's maintenance
    thread) may have removed the files of the version the read started on. A file missing
    from the latest version too is raised: that is damage."""
    try:
        return read(table)
    except Exception as exc:
        if not _missing_file(exc):
            raise
        log.warning("an index read met a missing file (%s); retrying on the latest version", exc)
        table.checkout_latest()
        return read(table)


def _where_ids(ids: list[str], columns: list[str]) -> Callable[[Any], Any]:
    """A read of these ids' rows (these columns) as Arrow, for ``_read``."""
    where, limit = f"id IN ({_id_list(ids)})", 4 * len(ids)
    return lambda t: t.search().where(where, prefilter=True).select(columns).limit(limit).to_arrow()


SNAPSHOT_BATCH = 8192
"""Rows per batch when a project's table is read whole into the cache."""


class LanceIndex:
    """The LanceDB index: one table per project and embedder identity, built only from validated
    ids."""

    def __init__(
        self,
        uri: str,
        embedder_identity: str,
        dim: int,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        self._uri = uri
        self._storage_options = dict(storage_options or {})
        self._conn: Any = None
        self._connect_lock = threading.Lock()
        self._lock_dir: Path | None = None
        if "://" not in uri:
            self._lock_dir = Path(uri)
            self._lock_dir.mkdir(parents=True, exist_ok=True)
        model = re.sub(r"[^a-z0-9]+", "_", embedder_identity.lower()).strip("_")
        self._suffix = f"{model}__{SCHEMA_VERSION}"
        self._dim = dim
        self._tables: dict[str, Any] = {}
        self._ann_built: set[str] = set()
        self._ann_seen: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def _db(self) -> Any:
        """The LanceDB connection, made on first use: importing lancedb costs about a second
        of CPU, which a process answering SQL-only calls first should not pay up front."""
        if self._conn is None:
            with self._connect_lock:
                if self._conn is None:
                    import lancedb

                    self._conn = lancedb.connect(
                        self._uri,
                        read_consistency_interval=timedelta(0),
                        storage_options=self._storage_options or None,
                    )
        return self._conn

    def _name(self, project: str) -> str:
        if not PROJECT_ID_RE.match(project):
            raise ValueError(f"not a project id: {project!r}")
        return f"{project}__{self._suffix}"

    @contextlib.contextmanager
    def lock(self, project: str) -> Iterator[None]:
        """Exclusive use of the project's table, across threads and across processes.

        Two processes on one data dir (two editor windows running ``memsvc mcp``) must not
        apply the same outbox rows at once: each would delete-then-add, leaving a memory
        indexed twice. A file lock beside a local table orders them; object storage URIs
        get the thread lock alone (one writer process per bucket, as documented).
        """
        with self._guard:
            thread_lock = self._locks.setdefault(project, threading.Lock())
        with thread_lock:
            if self._lock_dir is None or fcntl is None:
                yield
                return
            path = self._lock_dir / f".{self._name(project)}.lock"
            with path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def build_claim(self, project: str) -> Iterator[bool]:
        """Claim the project's vector-index build, across threads and processes, without
        waiting: yields False when someone else is building it (writers are not held up:
        this is not the write ``lock``)."""
        with self._guard:
            thread_lock = self._locks.setdefault(f"ann:{project}", threading.Lock())
        if not thread_lock.acquire(blocking=False):
            yield False
            return
        try:
            if self._lock_dir is None or fcntl is None:
                yield True
                return
            path = self._lock_dir / f".{self._name(project)}.ann.lock"
            with path.open("a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            thread_lock.release()

    def _schema(self) -> Any:
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("id", pa.string(), nullable=False),
                pa.field("kind", pa.string(), nullable=False),
                pa.field("status", pa.string(), nullable=False),
                pa.field("text", pa.string(), nullable=False),
                pa.field("content_hash", pa.string(), nullable=False),
                pa.field("time", pa.float64(), nullable=False),
                pa.field("written", pa.float64(), nullable=False),
                pa.field("vector", pa.list_(pa.float32(), self._dim), nullable=False),
                pa.field(STREAM, pa.int64(), nullable=True),
            ]
        )

    def _table(self, project: str, create: bool) -> Any:
        return self._open(project, create)[0]

    def _open(self, project: str, create: bool) -> tuple[Any, bool]:
        """(the project's table or None, whether this call created it)."""
        name = self._name(project)
        table = self._tables.get(name)
        if table is not None:
            return table, False
        created = False
        with self._guard:
            table = self._tables.get(name)
            if table is None:
                try:
                    table = self._db.open_table(name)
                except (ValueError, FileNotFoundError):
                    if not create:
                        return None, False
                    table = self._db.create_table(name, schema=self._schema(), exist_ok=True)
                    created = True
                self._tables[name] = table
        return table, created

    def upsert(self, project: str, rows: list[IndexRow]) -> list[IndexRow]:
        """Replace these ids' rows (idempotent: applying twice leaves one row each).
        Returns the rows as the table holds them (``_add``)."""
        if not rows:
            return rows
        table, created = self._open(project, create=True)
        if not created or table.count_rows():  # a table made just now holds nothing to replace
            table.delete(f"id IN ({_id_list([r.id for r in rows])})")
        return _add(table, rows)

    def append(self, project: str, rows: list[IndexRow]) -> list[IndexRow]:
        """Add rows of memories the table cannot hold yet (new ids), without the delete
        ``upsert`` runs first: that delete reads the id column of every fragment, so its
        cost grows with the table, while an append costs what it writes. Returns the rows
        as the table holds them (``_add``)."""
        if not rows:
            return rows
        table = self._table(project, create=True)
        rows = _add(table, rows)
        self._ensure_fts(table)
        return rows

    def set_meta(self, project: str, memory_id: str, kind: str, status: str) -> None:
        """Change one memory's kind and status in the index, keeping its vector."""
        table = self._table(project, create=True)
        table.update(
            where=f"id IN ({_id_list([memory_id])})",
            values={"kind": kind, "status": status},
        )

    def delete(self, project: str, ids: list[str]) -> None:
        """Delete these memories from the project's table (no-op for a missing table)."""
        if not ids:
            return
        table = self._table(project, create=False)
        if table is not None:
            table.delete(f"id IN ({_id_list(ids)})")

    def _ensure_fts(self, table: Any) -> None:
        """Build LanceDB's native full-text index if the table has none. Only ``full_text``
        (a benchmark baseline) uses it: search has its own keyword index in memory, so the
        write path no longer builds one per table (nor do compactions re-index it)."""
        if any(getattr(ix, "columns", None) == ["text"] for ix in table.list_indices()):
            return
        from lancedb.index import FTS

        table.create_index(
            "text",
            config=FTS(with_position=False, stem=True, remove_stop_words=True, ascii_folding=True),
            replace=True,
        )

    def snapshot(self, project: str) -> IndexSnapshot:
        """Every row of the project's table as arrays, to load the in-memory cache."""
        table = self._table(project, create=False)
        if table is None:
            empty = np.zeros((0, self._dim), dtype=np.float32)
            return IndexSnapshot([], [], [], [], empty, [], [], [])
        return _read(table, self._streamed_snapshot)

    def _streamed_snapshot(self, table: Any) -> IndexSnapshot:
        """``snapshot`` read in batches of ``SNAPSHOT_BATCH`` rows into one matrix sized from
        the row count: the whole table as Arrow, its combined vector column and a copy of
        it were each a copy of every vector at once (a 1M-row load peaked at 6.7 GB of RSS
        for 3.2 GB held after it)."""
        columns = ["id", "kind", "status", "content_hash", "text", "time", "written"]
        vectors = np.empty((table.count_rows(), self._dim), dtype=np.float32)
        lists: dict[str, list[Any]] = {c: [] for c in columns}
        streamed = _has_stream(table)
        streams: list[npt.NDArray[np.int64]] = []
        n = 0
        wanted = [*columns, "vector", *([STREAM] if streamed else [])]
        reader = table.search().select(wanted).limit(None)
        for batch in reader.to_batches(SNAPSHOT_BATCH):
            k = batch.num_rows
            if n + k > len(vectors):  # rows added since the count
                grown = np.empty((max(n + k, 2 * len(vectors)), self._dim), dtype=np.float32)
                grown[:n] = vectors[:n]
                vectors = grown
            flat = batch.column("vector").flatten().to_numpy(zero_copy_only=False)
            vectors[n : n + k] = flat.reshape(k, self._dim)
            for c, out in lists.items():
                out.extend(batch.column(c).to_pylist())
            if streamed:
                streams.append(_streams_of(batch.column(STREAM)))
            n += k
        return IndexSnapshot(
            ids=lists["id"],
            kinds=lists["kind"],
            statuses=lists["status"],
            hashes=lists["content_hash"],
            vectors=vectors if n == len(vectors) else vectors[:n].copy(),
            texts=lists["text"],
            times=lists["time"],
            written=lists["written"],
            streams=(
                (np.concatenate(streams) if streams else np.zeros(0, dtype=np.int64))
                if streamed
                else None
            ),
        )

    def keys_of(self, project: str, ids: list[str]) -> dict[str, tuple[str, str, str, int]]:
        """For those of these ids the table holds: (content hash, kind, status, copies),
        without reading vectors or text (reconciliation compares these alone)."""
        table = self._table(project, create=False)
        out: dict[str, tuple[str, str, str, int]] = {}
        if table is None or not ids:
            return out
        columns = ["id", "content_hash", "kind", "status"]
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            data = (
                table.search()
                .where(f"id IN ({_id_list(chunk)})", prefilter=True)
                .select(columns)
                .limit(None)
                .to_arrow()
            )
            got = zip(*(data.column(c).to_pylist() for c in columns), strict=True)
            for mid, digest, kind, status in got:
                seen = out.get(mid)
                out[mid] = (digest, kind, status, 1 + (seen[3] if seen else 0))
        return out

    def all_keys(self, project: str, batch: int = 10_000) -> dict[str, tuple[str, str, str, int]]:
        """``keys_of`` for every row the table holds, in one streamed scan of those four
        columns (no vectors, no text): for a large table, where asking by id (a filtered
        scan per 1,000 ids) would cost a scan of the table per batch reconciled."""
        table = self._table(project, create=False)
        out: dict[str, tuple[str, str, str, int]] = {}
        if table is None:
            return out
        columns = ["id", "content_hash", "kind", "status"]
        for chunk in table.search().select(columns).limit(None).to_batches(batch):
            got = zip(*(chunk.column(c).to_pylist() for c in columns), strict=True)
            for mid, digest, kind, status in got:
                seen = out.get(mid)
                out[mid] = (digest, kind, status, 1 + (seen[3] if seen else 0))
        return out

    def iter_ids(self, project: str, batch: int) -> Iterator[list[str]]:
        """Every id the table holds (duplicates as often as they occur), about ``batch``
        at a time, streamed from the table without vectors or text."""
        table = self._table(project, create=False)
        if table is None:
            return
        reader = table.search().select(["id"]).limit(None).to_batches(batch)
        for chunk in reader:
            ids = chunk.column("id").to_pylist()
            if ids:
                yield ids

    def read_through(self, project: str, batch: int = 2000) -> int:
        """Read every row and column of the table, ``batch`` rows at a time, and keep
        nothing: raises what a lost or corrupt fragment raises (reconciliation alone reads
        too little to notice). Returns the rows read."""
        table = self._table(project, create=False)
        if table is None:
            return 0
        return sum(chunk.num_rows for chunk in table.search().limit(None).to_batches(batch))

    def full_text(
        self, project: str, terms: list[str], limit: int, statuses: list[str], kinds: list[str]
    ) -> list[tuple[str, float]]:
        """BM25 over the project's text: (id, score) best first. ``terms`` are plain words."""
        table = self._table(project, create=False)
        if table is None or not terms:
            return []
        self._ensure_fts(table)
        from lancedb.query import MatchQuery

        match = MatchQuery(" ".join(terms), "text")  # type: ignore[call-arg]
        clauses = [f"status IN ({_value_list(statuses)})"]
        if kinds:
            clauses.append(f"kind IN ({_value_list(kinds)})")
        rows = _read(
            table,
            lambda t: (
                t.search(match, query_type="fts")
                .where(" AND ".join(clauses), prefilter=True)
                .limit(limit)
                .select(["id", "_score"])
                .to_list()
            ),
        )
        return [(r["id"], float(r["_score"])) for r in rows]

    def vector_search(
        self,
        project: str,
        vector: npt.NDArray[np.float32],
        limit: int,
        statuses: list[str],
        kinds: list[str],
    ) -> list[tuple[str, float]]:
        """Cosine similarity search in LanceDB itself, for tables too big to scan in memory."""
        table = self._table(project, create=False)
        if table is None:
            return []
        clauses = [f"status IN ({_value_list(statuses)})"]
        if kinds:
            clauses.append(f"kind IN ({_value_list(kinds)})")
        rows = _read(
            table,
            lambda t: (
                t.search(vector.tolist(), vector_column_name="vector")
                .distance_type("cosine")
                .where(" AND ".join(clauses), prefilter=True)
                .limit(limit)
                .select(["id", "_distance"])
                .to_list()
            ),
        )
        return [(r["id"], 1.0 - float(r["_distance"])) for r in rows]

    def shape(self, project: str) -> TableShape | None:
        """The table's rows, fragments and versions (None: no table)."""
        table = self._table(project, create=False)
        if table is None:
            return None
        stats = table.stats()
        fragments = stats.get("fragment_stats") or {}
        lengths = fragments.get("lengths") or {}
        return TableShape(
            rows=int(stats.get("num_rows") or 0),
            fragments=int(fragments.get("num_fragments") or 0),
            largest_fragment=int(lengths.get("max") or 0),
            versions=len(table.list_versions()),
        )

    def ann_state(self, project: str) -> AnnState:
        """How much of the project's table its vector index covers (zeros: no table)."""
        table = self._table(project, create=False)
        if table is None:
            return AnnState(0, 0, 0)
        rows = int(table.count_rows())
        stats = table.index_stats(ANN_INDEX) if self._has_ann(table) else None
        if stats is None:
            self._ann_built.discard(project)
            return AnnState(rows, 0, rows)
        self._ann_built.add(project)
        return AnnState(rows, int(stats.num_indexed_rows), int(stats.num_unindexed_rows))

    def ann_built(self, project: str) -> bool:
        """Whether the project's table had a vector index when last looked at (by
        ``ann_state`` or ``build_ann`` in this process; the builder's rounds look again,
        and the first call for a project looks itself)."""
        if project not in self._ann_seen:
            self._ann_seen.add(project)
            self.ann_state(project)
        return project in self._ann_built

    @staticmethod
    def _has_ann(table: Any) -> bool:
        return any(getattr(ix, "name", None) == ANN_INDEX for ix in table.list_indices())

    def build_ann(self, project: str, retrain: bool) -> None:
        """Train the vector index (IVF partitions, HNSW over SQ codes) on every row, or,
        without ``retrain``, fold rows added since into the existing one. Slow (minutes
        at 100k rows): run in the background. Writers go on meanwhile; LanceDB resolves
        the commit against their versions."""
        table = self._table(project, create=False)
        if table is None:
            return
        if not retrain and self._has_ann(table):
            table.optimize(cleanup_older_than=timedelta(minutes=10))
            return
        from lancedb.index import HnswSq

        partitions = max(ANN_MIN_PARTITIONS, int(table.count_rows()) // ANN_PARTITION_ROWS)
        config = HnswSq(distance_type="cosine", num_partitions=partitions)
        table.create_index("vector", config=config, replace=True, name=ANN_INDEX)
        self._ann_built.add(project)

    def ann_search(
        self,
        project: str,
        vectors: npt.NDArray[np.float32],
        limit: int,
        statuses: list[str] | None = None,
        kinds: list[str] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """For each of ``vectors``, up to ``limit`` (id, approximate cosine), best first:
        through the vector index over the rows it covers, exactly over rows added since
        it was built (LanceDB scans unindexed fragments flat), in one batched query.

        Without ``statuses`` and ``kinds`` nothing is filtered: the caller filters and
        re-scores the hits from the vectors it holds, which is cheaper than LanceDB's
        prefilter (that evaluates the filter over every row per query: measured 21 vs
        4 ms per query at 100k rows). Pass them when the filter is selective.
        """
        out: list[list[tuple[str, float]]] = [[] for _ in range(len(vectors))]
        table = self._table(project, create=False)
        if table is None or len(vectors) == 0:
            return out
        query = [v.astype(np.float32) for v in vectors] if len(vectors) > 1 else vectors[0]
        clauses = [f"status IN ({_value_list(statuses)})"] if statuses else []
        if kinds:
            clauses.append(f"kind IN ({_value_list(kinds)})")

        def run(t: Any) -> Any:
            search = t.search(query, vector_column_name="vector").distance_type("cosine")
            if clauses:
                search = search.where(" AND ".join(clauses), prefilter=True)
            return search.limit(limit).select(["id", "_distance"]).to_arrow()

        data = _read(table, run)
        which = (
            data.column("query_index").to_pylist()
            if "query_index" in data.column_names
            else [0] * data.num_rows
        )
        ids, dists = data.column("id").to_pylist(), data.column("_distance").to_pylist()
        for q, mid, dist in zip(which, ids, dists, strict=True):
            out[int(q)].append((mid, 1.0 - float(dist)))
        for hits in out:
            hits.sort(key=lambda h: (-h[1], h[0]))
        return out

    def optimize(self, project: str, cleanup_older_than: timedelta = timedelta(minutes=10)) -> None:
        """Compact fragments, fold new rows into indices, drop versions older than
        ``cleanup_older_than`` (readers in other processes may still be on those)."""
        table = self._table(project, create=False)
        if table is not None:
            with self.lock(project):
                table.optimize(cleanup_older_than=cleanup_older_than)

    def drop(self, project: str) -> None:
        """Drop the project's table (missing is fine)."""
        name = self._name(project)
        self._ann_built.discard(project)
        with self._guard:
            self._tables.pop(name, None)
        with contextlib.suppress(ValueError, FileNotFoundError):
            self._db.drop_table(name)

    def rows_of(self, project: str, ids: list[str]) -> dict[str, IndexRow]:
        """These memories' rows as the table holds them now (absent: not indexed), for
        another server's cache to catch up by id instead of reloading the whole table."""
        table = self._table(project, create=False)
        if table is None or not ids:
            return {}
        columns = ["id", "kind", "status", "content_hash", "vector", "text", "time", "written"]
        if _has_stream(table):
            columns.append(STREAM)
        out: dict[str, IndexRow] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            data = _read(table, _where_ids(chunk, columns))
            for r in data.to_pylist():
                out[r["id"]] = IndexRow(
                    id=r["id"],
                    kind=r["kind"],
                    status=r["status"],
                    text=r["text"],
                    content_hash=r["content_hash"],
                    vector=np.asarray(r["vector"], dtype=np.float32),
                    time=float(r["time"]),
                    written=float(r["written"]),
                    stream=int(r.get(STREAM) or 0),
                )
        return out

    def replace_all(self, project: str, rows: list[IndexRow]) -> None:
        """Make ``rows`` the project's whole table in one commit (``mode="overwrite"``):
        readers, in this process or another, see the old table or the complete new one,
        never a half-built one, and a rebuild killed midway leaves the old one in place.
        Works on a table whose old fragments can no longer be read."""
        import pyarrow as pa

        name = self._name(project)
        data = pa.Table.from_pylist(
            [r.record() for r in rows],
            schema=self._schema(),
        )
        with self._guard:
            self._tables.pop(name, None)
            table = self._db.create_table(name, data=data, schema=self._schema(), mode="overwrite")
            self._tables[name] = table
            self._ann_built.discard(project)  # a new table: the builder's next round trains it

    def count(self, project: str) -> int:
        """How many rows the project's table holds (0 for a missing table), from the
        table's metadata: cheap enough to compare with SQL in the background."""
        table = self._table(project, create=False)
        return 0 if table is None else int(_read(table, lambda t: t.count_rows()))
