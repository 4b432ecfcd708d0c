"""Export and import: memsvc's JSONL round trip is exact and idempotent; other tools'
exports and agents' instruction files become memories with their origin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from memsvc import Actor, Channel, MemoryDraft, MemoryPatch, MemoryService, ProjectCreate, Role
from memsvc.bootstrap import build_service
from memsvc.domain import (
    ContextRequest,
    Kind,
    QuarantineCreate,
    ReviewPolicy,
    ReviewRule,
    SearchQuery,
    Status,
)
from memsvc.errors import InvalidInput, PermissionDenied
from memsvc.operations import calls as calls_module
from memsvc.retrieval.embedder import HashEmbedder
from memsvc.transfer.importers import convert, detect_format
from tests.conftest import make_settings

ME = Actor.local(Channel.CLI)


def _fill(svc: MemoryService) -> None:
    svc.create_project(ME, ProjectCreate(id="acme", name="Acme API", root_paths=["/src/acme"]))
    rule = svc.add_memory(
        ME, "acme", MemoryDraft(kind=Kind.RULE, content="money is integer cents", tags=["money"])
    ).memory
    svc.supersede_memory(
        ME, "acme", rule.id, MemoryDraft(kind=Kind.RULE, content="money is integer cents, always")
    )
    fact = svc.add_memory(
        ME,
        "acme",
        MemoryDraft(
            kind=Kind.FACT,
            content="the queue is rabbitmq 🐇",
            provenance={"agent": "claude-code", "session": "s1", "origin": "notes.md"},
        ),
    ).memory
    svc.update_memory(ME, "acme", fact.id, MemoryPatch(pinned=True, tags=["infra"]))
    gone = svc.add_memory(ME, "acme", MemoryDraft(kind=Kind.FACT, content="temporary")).memory
    svc.delete_memory(ME, "acme", gone.id)


def _everything(svc: MemoryService) -> dict[str, object]:
    page = svc.list_memories(
        ME, "acme", statuses=[Status.ACTIVE, Status.SUPERSEDED, Status.DELETED], limit=100
    )
    return {
        m.id: (
            m.model_dump(mode="json"),
            [v.model_dump(mode="json") for v in svc.memory_history(ME, "acme", m.id)],
        )
        for m in page.memories
    }


def test_export_then_import_restores_every_memory_version_and_provenance(tmp_path: Path) -> None:
    with build_service(make_settings(tmp_path / "a"), embedder=HashEmbedder(64)) as src:
        _fill(src)
        lines = list(src.export_memories(ME, ["acme"]))
        before = _everything(src)
    assert json.loads(lines[0])["type"] == "memsvc-export"
    with build_service(make_settings(tmp_path / "b"), embedder=HashEmbedder(64)) as dst:
        report = dst.import_memories(ME, lines)
        assert report.projects[0].created_project and report.projects[0].memories_added == 4
        assert _everything(dst) == before
        project = dst.get_project(ME, "acme")
        assert project.name == "Acme API" and project.root_paths == ["/src/acme"]
        hits = dst.search_memories(ME, "acme", SearchQuery(query="rabbitmq queue"))
        assert hits and hits[0].memory.provenance.agent == "claude-code"
        again = dst.import_memories(ME, lines)
        assert again.projects[0].memories_added == 0 and again.projects[0].versions_added == 0
        assert again.projects[0].memories_skipped == 4
        assert _everything(dst) == before


def test_an_import_of_several_projects_takes_each_projects_lock_not_a_project_less_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with build_service(make_settings(tmp_path / "a"), embedder=HashEmbedder(64)) as src:
        for project in ("acme", "beta"):
            src.create_project(ME, ProjectCreate(id=project))
            src.add_memory(ME, project, MemoryDraft(kind=Kind.FACT, content=f"{project} fact"))
        lines = list(src.export_memories(ME, ["acme", "beta"]))
    taken: list[str | None] = []
    real = calls_module.project_lock

    def recording(session: Session, project: str | None) -> None:
        taken.append(project)
        real(session, project)

    monkeypatch.setattr(calls_module, "project_lock", recording)
    with build_service(make_settings(tmp_path / "b"), embedder=HashEmbedder(64)) as dst:
        report = dst.import_memories(ME, lines)
    assert [p.memories_added for p in report.projects] == [1, 1]
    # one transaction per project, each under that project's lock (as any change to it)
    assert taken == ["acme", "beta"]


def test_a_malformed_export_is_refused_whole_and_names_the_line(service: MemoryService) -> None:
    service.create_project(ME, ProjectCreate(id="acme"))
    header = json.dumps({"type": "memsvc-export", "format_version": 1})
    project = json.dumps(
        {
            "type": "project",
            "id": "other",
            "name": "o",
            "description": "",
            "root_paths": [],
            "created_at": "2026-01-01T00:00:00+00:00",
            "last_active_at": "2026-01-01T00:00:00+00:00",
        }
    )
    with pytest.raises(InvalidInput, match="line 3"):
        service.import_memories(ME, [header, project, "{not json"])
    bad = json.dumps({"type": "memory", "id": "nope", "project_id": "other"})
    with pytest.raises(InvalidInput):
        service.import_memories(ME, [header, project, bad])
    assert [p.id for p in service.list_projects(ME)] == ["acme"]


def test_export_needs_the_curator_role(service: MemoryService) -> None:
    service.create_project(ME, ProjectCreate(id="acme"))
    reader = Actor(principal="bob", channel=Channel.REST, grants={"acme": Role.READER})
    with pytest.raises(PermissionDenied):
        service.export_memories(reader, ["acme"])


MCP_MEMORY = "\n".join(
    json.dumps(x)
    for x in [
        {
            "type": "entity",
            "name": "Acme API",
            "entityType": "service",
            "observations": ["written in Go", "deploys from GitHub Actions"],
        },
        {
            "type": "relation",
            "from": "Acme API",
            "to": "Postgres",
            "relationType": "stores_data_in",
        },
    ]
)
MEM0 = json.dumps(
    {
        "results": [
            {
                "id": "a1",
                "memory": "Prefers pytest over unittest",
                "categories": ["testing"],
                "created_at": "2026-03-01T10:00:00Z",
                "user_id": "alice",
            },
            {"id": "a2", "memory": "old", "state": "deleted"},
        ]
    }
)
BASIC_MEMORY = """---
title: Payments design
type: note
tags: [payments, money]
---
# Payments design

## Observations
- [decision] Chose Stripe over Adyen for EU coverage #vendors
- [rule] Amounts are integer cents
- [fact] Webhooks arrive at /hooks/stripe

## Relations
- implements [[Billing]]
"""
CLAUDE_MD = """# Project conventions

## Code style
- Always run `ruff format` before committing.
- Never commit directly to main.
- Prefer small pure functions.

## Testing
1. Use pytest fixtures, not setUp methods.
"""
CURSOR_RULE = """---
description: API handlers
globs: src/api/**/*.py
alwaysApply: false
---
- Handlers must validate input with pydantic models.
"""


def test_importers_turn_other_tools_exports_into_memories(service: MemoryService) -> None:
    service.create_project(ME, ProjectCreate(id="acme"))
    samples = {
        "memory.jsonl": MCP_MEMORY,
        "mem0-export.json": MEM0,
        "payments.md": BASIC_MEMORY,
        "CLAUDE.md": CLAUDE_MD,
        ".cursor/rules/api.mdc": CURSOR_RULE,
    }
    for name, text in samples.items():
        fmt = detect_format(name, text)
        service.import_drafts(ME, "acme", convert(fmt, text, name))
    every = [Status.ACTIVE, Status.PROPOSED]
    memories = service.list_memories(ME, "acme", statuses=every, limit=100).memories
    by_text = {m.content: m for m in memories}
    assert by_text["Acme API (service): written in Go"].provenance.origin == "memory.jsonl"
    assert "Acme API stores data in Postgres" in by_text
    pytest_pref = by_text["Prefers pytest over unittest"]
    assert pytest_pref.tags == ["testing"] and pytest_pref.provenance.channel == Channel.IMPORT
    assert "old" not in by_text
    assert by_text["Chose Stripe over Adyen for EU coverage"].kind == Kind.DECISION
    assert by_text["Amounts are integer cents"].kind == Kind.RULE
    assert by_text["Never commit directly to main."].kind == Kind.RULE
    assert by_text["Prefer small pure functions."].kind == Kind.PREFERENCE
    assert by_text["Never commit directly to main."].provenance.origin == "CLAUDE.md"
    api_rule = by_text["Handlers must validate input with pydantic models."]
    assert api_rule.kind == Kind.RULE and api_rule.paths == ["src/api/**/*.py"]
    # importing the same files again stores nothing new
    count = len(memories)
    for name, text in samples.items():
        service.import_drafts(ME, "acme", convert(detect_format(name, text), text, name))
    assert len(service.list_memories(ME, "acme", statuses=every, limit=100).memories) == count


def _statuses(svc: MemoryService, project: str) -> dict[str, tuple[str, str]]:
    page = svc.list_memories(ME, project, statuses=list(Status), limit=100)
    return {m.content: (m.kind.value, m.status.value) for m in page.memories}


def test_imported_rules_wait_for_review_under_the_default_policy(service: MemoryService) -> None:
    service.create_project(ME, ProjectCreate(id="acme"))
    results = service.import_drafts(ME, "acme", convert("instructions", CLAUDE_MD, "CLAUDE.md"))
    assert results and all(r.memory.provenance.channel == Channel.IMPORT for r in results)
    got = _statuses(service, "acme")
    assert got["Never commit directly to main."] == ("rule", "proposed")
    assert got["Prefer small pure functions."] == ("preference", "active")
    # a proposed rule is never served as one: only in the pack's labelled proposed section
    pack = service.get_context(ME, "acme", ContextRequest(task="commit to main"))
    shown = {m.content: m.status for m in pack.items}
    assert shown.get("Never commit directly to main.", Status.PROPOSED) == Status.PROPOSED
    rule = next(r.memory for r in results if r.memory.kind == Kind.RULE)
    assert service.approve_memory(ME, "acme", rule.id).status == Status.ACTIVE


def test_a_policy_without_import_trusts_imported_rules(service: MemoryService) -> None:
    service.create_project(ME, ProjectCreate(id="acme"))
    mcp_only = ReviewPolicy(propose=[ReviewRule(kinds=[Kind.RULE], channels=[Channel.MCP])])
    service.set_review_policy(ME, "acme", mcp_only)
    service.import_drafts(ME, "acme", convert("instructions", CLAUDE_MD, "CLAUDE.md"))
    assert _statuses(service, "acme")["Never commit directly to main."] == ("rule", "active")


def test_restoring_an_export_keeps_every_status_whatever_the_policy(tmp_path: Path) -> None:
    agent = Actor.local(Channel.MCP, agent="bot")
    with build_service(make_settings(tmp_path / "a"), embedder=HashEmbedder(64)) as src:
        _fill(src)
        src.add_memory(agent, "acme", MemoryDraft(kind=Kind.RULE, content="agents may push"))
        src.add_memory(agent, "acme", MemoryDraft(kind=Kind.FACT, content="bot was here"))
        src.quarantine_memories(ME, "acme", QuarantineCreate(agent="bot"))
        src.import_drafts(ME, "acme", convert("instructions", CLAUDE_MD, "CLAUDE.md"))
        before = _statuses(src, "acme")
        lines = list(src.export_memories(ME, ["acme"]))
    assert {"proposed", "quarantined", "superseded", "deleted", "active"} <= {
        s for _, s in before.values()
    }
    everything = ReviewPolicy(propose=[ReviewRule(kinds=list(Kind))])
    with build_service(make_settings(tmp_path / "b"), embedder=HashEmbedder(64)) as dst:
        dst.create_project(ME, ProjectCreate(id="acme"))
        dst.set_review_policy(ME, "acme", everything)
        dst.import_memories(ME, lines)
        assert _statuses(dst, "acme") == before
