"""Helpers for the audit tests: count and read events straight from SQL."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from memsvc import Actor, Channel, MemoryService, Role
from memsvc.store.database import Database
from memsvc.store.models import AuditEventRow

CLI = Actor.local(Channel.CLI)


_READERS: dict[str, Database] = {}


def ledger(svc: MemoryService) -> Database:
    """The test's own connection to the service's database, to read the ledger directly."""
    url = svc.settings.sqlalchemy_url
    if url not in _READERS:
        _READERS[url] = Database(url)
    return _READERS[url]


def event_count(svc: MemoryService) -> int:
    with ledger(svc).read() as s:
        return int(s.exec(select(func.count()).select_from(AuditEventRow)).one())


def events_after(svc: MemoryService, seq: int) -> list[AuditEventRow]:
    with ledger(svc).read() as s:
        stmt = select(AuditEventRow).where(col(AuditEventRow.seq) > seq)
        return list(s.exec(stmt.order_by(col(AuditEventRow.seq))).all())


def last_seq(svc: MemoryService) -> int:
    with ledger(svc).read() as s:
        return int(s.exec(select(func.max(AuditEventRow.seq))).one() or 0)


def actor(name: str, grants: dict[str, Role], channel: Channel = Channel.REST) -> Actor:
    return Actor(principal=name, channel=channel, grants=grants)


def unique(text: str = "fact") -> str:
    return f"{text} {uuid.uuid4().hex}"


def all_audit_text(svc: MemoryService) -> str:
    """Every stored audit field as one string, to look for what must never be there."""
    with ledger(svc).read() as s:
        rows: list[Any] = list(s.exec(select(AuditEventRow)).all())
    return "\n".join(r.model_dump_json() for r in rows)
