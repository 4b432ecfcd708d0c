"""The audit ledger: one append-only event per operation, reads included, each project's
events linked in a SHA-256 hash chain.

Writes record their event in the same SQL transaction as the change, so no acknowledged
write lacks its event and no event describes a write that did not happen.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, not_
from sqlmodel import Session, col, select

from memsvc.audit.verifier import GENESIS, event_hash
from memsvc.clock import as_utc, utcnow
from memsvc.domain import (
    READ_ACTIONS,
    Actor,
    AuditEvent,
    AuditPage,
    AuditQuery,
    Channel,
    Outcome,
)
from memsvc.hygiene.secrets import redact_secrets
from memsvc.store.database import AUDITED, ledger_lock
from memsvc.store.models import AuditEventRow, AuditRefRow
from memsvc.store.pagination import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from memsvc.audit.checkpoints import Checkpointer

__all__ = ["GENESIS", "AuditLog", "event_fields", "event_hash"]


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_fields(row: AuditEventRow) -> dict[str, Any]:
    """The event as the verifier reads it: the hashed fields plus both hashes."""
    return {**_fields(row), "prev_hash": row.prev_hash, "hash": row.hash}


def _fields(row: AuditEventRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "chain": row.chain,
        "project": row.project_id,
        "ts": _ts(row.ts),
        "principal": row.principal,
        "channel": row.channel,
        "client": row.client,
        "action": row.action,
        "target_ids": list(row.target_ids),
        "returned_ids": list(row.returned_ids),
        "outcome": row.outcome,
        "request_id": row.request_id,
        "detail": row.detail,
    }


class AuditLog:
    """Records and reads audit events. Substitutable (benchmarks measure its cost).

    With a ``Checkpointer``, chain heads are signed every N events inside the same
    transaction as the event that makes the checkpoint due.
    """

    def __init__(self, hash_queries: bool = False, checkpoints: Checkpointer | None = None) -> None:
        self.hash_queries = hash_queries
        self.checkpoints = checkpoints

    def query_detail(self, query: str) -> str:
        """A search query or context task as the audit keeps it: secrets redacted first
        (an event is append-only, so a token logged here could never be removed), then
        hashed or cut to 500 characters. The hash is of the redacted text, so it cannot
        be brute-forced back to a short password."""
        redacted = redact_secrets(query)[0]
        if self.hash_queries:
            # surrogatepass: never fail the audited call over text a door should have refused
            digest = hashlib.sha256(redacted.encode("utf-8", "surrogatepass")).hexdigest()
            return "sha256:" + digest
        return redacted[:500]

    def record(
        self,
        session: Session,
        *,
        actor: Actor,
        action: str,
        project: str | None,
        outcome: Outcome,
        target_ids: list[str] | None = None,
        returned_ids: list[str] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEventRow:
        """Append one event inside the caller's write transaction.

        The ledger is locked first (``ledger_lock``, held until the transaction ends), so
        reading the chain's head, drawing the next ``seq`` and inserting happen as one step
        even with several processes on one PostgreSQL database: no fork, no duplicate key,
        no gap.
        """
        chain = project or ""
        session.flush()  # the caller's own changes first: the ledger lock's holder only appends
        ledger_lock(session)
        session.info[AUDITED] = True  # this transaction may commit (Database.write)
        last, top = session.execute(_HEAD_AND_TOP, {"chain": chain}).one()
        row = AuditEventRow(
            seq=int(top or 0) + 1,
            chain=chain,
            project_id=project,
            ts=utcnow(),
            principal=actor.principal,
            channel=actor.channel.value,
            client=actor.client,
            action=action,
            target_ids=list(target_ids or []),
            returned_ids=list(returned_ids or []),
            outcome=outcome.value,
            request_id=actor.request_id,
            detail=detail or {},
            prev_hash=last or GENESIS,
            hash="",
        )
        row.hash = event_hash(row.prev_hash, _fields(row))
        # Core inserts, not the unit of work: the row is written as built, and the ORM's
        # flush bookkeeping for one row cost more than the statement itself
        session.execute(_EVENTS.insert(), {c: getattr(row, c) for c in _EVENT_COLUMNS})
        refs = dict.fromkeys([*row.target_ids, *row.returned_ids])
        if refs:  # one statement: a batch write can touch a thousand memories
            session.execute(_REFS.insert(), [{"seq": row.seq, "memory_id": m} for m in refs])
        if self.checkpoints is not None:
            self.checkpoints.on_event(session, chain)
        return row

    def list(self, session: Session, project: str, query: AuditQuery) -> AuditPage:
        """A page of the project's events, newest first, narrowed by ``query``'s filters."""
        stmt = select(AuditEventRow).where(AuditEventRow.project_id == project)
        if query.action:
            stmt = stmt.where(AuditEventRow.action == query.action)
        if query.principal:
            stmt = stmt.where(AuditEventRow.principal == query.principal)
        if query.channel:
            stmt = stmt.where(AuditEventRow.channel == query.channel.value)
        if query.client:
            stmt = stmt.where(AuditEventRow.client == query.client)
        if query.hide_reads_from:
            channels = [c.value for c in query.hide_reads_from]
            stmt = stmt.where(
                not_(
                    and_(
                        col(AuditEventRow.channel).in_(channels),
                        col(AuditEventRow.action).in_(sorted(READ_ACTIONS)),
                    )
                )
            )
        if query.memory_id:
            stmt = stmt.where(
                col(AuditEventRow.seq).in_(
                    select(AuditRefRow.seq).where(AuditRefRow.memory_id == query.memory_id)
                )
            )
        since, until = as_utc(query.since), as_utc(query.until)
        if since is not None:
            stmt = stmt.where(AuditEventRow.ts >= since)
        if until is not None:
            stmt = stmt.where(AuditEventRow.ts < until)
        after = decode_cursor(query.cursor, before=int)
        if after:
            stmt = stmt.where(col(AuditEventRow.seq) < int(after["before"]))
        rows = session.exec(
            stmt.order_by(col(AuditEventRow.seq).desc()).limit(query.limit + 1)
        ).all()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        cursor = encode_cursor(before=rows[-1].seq) if more and rows else None
        return AuditPage(events=[to_event(r) for r in rows], next_cursor=cursor)


_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_REFS = AuditRefRow.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = tuple(c.name for c in _EVENTS.columns)

_HEAD_AND_TOP = select(
    select(AuditEventRow.hash)
    .where(AuditEventRow.chain == bindparam("chain"))
    .order_by(col(AuditEventRow.seq).desc())
    .limit(1)
    .scalar_subquery(),
    select(func.max(AuditEventRow.seq)).scalar_subquery(),
)
"""The chain's head hash and the ledger's highest ``seq``, in one statement: what the
next event links to and the number it takes (the highest plus one).

Read holding ``ledger_lock`` (SQLite: its write lock), so no other writer can draw the
same number or link to the same head, and gap-free, which the verifier relies on (a
PostgreSQL sequence would leave a gap at every rolled-back transaction). The append-only
triggers mean the highest seq is never deleted and reused. The lock is a statement of its
own, before this one: PostgreSQL takes a READ COMMITTED statement's snapshot when the
statement starts, so a read in the locking statement could see a head that a writer
holding the lock is about to replace.
"""


def to_event(row: AuditEventRow) -> AuditEvent:
    """The domain ``AuditEvent`` of a ledger row."""
    return AuditEvent(
        seq=row.seq or 0,
        project=row.project_id,
        ts=as_utc(row.ts) or row.ts,
        principal=row.principal,
        channel=Channel(row.channel),
        client=row.client,
        action=row.action,
        target_ids=list(row.target_ids),
        returned_ids=list(row.returned_ids),
        outcome=Outcome(row.outcome),
        request_id=row.request_id,
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
