"""Every fleet operation leaves exactly one audit event, whether it succeeds, is denied or
fails, with the role each needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import col, select

from memsvc import Actor, Channel, MemoryService, Role
from memsvc.domain import DEFAULT_REVIEW_POLICY, Kind, MemoryDraft, ProjectCreate, QuarantineCreate
from memsvc.errors import MemsvcError, PermissionDenied
from memsvc.store.models import AuditEventRow
from tests.audit.helpers import actor, last_seq

ADMIN = Actor.local(Channel.CLI)


def _proposal(svc: MemoryService) -> str:
    agent = Actor.local(Channel.MCP, client="bot")
    draft = MemoryDraft(kind=Kind.RULE, content=f"rule {last_seq(svc)}")
    return svc.add_memory(agent, "p", draft).memory.id


def _quarantine(svc: MemoryService) -> str:
    _proposal(svc)
    return svc.quarantine_memories(ADMIN, "p", QuarantineCreate(agent="bot")).id


def _operations(svc: MemoryService) -> dict[str, tuple[Role, Callable[[Actor], Any]]]:
    return {
        "get_review_policy": (Role.READER, lambda a: svc.get_review_policy(a, "p")),
        "set_review_policy": (
            Role.ADMIN,
            lambda a: svc.set_review_policy(a, "p", DEFAULT_REVIEW_POLICY),
        ),
        "approve_memory": (Role.CURATOR, lambda a: svc.approve_memory(a, "p", _proposal(svc))),
        "reject_memory": (Role.CURATOR, lambda a: svc.reject_memory(a, "p", _proposal(svc))),
        "quarantine_memories": (
            Role.CURATOR,
            lambda a: svc.quarantine_memories(a, "p", QuarantineCreate(agent="bot")),
        ),
        "list_quarantines": (Role.CURATOR, lambda a: svc.list_quarantines(a, "p")),
        "delete_quarantined": (
            Role.CURATOR,
            lambda a: svc.delete_quarantined(a, "p", _quarantine(svc)),
        ),
    }


@pytest.mark.parametrize("role", list(Role))
def test_each_fleet_operation_leaves_one_event_and_needs_its_role(
    service: MemoryService, role: Role
) -> None:
    service.create_project(ADMIN, ProjectCreate(id="p"))
    caller = actor(f"{role.value}-person", {"p": role})
    for name, (needed, op) in _operations(service).items():
        before = last_seq(service)
        try:
            op(caller)
            outcome = "ok"
        except PermissionDenied:
            outcome = "denied"
        assert outcome == ("ok" if role.rank >= needed.rank else "denied"), name
        with service._p.curation.db.read() as s:
            mine = s.exec(
                select(AuditEventRow).where(
                    col(AuditEventRow.seq) > before, AuditEventRow.action == name
                )
            ).all()
        assert [(e.action, e.outcome, e.principal) for e in mine] == [
            (name, outcome, caller.principal)
        ]


def test_a_failed_restore_is_audited_as_an_error(service: MemoryService) -> None:
    service.create_project(ADMIN, ProjectCreate(id="p"))
    before = last_seq(service)
    with pytest.raises(MemsvcError):
        service.restore_quarantine(ADMIN, "p", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert last_seq(service) == before + 1
