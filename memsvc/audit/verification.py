"""Verify the audit ledger in the database: every chain, the global sequence, the memory
references, the signed checkpoints and the head record kept outside the database.

The checks themselves live in ``memsvc.audit.verifier`` (shared with exported copies);
this module feeds them from SQL and adds what only the database can show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect
from sqlmodel import Session, col, select

from memsvc.audit.checkpoints import HeadFile, KeyPaths, checkpoint_record
from memsvc.audit.ledger import event_fields
from memsvc.audit.verifier import Finding, Report, verify_records
from memsvc.settings import Settings
from memsvc.store.database import Database
from memsvc.store.models import AuditCheckpointRow, AuditEventRow, AuditRefRow

__all__ = ["LedgerReport", "verify_database", "verify_store"]

_BATCH = 5000


@dataclass
class LedgerReport:
    """What verifying the database found: counts, unsigned events, the first bad event."""

    events: int
    checkpoints: int
    chains: int
    unsigned: int
    first: Finding | None
    notes: list[str] = field(default_factory=list)

    def summary(self, project: str | None = None) -> str:
        """One line for the operator: ``ok: …`` and the counts, or ``TAMPERED …`` and the first
        bad seq."""
        where = f" in {project}" if project else ""
        if self.first is not None:
            chain = self.first.chain or "(global)"
            return f"TAMPERED{where}: chain {chain} first bad seq {self.first.seq}: " + (
                self.first.reason
            )
        return (
            f"ok: {self.events} audit events in {self.chains} chains{where} verified, "
            f"{self.checkpoints} signed checkpoints, {self.unsigned} events not yet signed"
        )


def _events(session: Session, project: str | None) -> Iterator[dict[str, Any]]:
    """Events in seq order as verifier dicts, read in batches."""
    after = 0
    while True:
        stmt = select(AuditEventRow).where(col(AuditEventRow.seq) > after)
        if project is not None:
            stmt = stmt.where(AuditEventRow.chain == project)
        rows = session.exec(stmt.order_by(col(AuditEventRow.seq)).limit(_BATCH)).all()
        if not rows:
            return
        for row in rows:
            yield event_fields(row)
        after = rows[-1].seq or after


def _refs(session: Session, project: str | None) -> dict[int, set[str]]:
    stmt = select(AuditRefRow.seq, AuditRefRow.memory_id)
    if project is not None:
        stmt = stmt.join(AuditEventRow, col(AuditEventRow.seq) == col(AuditRefRow.seq)).where(
            AuditEventRow.chain == project
        )
    out: dict[int, set[str]] = {}
    for seq, memory_id in session.exec(stmt):
        out.setdefault(seq, set()).add(memory_id)
    return out


def _checked_refs(
    events: Iterator[dict[str, Any]], refs: dict[int, set[str]], found: list[Finding]
) -> Iterator[dict[str, Any]]:
    """Pass events through, noting the first whose memory references were altered."""
    for ev in events:
        want = {*ev["target_ids"], *ev["returned_ids"]}
        if not found and refs.pop(ev["seq"], set()) != want:
            found.append(Finding(int(ev["seq"]), ev["chain"], "memory references altered"))
        yield ev
    if not found and refs:
        seq = min(refs)
        found.append(Finding(seq, "", "memory references point at a missing event"))


def verify_database(db: Database, paths: KeyPaths, project: str | None = None) -> LedgerReport:
    """Check the whole ledger (or one project's chain) against its checkpoints and head."""
    notes: list[str] = []
    head = HeadFile(paths.head).read()
    key = paths.load_public()
    with db.read() as s:
        cps = s.exec(select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.id))).all()
        records = [checkpoint_record(c) for c in cps if project is None or c.chain == project]
        last_seq = s.exec(select(func.max(AuditEventRow.seq))).one() or 0
        ref_findings: list[Finding] = []
        events = _checked_refs(_events(s, project), _refs(s, project), ref_findings)
        heads = head or {}
        if project is not None:
            heads = {c: h for c, h in heads.items() if c == project}
        report = verify_records(
            events, records, key, heads=heads, contiguous=project is None, last_seq=last_seq
        )
    report.findings.extend(ref_findings)
    if head is None and records:
        floor = max(int(r["seq"]) for r in records)
        report.findings.append(
            Finding(
                floor + 1, "", f"head record {paths.head} is missing; cannot rule out a rollback"
            )
        )
    if key is None and not records:
        notes.append("no signing key yet: nothing has been checkpointed")
    return _to_ledger_report(report, notes)


def _to_ledger_report(report: Report, notes: list[str]) -> LedgerReport:
    return LedgerReport(
        events=report.events,
        checkpoints=report.checkpoints,
        chains=report.chains,
        unsigned=report.unsigned,
        first=report.first,
        notes=notes,
    )


def verify_store(settings: Settings, project: str | None = None) -> LedgerReport:
    """Verify the store ``settings`` point at, read-only: no migration, no model, no index."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise FileNotFoundError(f"no memsvc database at {url}; check --data-dir")
    db = Database(url)
    try:
        with db.read() as s:
            tables = set(inspect(s.connection()).get_table_names())
        if not {"audit_event", "audit_checkpoint"} <= tables:
            raise FileNotFoundError(
                f"no migrated memsvc database at {settings.sqlalchemy_url}; run `memsvc migrate`"
            )
        return verify_database(db, KeyPaths.from_settings(settings), project)
    finally:
        db.dispose()
