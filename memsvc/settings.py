"""Configuration: the one place that reads the environment (``MEMSVC_*``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Limits", "Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """The user's data directory for memsvc (used when MEMSVC_DATA_DIR is unset)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("memsvc", appauthor=False))


class Limits(BaseSettings):
    """Size limits on every input. Exceeding one is a typed 4xx, never a partial write.
    Each is also stated in the REST door's ``/openapi.json`` (``memsvc/api/limits.py``)."""

    model_config = SettingsConfigDict(env_prefix="MEMSVC_LIMIT_", extra="ignore")

    content_bytes: int = 32 * 1024
    title_chars: int = 200
    tags: int = 32
    tag_chars: int = 64
    paths: int = 64
    path_chars: int = 512
    provenance_field_chars: int = 512
    request_bytes: int = 4 * 1024 * 1024
    batch_size: int = 1000
    query_chars: int = 2000
    project_name_chars: int = 200
    project_description_chars: int = 4000
    search_limit: int = 100
    list_limit: int = 500
    budget_tokens: int = 64_000


class Settings(BaseSettings):
    """Everything memsvc can be told. Built explicitly; never at import time."""

    model_config = SettingsConfigDict(env_prefix="MEMSVC_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL; default is ``sqlite:///<data_dir>/memsvc.db``."""
    lance_uri: str | None = None
    """LanceDB URI; default is ``<data_dir>/lance``. Object storage: ``s3://bucket/prefix``
    (also ``gs://``, ``az://``) with ``lance_storage_options``."""
    lance_storage_options: dict[str, str] = Field(default_factory=dict)
    """LanceDB/object-store options, e.g. ``{"endpoint": "http://127.0.0.1:9000",
    "region": "us-east-1", "aws_access_key_id": "…", "aws_secret_access_key": "…",
    "allow_http": "true"}``; as an environment variable, a JSON object
    (``MEMSVC_LANCE_STORAGE_OPTIONS``). Unset keys fall back to the ``AWS_*`` variables."""
    embedder: str = "minilm"
    """``minilm`` (the bundled all-MiniLM-L6-v2) or ``hash`` (deterministic, for tests)."""
    embed_batch_size: int = 64
    embedder_backend: Literal["auto", "onnx", "torch"] = "auto"
    """MiniLM runtime: ``auto`` uses ONNX Runtime when importable (exported locally from the
    bundled weights, same vectors), else torch; ``torch`` forces torch."""
    quantized_queries: bool = False
    """On ONNX, embed search queries (never memories) with an int8 copy of the graph, made
    locally from the export once: ~35% less time per query, mean cosine 0.994 to the fp32
    vector, LoCoMo ranking unchanged, but abstention keeps a little less own evidence at
    the default threshold (0.970 -> 0.966; ``benchmarks/results/query_int8.md``), so it
    is opt-in. Off: queries on the fp32 graph, like memories."""
    project: str | None = None
    """Default project for MCP when neither the argument nor the client's roots decide."""
    agent: str | None = Field(default=None, max_length=200)
    """This process's agent identity on stdio MCP (``memsvc mcp --agent``) when a tool call
    names none; otherwise the client's ``clientInfo`` name is the identity."""
    host: str = "127.0.0.1"
    port: int = 8765
    workers: int = Field(default=1, ge=1, le=64)
    """``memsvc serve``: server processes sharing the address (``--workers``). One is
    enough for a single agent; more add throughput on more cores. Each keeps its own
    search state (``cache_mb`` is per process)."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Extra Host header values accepted besides loopback names."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Extra Origin values accepted besides the server's own loopback origins."""
    near_duplicate_cosine: float = 0.95
    conflict_cosine: float = 0.8
    """A new rule or decision this close to an active one of the same kind (but not a
    near-duplicate) is flagged as a possible conflict for the review queue."""
    cache_mb: int = 2048
    """Memory budget of the per-project in-memory search state (vectors and keyword
    index); least recently used projects are evicted past it and reloaded on demand."""
    exact_scan_max_rows: int = 50_000
    """Up to this many rows every row's cosine is computed for a search; above it the
    best cosines come from an approximate index (``search_ann``)."""
    search_ann: Literal["coarse", "lance"] = "coarse"
    """Where a project above ``exact_scan_max_rows`` takes its best cosines from:
    ``coarse``, the in-memory coarse quantizer beside its vectors (the same ranking as
    below the size, only the dense top approximate; no LanceDB vector index is built), or
    ``lance``, LanceDB's IVF_HNSW_SQ vector index, built in the background, with the
    ranking computed over a candidate pool."""
    rerank_depth: int = Field(default=0, ge=0, le=200)
    """Re-rank a search's first this many hits by late interaction over the bundled
    model's token states (``retrieval.rerank``; MiniLM loads its torch model for it);
    0, the default, leaves the ranking as it is. Costs one forward pass over that many
    memories' texts per search."""
    compact_every_writes: int = 64
    """Wake the background compaction after this many index writes to a project (else it
    looks every ``maintenance_interval_s``); whether it compacts is the policy's call."""
    compact_min_fragments: int = 16
    """A project's LanceDB table is compacted from this many fragments on, once the rows
    outside its largest fragment are ``compact_growth`` of it (a table of 10k rows or
    fewer: at once); never for a few rows added to a large table."""
    compact_growth: float = 0.2
    compact_max_fragments: int = 128
    """… and at this many fragments whatever their size."""
    index_cleanup_grace_s: float = 300.0
    """Index versions older than this are deleted when a table is compacted (a reader in
    another process may still be on a newer one)."""
    maintenance_interval_s: float = 30.0
    rules_watch_interval_s: float = 2.0
    """How often a process looks for rules changed by other processes, to notify its MCP
    sessions subscribed to those rules (live rules across servers and stdio processes)."""
    background: bool = True
    """Run the background threads (outbox retry, LanceDB compaction, the rules watch)."""
    auto_migrate: bool = True
    hash_audit_queries: bool = False
    """Store SHA-256 of search queries in the audit log instead of the text."""
    audit_key_path: Path | None = None
    """The Ed25519 key that signs audit checkpoints; default ``<data_dir>/audit-signing.key``.
    Its public half (``.pub``) and the head record (``.head.json``) are kept beside it."""
    audit_checkpoint_every: int = 100
    """Sign a chain's head after this many new events."""
    audit_checkpoint_interval_s: float = 300.0
    """… or once unsigned events have waited this long."""
    limits: Limits = Field(default_factory=Limits)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line (for log shippers)."""

    def served_hosts(self) -> set[str]:
        """Host header values this server answers to (anything else is DNS rebinding):
        loopback names with and without the port, a specific bind address, the extras."""
        names = {"127.0.0.1", "localhost", "[::1]", "::1"}
        if self.host not in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard is no host name
            names.add(self.host)
        return names | {f"{n}:{self.port}" for n in names} | set(self.allowed_hosts)

    @property
    def loopback_only(self) -> bool:
        """True when ``host`` is a loopback address (local mode may run without tokens)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL: ``database_url``, else SQLite in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'memsvc.db'}"

    @property
    def lance_path(self) -> str:
        """The LanceDB URI: ``lance_uri``, else ``<data_dir>/lance``."""
        return self.lance_uri or str(self.data_dir / "lance")
