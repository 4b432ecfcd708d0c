"""A token pasted into any field a caller writes is redacted before it is kept: memory
fields, provenance, project name and description, handoffs, and the search queries and
context tasks the audit log records. Checked on the returned models and on the raw bytes
of every file in the data dir (SQLite, its WAL and LanceDB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsvc import Actor, MemoryService, ProjectCreate, SearchQuery, Settings
from memsvc.domain import (
    AuditQuery,
    ContextRequest,
    Kind,
    MemoryDraft,
    MemoryPatch,
    ProjectPatch,
    ProvenanceIn,
)

# Assembled at run time: no credential-shaped literal in the repository.
NPM = "npm_" + "Zq7Lp2Xw9Rt4" * 3
GITLAB = "glpat-" + "Kd8sP2mQ9vXc4LwE7rTy"
HF = "hf_" + "Mn4Bv7Cx2Zl9Kj6Hg3Fd5Sa8Qw1Er0Ty"
TOKENS = (NPM, GITLAB, HF)


def _bytes_on_disk(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def _assert_nowhere(settings: Settings, written: str) -> None:
    raw = _bytes_on_disk(settings.data_dir)
    assert written.encode() in raw  # the scan does see what was stored
    for token in TOKENS:
        assert token.encode() not in raw, f"{token[:8]}… is on disk"


@pytest.fixture
def acme(service: MemoryService, actor: Actor) -> str:
    service.create_project(
        actor,
        ProjectCreate(id="acme", name=f"acme {NPM}", description=f"deploy with {GITLAB}"),
    )
    return "acme"


def test_tokens_in_every_memory_field_are_redacted(
    service: MemoryService, actor: Actor, acme: str, settings: Settings
) -> None:
    added = service.add_memory(
        actor,
        acme,
        MemoryDraft(
            kind=Kind.FACT,
            content="the registry uses a scoped token",
            title=f"npm {NPM}",
            tags=["ci", GITLAB],
            paths=[f"src/{HF}/x.py"],
            provenance=ProvenanceIn(agent=f"bot {HF}", session=NPM, origin=f"chat {GITLAB}"),
        ),
    ).memory
    assert added.redactions == 3  # title, one tag, one path
    kept = added.model_dump_json()
    for token in TOKENS:
        assert token not in kept
    assert "[REDACTED:npm_token]" in (added.title or "")
    assert added.provenance.origin == "chat [REDACTED:gitlab_token]"

    patched = service.update_memory(
        actor, acme, added.id, MemoryPatch(title=f"again {HF}", tags=[NPM])
    )
    assert HF not in (patched.title or "") and NPM not in patched.tags[0]

    project = service.get_project(actor, acme)
    assert NPM not in project.name and GITLAB not in project.description
    renamed = service.update_project(actor, acme, ProjectPatch(description=f"now {HF}"))
    assert HF not in renamed.description


def test_handoff_fields_are_redacted(service: MemoryService, actor: Actor, acme: str) -> None:
    handoff = service.write_handoff(
        actor, acme, f"rotated {NPM}", done=[f"moved {GITLAB}"], next_steps=[HF]
    ).memory
    for token in TOKENS:
        assert token not in handoff.content
    assert handoff.redactions == 3


def test_search_queries_and_context_tasks_reach_the_audit_log_redacted(
    service: MemoryService, actor: Actor, acme: str, settings: Settings
) -> None:
    service.add_memory(actor, acme, MemoryDraft(kind=Kind.FACT, content="publish with npm"))
    service.search_memories(actor, acme, SearchQuery(query=f"why does {NPM} fail"))
    service.get_context(actor, acme, ContextRequest(task=f"rotate {GITLAB} and {HF}"))
    events = service.list_audit_events(actor, acme, AuditQuery(limit=1000)).events
    details = " ".join(str(e.detail) for e in events)
    assert "[REDACTED:npm_token]" in details and "[REDACTED:gitlab_token]" in details
    for token in TOKENS:
        assert token not in details
    _assert_nowhere(settings, "publish with npm")


def test_nothing_a_caller_wrote_reaches_the_disk_unredacted(
    service: MemoryService, actor: Actor, acme: str, settings: Settings
) -> None:
    service.add_memories(
        actor,
        acme,
        [
            MemoryDraft(kind=Kind.FACT, content=f"the npm token is {NPM}"),
            MemoryDraft(kind=Kind.RULE, content=f"never commit {GITLAB}", tags=[HF]),
        ],
    )
    service.write_handoff(actor, acme, f"done with {HF}")
    _assert_nowhere(settings, "never commit")
