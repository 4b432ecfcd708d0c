"""LoCoMo loading and retrieval metrics (protocol: benchmarks/README.md).

Pure functions over plain data so the scoring is unit-tested on a synthetic fixture.
A turn is named by its ``(session, turn)`` pair, parsed from ids like ``D3:12``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "Conversation",
    "Question",
    "Turn",
    "TurnId",
    "load_locomo",
    "mrr",
    "ndcg_at",
    "parse_evidence",
    "parse_session_date",
    "recall_all_at",
    "recall_any_at",
    "session_order",
    "turn_recall_at",
]

TurnId = tuple[int, int]
_ID = re.compile(r"D:?(\d+):(\d+)")


def parse_evidence(raw: Iterable[str]) -> list[TurnId]:
    """Evidence ids, tidied: ``"D8:6; D9:17"`` is two ids, ``"D:11:26"`` is ``D11:26``,
    ``"D30:05"`` is ``D30:5``; anything without a session and a turn is dropped."""
    out: dict[TurnId, None] = {}
    for item in raw:
        for part in re.split(r"[;,\s]+", str(item)):
            m = _ID.fullmatch(part.strip())
            if m:
                out.setdefault((int(m.group(1)), int(m.group(2))), None)
    return list(out)


def parse_session_date(text: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` as an aware UTC datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Turn:
    id: TurnId
    speaker: str
    text: str
    when: datetime

    def memory_text(self, caption: str | None = None) -> str:
        base = f"{self.speaker}: {self.text}"
        return f"{base} [shares {caption}]" if caption else base


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: list[TurnId]


@dataclass
class Conversation:
    sample_id: str
    turns: list[tuple[Turn, str]] = field(default_factory=list)
    """Each turn with its memory text."""
    questions: list[Question] = field(default_factory=list)


def _turns(conv: dict[str, Any]) -> list[tuple[Turn, str]]:
    out: list[tuple[Turn, str]] = []
    keys = [k for k in conv if re.fullmatch(r"session_\d+", k)]
    for key in sorted(keys, key=lambda k: int(k.split("_")[1])):
        date = conv.get(f"{key}_date_time")
        if not isinstance(conv[key], list) or not date:
            continue
        when = parse_session_date(date)
        for raw in conv[key]:
            ids = parse_evidence([raw["dia_id"]])
            if not ids:
                continue
            turn = Turn(ids[0], raw["speaker"], raw["text"], when)
            out.append((turn, turn.memory_text(raw.get("blip_caption"))))
    return out


def load_locomo(path: Path) -> list[Conversation]:
    data = json.loads(path.read_text(encoding="utf-8"))
    convs = []
    for item in data:
        conv = Conversation(item["sample_id"], _turns(item["conversation"]))
        for qa in item["qa"]:
            evidence = parse_evidence(qa.get("evidence") or [])
            conv.questions.append(Question(str(qa["question"]), int(qa["category"]), evidence))
        convs.append(conv)
    return convs


def session_order(ranked: Sequence[TurnId]) -> list[int]:
    """Distinct sessions in the order their first memory appears."""
    return list(dict.fromkeys(s for s, _ in ranked))


def recall_any_at(ranked: Sequence[TurnId], evidence: Sequence[TurnId], k: int) -> float:
    wanted = {s for s, _ in evidence}
    return float(bool(wanted & set(session_order(ranked)[:k])))


def recall_all_at(ranked: Sequence[TurnId], evidence: Sequence[TurnId], k: int) -> float:
    wanted = {s for s, _ in evidence}
    return float(wanted <= set(session_order(ranked)[:k]))


def turn_recall_at(ranked: Sequence[TurnId], evidence: Sequence[TurnId], k: int) -> float:
    """Fraction of the evidence turns among the first ``k`` memories."""
    wanted = set(evidence)
    return len(wanted & set(ranked[:k])) / len(wanted)


def ndcg_at(ranked: Sequence[int | TurnId], relevant: set[Any], k: int) -> float:
    """Binary-relevance NDCG@k over a ranking of distinct items (sessions or turns)."""
    gains = sum(1.0 / math.log2(i + 2) for i, x in enumerate(ranked[:k]) if x in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return gains / ideal if ideal else 0.0


def mrr(ranked: Sequence[int | TurnId], relevant: set[Any]) -> float:
    """Reciprocal rank of the first relevant item (0 when none was retrieved)."""
    for i, x in enumerate(ranked):
        if x in relevant:
            return 1.0 / (i + 1)
    return 0.0
