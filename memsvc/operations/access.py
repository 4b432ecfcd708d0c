"""Who may call: authenticating bearer tokens, and issuing, listing and revoking them."""

from __future__ import annotations

from typing import Any

from memsvc.access import tokens as principals
from memsvc.clock import utcnow
from memsvc.domain import Actor, Channel, IssuedToken, Role, TokenInfo
from memsvc.errors import PermissionDenied, Unauthenticated
from memsvc.operations.calls import Call, Calls

__all__ = ["Access"]


class Access:
    """Principals and their tokens."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.db = calls.db

    def tokens_configured(self) -> bool:
        """Whether every transport requires a token (the persisted setting)."""
        with self.db.peek() as conn:
            return principals.tokens_required(conn)

    def authenticate(
        self, token: str | None, channel: Channel, *, allow_local: bool, **extra: Any
    ) -> Actor:
        """The caller behind a bearer token. Without one, ``allow_local`` (a loopback or
        stdio transport) gives the implicit local principal while no token exists.

        Raises ``Unauthenticated`` and records a denied ``authenticate`` event otherwise;
        a success records nothing (the operation it authorises is audited).
        """
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
        anonymous = Actor(principal="anonymous", channel=channel, **extra)
        call = Call(anonymous, "authenticate", None, self.calls)
        call.detail.update(
            error="Unauthenticated",
            reason=check.failure if check else "missing",
            token_id=check.token_id if check else None,
        )
        self.calls.record_denial(call)
        if check is None:
            raise Unauthenticated(
                "this server needs `Authorization: Bearer <token>`; "
                "an admin creates one with `memsvc token create`"
            )
        raise Unauthenticated(f"the token is {check.failure}; ask an admin for a valid one")

    def refuse_session(self, actor: Actor, session: str, owner: str) -> PermissionDenied:
        """Record a denied ``authenticate`` event for ``actor`` using ``session``, which
        ``owner`` opened; returns the error to refuse the request with."""
        call = Call(actor, "authenticate", None, self.calls)
        call.detail.update(
            error="PermissionDenied", reason="foreign_session", session=session[:200], owner=owner
        )
        self.calls.record_denial(call)
        return PermissionDenied(
            "this MCP session was opened with another principal's token; "
            "open a session of your own (initialize without Mcp-Session-Id)"
        )

    def create_token(self, actor: Actor, name: str, project: str, role: str) -> IssuedToken:
        """Give principal ``name`` a role in ``project`` (or ``*``) and a new token (admin)."""
        with self.calls.call(actor, "create_token") as call:
            call.detail.update(principal=name[:100], grant=project[:64], role=str(role)[:16])
            call.require(Role.ADMIN, project[:64])
            granted = principals.validate_grant(name, project, role)
            with call.commit() as s:
                if project != "*":
                    call.project_row(s, project)  # an unknown project is ProjectNotFound
                    call.project = project
                issued = principals.issue_token(s, name, project, granted, utcnow())
                call.detail["token_id"] = issued.token_id
            return issued

    def require_tokens(self, actor: Actor, required: bool) -> bool:
        """Switch the persisted "every caller needs a token" setting (global admin)."""
        with self.calls.call(actor, "set_require_tokens") as call:
            call.detail["required"] = required
            call.require_global(Role.ADMIN)
            with call.commit() as s:
                principals.set_tokens_required(s, required, utcnow())
            return required

    def list_tokens(self, actor: Actor) -> list[TokenInfo]:
        """Every token and its principal's grants, never the secrets (global admin)."""
        with self.calls.call(actor, "list_tokens") as call, self.db.read() as s:
            call.require_global(Role.ADMIN)
            tokens = principals.list_tokens(s)
            call.detail["tokens"] = len(tokens)
            return tokens

    def revoke_token(self, actor: Actor, token_id: str) -> TokenInfo:
        """Revoke a token at once; its principal and other tokens stay (global admin)."""
        with self.calls.call(actor, "revoke_token") as call:
            call.detail["token_id"] = principals.public_id(token_id)
            call.require_global(Role.ADMIN)
            with call.commit() as s:
                info = principals.revoke_token(s, token_id, utcnow())
                call.detail["principal"] = info.principal
            return info
