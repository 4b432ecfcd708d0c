"""Export one project's audit chain so that anyone can check it without memsvc: events as
JSONL, the signed checkpoints, the public key, the head record and a standalone verifier."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from memsvc.audit import verifier as audit_verifier
from memsvc.audit.checkpoints import HeadFile, KeyPaths, checkpoint_record
from memsvc.audit.ledger import event_fields
from memsvc.store.models import AuditCheckpointRow, AuditEventRow

__all__ = ["AuditBundle", "collect_bundle", "write_bundle"]

VERIFIER_NAME = "verify_audit.py"

_README = """memsvc audit export of project {project}

events.jsonl       {events} audit events, ascending seq; each links to the previous by SHA-256
checkpoints.jsonl  {checkpoints} Ed25519-signed checkpoints over the chain
public_key.pem     the key that verifies the signatures (key id {key_id})
head.json          the newest checkpoint as mirrored outside the database, if any
verify_audit.py    a standalone verifier (Python 3.11+, `pip install cryptography`)

Check it:  python verify_audit.py .
Exit 0 and "ok" when intact; exit 1 and the first bad sequence number when not.
Compare the key id with one you obtained independently: a verifier cannot tell a
re-signed forgery from the real thing if the public key came with the forgery.
"""


@dataclass
class AuditBundle:
    """A project's audit chain for offline verification: events, checkpoints, public key and head
    record."""

    project: str
    events: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]
    public_key_pem: bytes
    key_id: str
    head: dict[str, dict[str, Any]]


def collect_bundle(session: Session, project: str, paths: KeyPaths) -> AuditBundle:
    """Everything needed to check ``project``'s chain, read in one transaction."""
    rows = session.exec(
        select(AuditEventRow).where(AuditEventRow.chain == project).order_by(col(AuditEventRow.seq))
    ).all()
    cps = session.exec(
        select(AuditCheckpointRow)
        .where(AuditCheckpointRow.chain == project)
        .order_by(col(AuditCheckpointRow.idx))
    ).all()
    key = paths.load_public()
    pem, key_id = b"", ""
    if key is not None:
        from cryptography.hazmat.primitives import serialization

        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key_id = audit_verifier.key_id_of(key)
    head = {c: h for c, h in (HeadFile(paths.head).read() or {}).items() if c == project}
    return AuditBundle(
        project=project,
        events=[event_fields(r) for r in rows],
        checkpoints=[checkpoint_record(c) for c in cps],
        public_key_pem=pem,
        key_id=key_id,
        head=head,
    )


def _jsonl(path: Path, items: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n")


def write_bundle(bundle: AuditBundle, out: Path) -> list[Path]:
    """Write the export into ``out`` (created if needed); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        name: out / name
        for name in ("events.jsonl", "checkpoints.jsonl", "public_key.pem", "head.json")
    }
    _jsonl(files["events.jsonl"], bundle.events)
    _jsonl(files["checkpoints.jsonl"], bundle.checkpoints)
    files["public_key.pem"].write_bytes(bundle.public_key_pem)
    files["head.json"].write_text(json.dumps(bundle.head, sort_keys=True, indent=1), "utf-8")
    verifier = out / VERIFIER_NAME
    verifier.write_text(Path(audit_verifier.__file__).read_text("utf-8"), "utf-8")
    readme = out / "README.txt"
    readme.write_text(
        _README.format(
            project=bundle.project,
            events=len(bundle.events),
            checkpoints=len(bundle.checkpoints),
            key_id=bundle.key_id or "none",
        ),
        "utf-8",
    )
    return [*files.values(), verifier, readme]
