"""Signed audit checkpoints: Ed25519 statements of each chain's head and of every event hash
since the previous checkpoint, made every N events, after a quiet interval, on demand and
at shutdown.

The signing key lives outside the database (a 0600 file in the data dir by default), and
the newest checkpoint of each chain is mirrored into a head file beside it, so an older
database file put back in place is caught even though it is internally consistent.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import event, func
from sqlmodel import Session, col, select

from memsvc.audit.verifier import checkpoint_message, entries_digest, key_id_of
from memsvc.clock import Periodic, as_utc, utcnow
from memsvc.store.database import ledger_lock
from memsvc.store.models import AuditCheckpointRow, AuditEventRow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from memsvc.settings import Settings
    from memsvc.store.database import Database

__all__ = ["AuditKey", "Checkpointer", "HeadFile", "KeyPaths", "checkpoint_record"]

log = logging.getLogger(__name__)

KEY_FILE = "audit-signing.key"
_AFTER_COMMIT = "memsvc.audit.checkpoints.after_commit"


@dataclass(frozen=True)
class KeyPaths:
    """Where the signing key, its public half and the head record live."""

    private: Path

    @property
    def public(self) -> Path:
        """The public half's file, beside the private key (``<key>.pub``)."""
        return self.private.with_name(self.private.name + ".pub")

    @property
    def head(self) -> Path:
        """The head record's file, kept outside the database (``<key>.head.json``)."""
        return self.private.with_name(self.private.name + ".head.json")

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyPaths:
        """The key's paths: ``audit_key_path``, else ``<data_dir>/audit-signing.key``."""
        return cls(Path(settings.audit_key_path or settings.data_dir / KEY_FILE).expanduser())

    def load_public(self) -> Ed25519PublicKey | None:
        """The public key, from the ``.pub`` file or derived from the private key; else None."""
        if self.public.exists():
            key = serialization.load_pem_public_key(self.public.read_bytes())
            return key if isinstance(key, Ed25519PublicKey) else None
        if self.private.exists():
            return AuditKey.load(self.private).public
        return None


class AuditKey:
    """The Ed25519 key that signs checkpoints."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id_of(self.public)

    @property
    def public_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo), for exports and backups."""
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of ``message``, hex-encoded."""
        return self._private.sign(message).hex()

    @classmethod
    def load(cls, path: Path) -> AuditKey:
        """Load the private key from ``path`` (warns when others can read the file)."""
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        if os.name == "posix" and path.stat().st_mode & 0o077:
            log.warning("audit signing key %s is readable by others; chmod 600 it", path)
        return cls(key)

    @classmethod
    def load_or_create(cls, paths: KeyPaths) -> AuditKey:
        """Load the key, or make one: written 0600, never readable by group or others."""
        if paths.private.exists():
            return cls.load(paths.private)
        paths.private.parent.mkdir(parents=True, exist_ok=True)
        key = cls(Ed25519PrivateKey.generate())
        pem = key._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written whole to a private temporary file, then linked into place: the key file
        # appears complete or not at all, so a server starting at the same moment with the
        # same key path either wins or loads the winner's key (never a half-written one).
        tmp = paths.private.with_name(f".{paths.private.name}.{os.getpid()}.{id(key)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, paths.private)
        except FileExistsError:  # another process made it first: use theirs
            return cls.load(paths.private)
        finally:
            tmp.unlink(missing_ok=True)
        paths.public.write_bytes(key.public_pem)
        log.info("created audit signing key %s (id %s)", paths.private, key.key_id)
        return key


def checkpoint_record(row: AuditCheckpointRow, *, with_entries: bool = True) -> dict[str, Any]:
    """A checkpoint as the plain dict the verifier reads (and the export writes)."""
    out: dict[str, Any] = {
        "chain": row.chain,
        "idx": row.idx,
        "prev_seq": row.prev_seq,
        "seq": row.seq,
        "hash": row.hash,
        "count": row.count,
        "ts": _ts(row.ts),
        "key_id": row.key_id,
        "entries_sha256": entries_digest(row.entries),
        "signature": row.signature,
    }
    if with_entries:
        out["entries"] = row.entries
    return out


def _ts(value: datetime) -> str:
    return (as_utc(value) or value).isoformat(timespec="microseconds")


class HeadFile:
    """The newest checkpoint of each chain, kept outside the database."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Chain → newest checkpoint record; None when there is no head file."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        chains: dict[str, dict[str, Any]] = data.get("chains", {})
        return chains

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a") as fh:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - Windows: one writer process assumed
                yield
                return
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update(self, records: list[dict[str, Any]]) -> None:
        """Merge records in; a chain's entry only ever moves forward (several processes)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            chains = self.read() or {}
            for rec in records:
                current = chains.get(rec["chain"])
                if current is None or int(current["idx"]) < int(rec["idx"]):
                    chains[rec["chain"]] = rec
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps({"format": "memsvc-audit-head/1", "chains": chains}))
            os.replace(tmp, self.path)


@dataclass
class _Pending:
    events: int
    since: float


class Checkpointer:
    """Decides when to checkpoint and makes checkpoints inside the caller's transaction."""

    def __init__(self, key: AuditKey, head: HeadFile, every: int, interval_s: float) -> None:
        self.key = key
        self.head = head
        self.every = max(1, every)
        self.interval_s = interval_s
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._runner: Periodic | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Checkpointer:
        """A checkpointer with the configured key (made if missing), head file and thresholds."""
        paths = KeyPaths.from_settings(settings)
        return cls(
            AuditKey.load_or_create(paths),
            HeadFile(paths.head),
            settings.audit_checkpoint_every,
            settings.audit_checkpoint_interval_s,
        )

    def on_event(self, session: Session, chain: str) -> None:
        """Called after each event is flushed: checkpoint the chain if one is due.

        The count moves at once, not at commit, so a transaction recording many events
        checkpoints every N of them; a rollback only shifts when the next one comes.
        """
        now = time.monotonic()
        with self._lock:
            pending = self._pending.get(chain)
            due = pending is None or (  # first event this process sees: close any old gap
                pending.events + 1 >= self.every or now - pending.since >= self.interval_s
            )
            if not due:
                assert pending is not None
                pending.events += 1
        if due:
            self.checkpoint(session, chain)

    def checkpoint(self, session: Session, chain: str) -> AuditCheckpointRow | None:
        """Sign the chain's events since its last checkpoint; None if there are none.

        Under the ledger lock (see ``ledger_lock``), so two processes never both make
        checkpoint ``idx + 1`` or sign over an event that is still being appended.
        """
        ledger_lock(session)
        last = session.exec(
            select(AuditCheckpointRow)
            .where(AuditCheckpointRow.chain == chain)
            .order_by(col(AuditCheckpointRow.idx).desc())
            .limit(1)
        ).first()
        floor = last.seq if last else 0
        rows = session.exec(
            select(AuditEventRow.seq, AuditEventRow.hash)
            .where(AuditEventRow.chain == chain, col(AuditEventRow.seq) > floor)
            .order_by(col(AuditEventRow.seq))
        ).all()
        with self._lock:
            self._pending[chain] = _Pending(0, time.monotonic())
        if not rows:
            return None
        entries: list[list[Any]] = [[seq, digest] for seq, digest in rows]
        row = AuditCheckpointRow(
            chain=chain,
            idx=(last.idx if last else 0) + 1,
            prev_seq=floor,
            seq=entries[-1][0],
            hash=entries[-1][1],
            count=(last.count if last else 0) + len(entries),
            ts=utcnow(),
            key_id=self.key.key_id,
            entries=entries,
            signature="",
        )
        row.signature = self.key.sign(checkpoint_message(checkpoint_record(row)))
        session.add(row)
        record = checkpoint_record(row, with_entries=False)

        def committed() -> None:
            try:
                self.head.update([record])
            except OSError:
                log.exception("could not update the audit head file %s", self.head.path)

        self._after_commit(session, committed)
        return row

    @staticmethod
    def _after_commit(session: Session, action: Any) -> None:
        """Run ``action`` once the transaction commits (never if it rolls back)."""
        actions: list[Any] | None = session.info.get(_AFTER_COMMIT)
        if actions is None:
            actions = session.info[_AFTER_COMMIT] = []

            def run(sess: Session) -> None:
                todo = sess.info.pop(_AFTER_COMMIT, [])
                for act in todo:
                    act()

            def drop(sess: Session) -> None:
                sess.info.pop(_AFTER_COMMIT, None)

            event.listen(session, "after_commit", run, once=True)
            event.listen(session, "after_rollback", drop, once=True)
        actions.append(action)

    def checkpoint_all(self, db: Database) -> list[AuditCheckpointRow]:
        """Checkpoint every chain that has events after its last checkpoint."""
        with db.maintenance() as s:
            heads = dict(
                s.exec(
                    select(AuditEventRow.chain, func.max(AuditEventRow.seq)).group_by(
                        AuditEventRow.chain
                    )
                ).all()
            )
            signed = dict(
                s.exec(
                    select(AuditCheckpointRow.chain, func.max(AuditCheckpointRow.seq)).group_by(
                        AuditCheckpointRow.chain
                    )
                ).all()
            )
            made = [
                self.checkpoint(s, chain)
                for chain, top in sorted(heads.items())
                if top is not None and top > (signed.get(chain) or 0)
            ]
        return [m for m in made if m is not None]

    def checkpoint_quiet(self, db: Database) -> None:
        """Checkpoint chains whose unsigned events have waited a whole interval."""
        now = time.monotonic()
        with self._lock:
            due = [
                c for c, p in self._pending.items() if p.events and now - p.since >= self.interval_s
            ]
        if due:
            with db.maintenance() as s:
                for chain in due:
                    self.checkpoint(s, chain)

    def start(self, db: Database) -> None:
        """Sign quiet chains in the background until ``stop``."""
        self._runner = Periodic(
            "memsvc-checkpoints", min(self.interval_s, 60.0), lambda: self.checkpoint_quiet(db)
        )
        self._runner.start()

    def stop(self) -> None:
        """Stop the background signing (pending events are signed by ``checkpoint_all``)."""
        if self._runner is not None:
            self._runner.stop(timeout_s=5)
            self._runner = None
