"""Verify a memsvc audit ledger: hash chains, signed checkpoints, the head record.

Standalone on purpose: it needs the Python standard library and ``cryptography`` only,
nothing of memsvc, so ``memsvc audit export`` ships a copy of this very file beside the
exported events and anyone can check them. memsvc's own ``audit verify`` uses the same
functions, so the two can never disagree.

    python verify_audit.py EXPORT_DIR     exit 0: intact; exit 1: first bad sequence number
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "EVENT_FIELDS",
    "GENESIS",
    "Finding",
    "Report",
    "canonical",
    "checkpoint_message",
    "entries_digest",
    "event_hash",
    "key_id_of",
    "verify_records",
]

GENESIS = "0" * 64
EVENT_FIELDS = (
    "seq",
    "chain",
    "project",
    "ts",
    "principal",
    "channel",
    "client",
    "action",
    "target_ids",
    "returned_ids",
    "outcome",
    "request_id",
    "detail",
)
CHECKPOINT_FIELDS = ("chain", "idx", "prev_seq", "seq", "hash", "count", "ts", "key_id")
_CHECKPOINT_DOMAIN = b"memsvc-audit-checkpoint/1\n"


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes hashed and signed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and a canonical JSON encoding of the event."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(fields)).hexdigest()


def entries_digest(entries: list[list[Any]]) -> str:
    """SHA-256 of a checkpoint's (chain, seq, hash) entries in canonical JSON."""
    return hashlib.sha256(canonical(entries)).hexdigest()


def checkpoint_message(cp: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers (``entries`` enter through their digest)."""
    digest = cp["entries_sha256"] if "entries_sha256" in cp else entries_digest(cp["entries"])
    body = {k: cp[k] for k in CHECKPOINT_FIELDS}
    body["entries_sha256"] = digest
    return _CHECKPOINT_DOMAIN + canonical(body)


def key_id_of(key: Ed25519PublicKey) -> str:
    """A public key's id: the first 16 hex digits of SHA-256 over its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, order=True)
class Finding:
    """One verification failure: the event's seq, its chain and why (ordered by seq)."""

    seq: int
    chain: str = field(compare=False)
    reason: str = field(compare=False)


@dataclass
class Report:
    """What the standalone verifier found: counts, signed coverage and findings."""

    events: int = 0
    checkpoints: int = 0
    chains: int = 0
    signed_through: dict[str, int] = field(default_factory=dict)
    """Per chain, the head seq of the last valid checkpoint."""
    unsigned: int = 0
    """Events after their chain's last checkpoint: chained but not yet signed."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def first(self) -> Finding | None:
        """The earliest finding by seq, or None when everything verified."""
        return min(self.findings) if self.findings else None


def _signature_ok(key: Ed25519PublicKey | None, cp: dict[str, Any]) -> str | None:
    if key is None:
        return "no public key to check the checkpoint signature"
    if cp.get("key_id") != key_id_of(key):
        return f"signed by another key ({str(cp.get('key_id'))[:16]})"
    try:
        key.verify(bytes.fromhex(cp["signature"]), checkpoint_message(cp))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return "signature invalid"
    return None


class _Ledger:
    """Events indexed for the checks: per chain, the sorted seqs; per seq, chain and hash."""

    def __init__(self) -> None:
        self.by_seq: dict[int, tuple[str, str]] = {}
        self.chain_seqs: dict[str, list[int]] = {}

    def after(self, chain: str, floor: int) -> int:
        """The first seq of ``chain`` above ``floor`` (``floor + 1`` if none)."""
        return next((s for s in self.chain_seqs.get(chain, []) if s > floor), floor + 1)


def _walk_chains(events: Iterable[dict[str, Any]], report: Report, ledger: _Ledger) -> None:
    heads: dict[str, str] = {}
    broken: set[str] = set()
    last = 0
    for ev in events:
        report.events += 1
        seq, chain = int(ev["seq"]), str(ev["chain"])
        if seq <= last:
            report.findings.append(Finding(seq, chain, "sequence number repeated or out of order"))
        last = max(last, seq)
        ledger.by_seq[seq] = (chain, ev["hash"])
        ledger.chain_seqs.setdefault(chain, []).append(seq)
        if chain in broken:
            continue
        prev = heads.get(chain, GENESIS)
        if ev["prev_hash"] != prev:
            reason = "link to the previous event broken (an event removed, inserted or moved)"
        elif event_hash(prev, {k: ev[k] for k in EVENT_FIELDS}) != ev["hash"]:
            reason = "event content altered"
        else:
            heads[chain] = ev["hash"]
            continue
        report.findings.append(Finding(seq, chain, reason))
        broken.add(chain)
    report.chains = len(ledger.chain_seqs)


def _check_entries(cp: dict[str, Any], floor: int, prev_count: int) -> str | None:
    entries = cp["entries"]
    seqs = [int(e[0]) for e in entries]
    if int(cp["prev_seq"]) != floor:
        return "checkpoints do not join up (one is missing)"
    if not entries or seqs != sorted(set(seqs)) or seqs[0] <= floor or seqs[-1] != cp["seq"]:
        return "checkpoint entries malformed"
    if entries[-1][1] != cp["hash"] or int(cp["count"]) != prev_count + len(entries):
        return "checkpoint entries malformed"
    return None


def _check_chain_checkpoints(
    chain: str,
    cps: list[dict[str, Any]],
    key: Ed25519PublicKey | None,
    ledger: _Ledger,
    report: Report,
) -> int:
    """Check one chain's checkpoints against its events; returns the last signed seq."""
    floor, count = 0, 0
    covered: set[int] = set()
    for n, cp in enumerate(sorted(cps, key=lambda c: int(c["idx"])), start=1):
        problem = _signature_ok(key, cp)
        if problem is None and int(cp["idx"]) != n:
            problem = f"checkpoint {n} is missing"
        problem = problem or _check_entries(cp, floor, count)
        if problem:
            at = ledger.after(chain, floor)
            report.findings.append(Finding(at, chain, f"checkpoint {cp['idx']}: {problem}"))
            break
        for seq, digest in cp["entries"]:
            got = ledger.by_seq.get(int(seq))
            if got is None:
                reason = f"event missing (checkpoint {n} signed it)"
                report.findings.append(Finding(int(seq), chain, reason))
            elif got != (chain, digest):
                reason = f"event differs from the one checkpoint {n} signed"
                report.findings.append(Finding(int(seq), chain, reason))
            covered.add(int(seq))
        floor, count = int(cp["seq"]), int(cp["count"])
        report.checkpoints += 1
    for seq in ledger.chain_seqs.get(chain, []):
        if seq <= floor and seq not in covered:
            report.findings.append(Finding(seq, chain, "event not in any signed checkpoint"))
    return floor


def _check_heads(
    heads: dict[str, dict[str, Any]],
    cps_by_chain: dict[str, list[dict[str, Any]]],
    key: Ed25519PublicKey | None,
    last_seq: int,
    report: Report,
) -> None:
    for chain, head in heads.items():
        problem = _signature_ok(key, head)
        same = [c for c in cps_by_chain.get(chain, []) if int(c["idx"]) == int(head["idx"])]
        if problem:
            reason = f"head record for chain {chain or '(global)'}: {problem}"
            report.findings.append(Finding(int(head["prev_seq"]) + 1, chain, reason))
        elif not same:
            reason = (
                f"head record names checkpoint {head['idx']} at seq {head['seq']}, which this "
                "ledger lacks: later events were cut off or an older copy was put in place"
            )
            report.findings.append(Finding(min(last_seq + 1, int(head["seq"])), chain, reason))
        elif same[0]["signature"] != head["signature"]:
            reason = f"checkpoint {head['idx']} differs from the head record"
            report.findings.append(Finding(int(head["prev_seq"]) + 1, chain, reason))


def verify_records(
    events: Iterable[dict[str, Any]],
    checkpoints: Iterable[dict[str, Any]],
    key: Ed25519PublicKey | None,
    *,
    heads: dict[str, dict[str, Any]] | None = None,
    contiguous: bool = False,
    last_seq: int | None = None,
) -> Report:
    """Check events (ascending seq), checkpoints and head records; collect every finding.

    ``contiguous``: the events are a whole store, whose global seq has no gaps.
    ``last_seq``: the store's highest seq (defaults to the highest event given).
    """
    report, ledger = Report(), _Ledger()
    _walk_chains(events, report, ledger)
    cps_by_chain: dict[str, list[dict[str, Any]]] = {}
    for cp in checkpoints:
        cps_by_chain.setdefault(str(cp["chain"]), []).append(cp)
    for chain, cps in cps_by_chain.items():
        report.signed_through[chain] = _check_chain_checkpoints(chain, cps, key, ledger, report)
    report.unsigned = sum(
        1
        for chain, seqs in ledger.chain_seqs.items()
        for s in seqs
        if s > report.signed_through.get(chain, 0)
    )
    top = last_seq if last_seq is not None else max(ledger.by_seq, default=0)
    _check_heads(heads or {}, cps_by_chain, key, top, report)
    if contiguous:  # last: at an equal seq, a finding that names the chain is preferred
        expected = 1
        for seq in sorted(ledger.by_seq):
            if seq != expected:
                report.findings.append(Finding(expected, "?", "event missing (sequence gap)"))
                break
            expected += 1
    return report


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Verify an exported bundle folder (argument, default ``.``); exit 0 if intact, 1 if tampered,
    2 if unreadable."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else ".")
    try:
        events = sorted(_read_jsonl(folder / "events.jsonl"), key=lambda e: int(e["seq"]))
        checkpoints = _read_jsonl(folder / "checkpoints.jsonl")
        pem = (folder / "public_key.pem").read_bytes()
        key = serialization.load_pem_public_key(pem)
        head_path = folder / "head.json"
        heads = json.loads(head_path.read_text("utf-8")) if head_path.exists() else {}
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read the export in {folder}: {exc}")
        return 2
    if not isinstance(key, Ed25519PublicKey):
        print("public_key.pem is not an Ed25519 key")
        return 2
    report = verify_records(events, checkpoints, key, heads=heads)
    bad = report.first
    if bad is not None:
        print(f"TAMPERED: chain {bad.chain or '(global)'} first bad seq {bad.seq}: {bad.reason}")
        return 1
    print(
        f"ok: {report.events} events, {report.checkpoints} signed checkpoints verified; "
        f"{report.unsigned} events after the last checkpoint"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
