"""Principals, their per-project roles and their bearer tokens.

A token reads ``msv_<id>_<secret>``: the id finds the row, the SHA-256 of the whole token
is compared in constant time. The token itself is never stored, so it is shown only once.
Each token carries its own grants, so issuing a token never changes what another token
of the same principal may do (tokens issued before that carry their principal's grants).
Whether the server requires tokens at all is an explicit persisted setting, switched on
by the first token and never inferred from which tokens exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlmodel import Session, col, select

from memsvc.domain import PROJECT_ID_RE, IssuedToken, Role, TokenInfo
from memsvc.errors import InvalidInput, NotFound
from memsvc.store import fleet as fleet_store
from memsvc.store.models import AccessTokenRow, PrincipalGrantRow, PrincipalRow

__all__ = [
    "RESERVED_NAMES",
    "TokenCheck",
    "check_token",
    "issue_token",
    "list_tokens",
    "public_id",
    "revoke_token",
    "set_tokens_required",
    "tokens_configured",
    "tokens_required",
]

TOKEN_PREFIX = "msv_"  # noqa: S105  (a prefix, not a secret)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
RESERVED_NAMES = frozenset({"local", "anonymous"})
"""``local`` is local mode's implicit user and ``anonymous`` marks failed authentications:
a token with either name could pass for them in provenance and the audit log."""
_ID_RE = re.compile(r"^[0-9a-f]{12}$")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token_id(token: str) -> str | None:
    """The public id inside a token, or None if it is not shaped like one of ours."""
    if len(token) > 200 or not token.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    return token_id if sep and secret and _ID_RE.match(token_id) else None


def public_id(text: str) -> str:
    """The token id in ``text`` (a token or an id) for logs; never any part of a secret."""
    token_id = parse_token_id(text) or text
    return token_id if _ID_RE.match(token_id) else "(not a token id)"


@dataclass(frozen=True)
class TokenCheck:
    """The result of checking a token: a principal and its grants, or why not."""

    principal: str | None
    grants: dict[str, Role]
    token_id: str | None
    failure: str | None


def tokens_configured(session: Session) -> bool:
    """Whether this server requires a token from every caller: the persisted setting
    (revoking the last token does not turn it off; only an admin does, explicitly)."""
    return bool(fleet_store.get_setting(session, fleet_store.REQUIRE_TOKENS))


def tokens_required(conn: Connection) -> bool:
    """``tokens_configured`` on a plain connection (``Database.peek``): asked on every
    request, so one Core statement without an ORM session."""
    return bool(fleet_store.setting_value(conn, fleet_store.REQUIRE_TOKENS))


def set_tokens_required(session: Session, required: bool, now: datetime) -> None:
    """Persist whether the server requires bearer tokens (switched on by the first token)."""
    fleet_store.set_setting(session, fleet_store.REQUIRE_TOKENS, required, now)


def grants_of(session: Session, principal: str) -> dict[str, Role]:
    """The principal's role grants, by project id (``*`` for every project)."""
    rows = session.exec(select(PrincipalGrantRow).where(PrincipalGrantRow.principal == principal))
    return {r.project: Role(r.role) for r in rows}


def token_grants(session: Session, row: AccessTokenRow) -> dict[str, Role]:
    """The token's own grants; a token from before per-token grants has its principal's."""
    if row.grants is None:
        return grants_of(session, row.principal)
    return {project: Role(role) for project, role in row.grants.items()}


def check_token(session: Session, token: str) -> TokenCheck:
    """Check a presented bearer token in constant time: its principal and grants, or why it is
    refused."""
    token_id = parse_token_id(token)
    if token_id is None:
        return TokenCheck(None, {}, None, "malformed")
    row = session.get(AccessTokenRow, token_id)
    # Compare even when the id is unknown so timing does not tell ids apart.
    expected = row.token_hash if row is not None else "0" * 64
    if not hmac.compare_digest(expected, _hash(token)) or row is None:
        return TokenCheck(None, {}, token_id, "unknown")
    if row.revoked_at is not None:
        return TokenCheck(None, {}, token_id, "revoked")
    return TokenCheck(row.principal, token_grants(session, row), token_id, None)


def _info(row: AccessTokenRow, grants: dict[str, Role]) -> TokenInfo:
    return TokenInfo(
        token_id=row.id,
        principal=row.principal,
        grants=grants,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def validate_grant(name: str, project: str, role: str) -> Role:
    """Check a principal name, project (or ``*``) and role name; the role, or ``InvalidInput``."""
    if not NAME_RE.match(name):
        raise InvalidInput(
            "a principal name is 1-100 letters, digits, '.', '_', '@' or '-' "
            "and starts with a letter or digit"
        )
    if name.lower() in RESERVED_NAMES:
        raise InvalidInput(f"{name!r} is reserved; pick another principal name")
    if project != "*" and not PROJECT_ID_RE.match(project):
        raise InvalidInput("project must be a project id or '*' for every project")
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput("role must be reader, writer, curator or admin") from None


def issue_token(
    session: Session, name: str, project: str, role: Role, now: datetime
) -> IssuedToken:
    """Create the principal if new and mint a token holding ``role`` in ``project`` alone
    (other tokens keep theirs); from now on the server requires tokens."""
    if session.get(PrincipalRow, name) is None:
        session.add(PrincipalRow(name=name, created_at=now))
        session.flush()
    token_id = secrets.token_hex(6)
    while session.get(AccessTokenRow, token_id) is not None:  # pragma: no cover - 2^-48
        token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    row = AccessTokenRow(
        id=token_id,
        principal=name,
        token_hash=_hash(token),
        created_at=now,
        grants={project: role.value},
    )
    session.add(row)
    set_tokens_required(session, True, now)
    session.flush()
    info = _info(row, token_grants(session, row))
    return IssuedToken(**info.model_dump(), token=token)


def list_tokens(session: Session) -> list[TokenInfo]:
    """Every token (never its secret), oldest first."""
    rows = session.exec(select(AccessTokenRow).order_by(col(AccessTokenRow.created_at))).all()
    return [_info(r, token_grants(session, r)) for r in rows]


def revoke_token(session: Session, token_id: str, now: datetime) -> TokenInfo:
    """Mark a token revoked (idempotent); ``NotFound`` for an unknown id."""
    row = session.get(AccessTokenRow, public_id(token_id))
    if row is None:
        raise NotFound(f"no token {token_id[:32]!r}; `memsvc token list` shows the ids")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
    return _info(row, token_grants(session, row))
