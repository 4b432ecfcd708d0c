"""Demo data for the inspector's browser tests and screenshots: a few projects written
by agents through the service, with versions, a supersession, a duplicate and a conflict."""

from __future__ import annotations

from dataclasses import dataclass, field

from memsvc import Actor, Channel, Kind, MemoryDraft, MemoryPatch, MemoryService, ProjectCreate
from memsvc.domain import ProvenanceIn, ReviewPolicy


@dataclass
class Seeded:
    project: str = "acme-api"
    ids: dict[str, str] = field(default_factory=dict)


def _agent(name: str, client: str, version: str) -> Actor:
    return Actor.local(Channel.MCP, agent=name, client=client, client_version=version)


CLAUDE = _agent("claude", "claude-code", "1.4.2")
CODEX = _agent("codex", "codex-cli", "0.9.1")
HUMAN = Actor.local(Channel.REST, client="curl/8.5")


def seed_demo(service: MemoryService) -> Seeded:
    """Three projects; ``acme-api`` holds everything the inspector shows."""
    out = Seeded()
    admin = Actor.local(Channel.CLI)
    service.create_project(
        admin,
        ProjectCreate(
            id="billing-worker",
            name="Billing worker",
            description="Nightly invoicing jobs and the Stripe webhook consumer.",
            root_paths=["/src/billing-worker"],
        ),
    )
    service.set_review_policy(admin, "billing-worker", ReviewPolicy())  # seeded active
    _add(
        service,
        CODEX,
        "billing-worker",
        Kind.RULE,
        "Never retry a charge without an idempotency key.",
    )
    _add(
        service, CODEX, "billing-worker", Kind.FACT, "Invoices are generated at 02:00 UTC by cron."
    )
    service.create_project(
        admin,
        ProjectCreate(
            id="docs-site", name="Docs site", description="Public documentation (mkdocs)."
        ),
    )
    service.set_review_policy(admin, "docs-site", ReviewPolicy())  # seeded active
    _add(service, HUMAN, "docs-site", Kind.PREFERENCE, "Prefer short pages with one example each.")
    service.create_project(
        admin,
        ProjectCreate(
            id="acme-api",
            name="Acme API",
            description="The public REST API: FastAPI service, PostgreSQL, deployed on Fly.io.",
            root_paths=["/src/acme-api", "/home/dev/work/acme-api"],
        ),
    )
    service.set_review_policy(admin, "acme-api", ReviewPolicy())  # seeded active
    p = out.project
    ids = out.ids
    ids["rule_main"] = _add(
        service,
        HUMAN,
        p,
        Kind.RULE,
        "Never commit directly to main; every change goes through a pull request with one review.",
        title="No direct commits to main",
        tags=["git", "process"],
        pinned=True,
        importance=0.9,
    )
    ids["rule_secrets"] = _add(
        service,
        CLAUDE,
        p,
        Kind.RULE,
        "Do not log request bodies: they can hold customer tokens.",
        title="Never log request bodies",
        tags=["security", "logging"],
        paths=["src/api/**"],
    )
    ids["decision_db"] = _add(
        service,
        CLAUDE,
        p,
        Kind.DECISION,
        "Use PostgreSQL 16 as the primary datastore for the API; SQLite only in tests. "
        "Chosen over MySQL for JSONB and partial indexes.",
        title="PostgreSQL as primary datastore",
        tags=["db", "architecture"],
        origin="https://github.com/acme/acme-api/pull/212",
    )
    ids["decision_queue"] = _add(
        service,
        CODEX,
        p,
        Kind.DECISION,
        "Background jobs run on Celery with Redis as the broker.",
        title="Celery + Redis for background jobs",
        tags=["jobs", "architecture"],
    )
    ids["pref_pytest"] = _add(
        service,
        CLAUDE,
        p,
        Kind.PREFERENCE,
        "Prefers pytest with plain asserts over unittest classes; fixtures over setUp.",
        tags=["testing"],
    )
    ids["pref_types"] = _add(
        service,
        CODEX,
        p,
        Kind.PREFERENCE,
        "Type hints everywhere; mypy --strict must pass before review.",
        tags=["python", "typing"],
    )
    ids["fact_migrations"] = _add(
        service,
        CLAUDE,
        p,
        Kind.FACT,
        "Migrations live in migrations/versions and run with alembic upgrade head on deploy.",
        title="Where migrations live",
        tags=["db"],
        paths=["migrations/**"],
    )
    ids["fact_rate"] = _add(
        service,
        CODEX,
        p,
        Kind.FACT,
        "The public API is rate limited to 100 requests per minute per token (nginx).",
        title="Rate limit",
        tags=["api", "ops"],
    )
    ids["fact_landmine"] = _add(
        service,
        CLAUDE,
        p,
        Kind.FACT,
        "The orders table has a trigger that rewrites updated_at; do not set it by hand.",
        title="Landmine: orders.updated_at trigger",
        tags=["db", "landmine"],
    )
    ids["handoff"] = service.write_handoff(
        CLAUDE,
        p,
        "Moved webhook retries to Celery; tests green.",
        done=["Celery task for webhook retries", "Backoff with jitter"],
        next_steps=["Alert when the retry queue exceeds 1k", "Document the retry policy"],
    ).memory.id
    # an edit: a fact gets a second version
    service.update_memory(
        HUMAN,
        p,
        ids["fact_rate"],
        MemoryPatch(
            content="The public API is rate limited to 120 requests per minute per "
            "token (nginx limit_req, burst 20).",
            tags=["api", "ops", "nginx"],
        ),
    )
    # a supersession: the queue decision is replaced
    ids["decision_queue_v2"] = service.supersede_memory(
        CODEX,
        p,
        ids["decision_queue"],
        MemoryDraft(
            kind=Kind.DECISION,
            content="Background jobs run on Dramatiq with Redis; Celery was dropped for its "
            "memory use in the worker pods.",
            title="Dramatiq + Redis for background jobs",
            tags=["jobs", "architecture"],
        ),
    ).id
    # the review queue: a near-duplicate preference and a possibly conflicting rule
    ids["dup"] = _add(
        service,
        CODEX,
        p,
        Kind.PREFERENCE,
        "Prefers pytest with plain asserts over unittest classes, fixtures over setUp!",
        tags=["testing"],
    )
    ids["conflict"] = _add(
        service,
        CODEX,
        p,
        Kind.RULE,
        "Never commit directly to main; every change goes through a pull request with two reviews.",
        title="No direct commits to main",
        tags=["git", "process"],
    )
    return out


def _add(
    service: MemoryService,
    actor: Actor,
    project: str,
    kind: Kind,
    content: str,
    *,
    title: str | None = None,
    tags: list[str] | None = None,
    paths: list[str] | None = None,
    pinned: bool = False,
    importance: float = 0.5,
    origin: str | None = None,
) -> str:
    draft = MemoryDraft(
        kind=kind,
        content=content,
        title=title,
        tags=tags or [],
        paths=paths or [],
        pinned=pinned,
        importance=importance,
        provenance=ProvenanceIn(origin=origin, origin_type="url") if origin else None,
    )
    return service.add_memory(actor, project, draft).memory.id
