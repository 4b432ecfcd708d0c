"""Audit reads and verification, principals and tokens, health."""

from __future__ import annotations

from typing import Any

from memsvc.access import tokens as principals
from memsvc.audit.checkpoints import KeyPaths
from memsvc.audit.export import AuditBundle, collect_bundle
from memsvc.audit.ledger import ChainBreak
from memsvc.audit.verification import verify_database
from memsvc.clock import utcnow
from memsvc.domain import (
    Actor,
    AuditPage,
    AuditQuery,
    Channel,
    IssuedToken,
    Outcome,
    Role,
    TokenInfo,
)
from memsvc.errors import (
    InvalidInput,
    Unauthenticated,
)
from memsvc.operations.base import Operation, ServiceBase
from memsvc.store import projects as proj_store
from memsvc.store.models import ProjectRow

__all__ = ["AccessOps"]


class AccessOps(ServiceBase):
    """Audit, principals and tokens."""

    def list_audit_events(self, actor: Actor, project: str, query: AuditQuery) -> AuditPage:
        with self._op(actor, "list_audit_events", project) as op, self.db.read() as s:
            self._require(actor, project, Role.CURATOR)
            if not 1 <= query.limit <= 1000:
                raise InvalidInput("limit must be between 1 and 1000")
            self._project_row(s, actor, project)
            page = self.audit.list(s, project, query)
            op.detail["events"] = len(page.events)
            return page

    def verify_audit(self, project: str | None = None) -> tuple[int, ChainBreak | None]:
        """Check the audit chains (one project's, or all) against the signed checkpoints and
        the head record outside the database: the event count and the first break."""
        report = verify_database(self.db, KeyPaths.from_settings(self.settings), project)
        return report.events, report.first

    def checkpoint_audit(self) -> int:
        """Sign every chain's unsigned events now (operator maintenance); how many chains."""
        if self.audit.checkpoints is None:
            return 0
        return len(self.audit.checkpoints.checkpoint_all(self.db))

    def export_audit(self, actor: Actor, project: str) -> AuditBundle:
        """A project's events, checkpoints and public key, signed up to now (curator)."""
        with self._op(actor, "export_audit", project) as op:
            self._require(actor, project, Role.CURATOR)
            with self.db.read() as s:
                self._project_row(s, actor, project)
            if self.audit.checkpoints is not None:
                with self.db.write() as s:
                    self.audit.checkpoints.checkpoint(s, project)
            with self.db.read() as s:
                bundle = collect_bundle(s, project, KeyPaths.from_settings(self.settings))
            op.detail["events"] = len(bundle.events)
            return bundle

    # -- principals and tokens ----------------------------------------------------------

    def tokens_configured(self) -> bool:
        """True once any unrevoked token exists: then every transport requires one."""
        with self.db.read() as s:
            return principals.tokens_configured(s)

    def authenticate(
        self,
        token: str | None,
        channel: Channel,
        *,
        allow_local: bool = False,
        client: str | None = None,
        client_version: str | None = None,
        agent: str | None = None,
        session: str | None = None,
        request_id: str | None = None,
    ) -> Actor:
        """The caller behind a bearer token. Without one, ``allow_local`` (a loopback or
        stdio transport) gives the implicit local principal while no token exists.

        Raises ``Unauthenticated`` and records a denied ``authenticate`` event otherwise;
        a success records nothing (the operation it authorises is audited).
        """
        extra: dict[str, Any] = {
            "client": client,
            "client_version": client_version,
            "agent": agent,
            "session": session,
            "request_id": request_id,
        }
        if not token and allow_local and not self.tokens_configured():
            return Actor.local(channel, **extra)
        check = None
        if token:
            with self.db.read() as s:
                check = principals.check_token(s, token)
            if check.principal is not None:
                return Actor(
                    principal=check.principal, channel=channel, grants=check.grants, **extra
                )
        op = Operation(Actor(principal="anonymous", channel=channel, **extra), "authenticate", None)
        op.detail.update(
            error="Unauthenticated",
            reason=check.failure if check else "missing",
            token_id=check.token_id if check else None,
        )
        self._record_alone(op, Outcome.DENIED)
        if check is None:
            raise Unauthenticated(
                "this server needs `Authorization: Bearer <token>`; "
                "an admin creates one with `memsvc token create`"
            )
        raise Unauthenticated(f"the token is {check.failure}; ask an admin for a valid one")

    @staticmethod
    def bearer_token(authorization: str | None) -> str | None:
        """The token of an ``Authorization`` header value; any other scheme is kept as an
        unknown token so it is refused rather than silently ignored."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else "(not a bearer token)"

    def create_token(self, actor: Actor, name: str, project: str, role: str) -> IssuedToken:
        """Give principal ``name`` a role in ``project`` (or ``*``) and a new token (admin)."""
        with self._op(actor, "create_token") as op:
            op.detail.update(principal=name[:100], grant=project[:64], role=str(role)[:16])
            self._require(actor, project[:64], Role.ADMIN)
            granted = principals.validate_grant(name, project, role)
            with self._commit(op) as s:
                if project != "*" and s.get(ProjectRow, project) is not None:
                    op.project = project
                issued = principals.issue_token(s, name, project, granted, utcnow())
                op.detail["token_id"] = issued.token_id
            return issued

    def list_tokens(self, actor: Actor) -> list[TokenInfo]:
        """Every token and its principal's grants, never the secrets (global admin)."""
        with self._op(actor, "list_tokens") as op, self.db.read() as s:
            self._require_global(actor, Role.ADMIN)
            tokens = principals.list_tokens(s)
            op.detail["tokens"] = len(tokens)
            return tokens

    def revoke_token(self, actor: Actor, token_id: str) -> TokenInfo:
        """Revoke a token at once; its principal and other tokens stay (global admin)."""
        with self._op(actor, "revoke_token") as op:
            op.detail["token_id"] = principals.public_id(token_id)
            self._require_global(actor, Role.ADMIN)
            with self._commit(op) as s:
                info = principals.revoke_token(s, token_id, utcnow())
                op.detail["principal"] = info.principal
            return info

    # -- index maintenance --------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Liveness facts: the embedder and the index backlog (not audited; no data)."""
        return {
            "status": "ok",
            "embedder": self.retriever.embedder.identity,
            "pending_index_writes": self.sync.pending_count(),
        }

    def sync_projects(self) -> list[str]:
        """Every project id (for maintenance commands run by the operator)."""
        with self.db.read() as s:
            return [r.id for r in proj_store.list_project_rows(s)]
