"""``memsvc token …`` and ``memsvc audit …``: principals, tokens and the audit ledger.

Run by the operator on the machine that holds the data dir, so they act as the local
principal through the CLI channel; every change they make is audited like any other.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from memsvc.audit.export import write_bundle
from memsvc.audit.verification import verify_store
from memsvc.bootstrap import build_service
from memsvc.domain import Actor, Channel
from memsvc.errors import MemsvcError
from memsvc.settings import Settings

__all__ = ["add_audit_commands", "add_token_commands"]

SettingsFor = Callable[..., Settings]
AddDataDir = Callable[[argparse.ArgumentParser], None]


def _cli_actor() -> Actor:
    return Actor.local(Channel.CLI, client="memsvc-cli")


def _fail(exc: MemsvcError) -> int:
    print(f"error: {exc.detail}", file=sys.stderr)
    return 1


def add_token_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    data_dir: AddDataDir,
    settings_for: SettingsFor,
) -> None:
    """Register ``memsvc token create|list|revoke``."""
    token = sub.add_parser("token", help="access tokens for principals (REST and MCP over HTTP)")
    tsub = token.add_subparsers(dest="token_command", required=True)

    create = tsub.add_parser("create", help="give a principal a role and print a new token once")
    create.add_argument("--name", required=True, help="principal name, e.g. ci-bot or alice")
    create.add_argument("--project", required=True, help="project id, or '*' for every project")
    create.add_argument("--role", required=True, choices=["reader", "writer", "curator", "admin"])
    data_dir(create)
    create.set_defaults(func=partial(run_create, settings_for=settings_for))

    listing = tsub.add_parser("list", help="list tokens and their principals' roles")
    data_dir(listing)
    listing.set_defaults(func=partial(run_list, settings_for=settings_for))

    revoke = tsub.add_parser("revoke", help="revoke a token (by the id `token list` shows)")
    revoke.add_argument("token_id")
    data_dir(revoke)
    revoke.set_defaults(func=partial(run_revoke, settings_for=settings_for))


def add_audit_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    data_dir: AddDataDir,
    settings_for: SettingsFor,
) -> None:
    """Register ``memsvc audit verify|export|checkpoint``."""
    audit = sub.add_parser("audit", help="audit ledger tools")
    asub = audit.add_subparsers(dest="audit_command", required=True)

    verify = asub.add_parser(
        "verify", help="check chains, signed checkpoints and the head record (read-only)"
    )
    verify.add_argument("--project", help="one project's chain (default: the whole ledger)")
    data_dir(verify)
    verify.set_defaults(func=partial(run_verify, settings_for=settings_for))

    export = asub.add_parser("export", help="export a project's audit chain, verifiable offline")
    export.add_argument("--project", required=True)
    export.add_argument("--out", required=True, help="directory to write (created if needed)")
    data_dir(export)
    export.set_defaults(func=partial(run_export, settings_for=settings_for))

    checkpoint = asub.add_parser("checkpoint", help="sign every chain's head now")
    data_dir(checkpoint)
    checkpoint.set_defaults(func=partial(run_checkpoint, settings_for=settings_for))


def run_create(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc token create``: issue a token and print it once."""
    with build_service(settings_for(args, background=False)) as service:
        try:
            issued = service.create_token(_cli_actor(), args.name, args.project, args.role)
        except MemsvcError as exc:
            return _fail(exc)
    grants = ", ".join(f"{p}={r.value}" for p, r in sorted(issued.grants.items()))
    print(issued.token)
    print(
        f"token {issued.token_id} for {issued.principal} ({grants}); it is shown only "
        "this once: pass it as `Authorization: Bearer <token>`",
        file=sys.stderr,
    )
    return 0


def run_list(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc token list``: every token's id, principal, grants and state."""
    with build_service(settings_for(args, background=False)) as service:
        try:
            tokens = service.list_tokens(_cli_actor())
        except MemsvcError as exc:
            return _fail(exc)
    for t in tokens:
        grants = ",".join(f"{p}={r.value}" for p, r in sorted(t.grants.items()))
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        print(f"{t.token_id}  {t.principal}  {grants}  {t.created_at:%Y-%m-%d %H:%M}  {state}")
    if not tokens:
        print("no tokens: loopback serving runs as the local user", file=sys.stderr)
    return 0


def run_revoke(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc token revoke``: refuse a token from its next use on."""
    with build_service(settings_for(args, background=False)) as service:
        try:
            info = service.revoke_token(_cli_actor(), args.token_id)
        except MemsvcError as exc:
            return _fail(exc)
    print(f"revoked token {info.token_id} of {info.principal}")
    return 0


def run_verify(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc audit verify``: check chains, checkpoints and the head record; non-zero on
    tampering."""
    try:
        report = verify_store(settings_for(args), args.project)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.project and report.events == 0 and report.checkpoints == 0:
        print(f"error: no audit events for project {args.project!r}; check the id", file=sys.stderr)
        return 2
    print(report.summary(args.project))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0 if report.first is None else 1


def run_export(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc audit export``: write a project's chain and a standalone verifier to a folder."""
    with build_service(settings_for(args, background=False)) as service:
        try:
            bundle = service.export_audit(_cli_actor(), args.project)
        except MemsvcError as exc:
            return _fail(exc)
    out = Path(args.out).expanduser()
    write_bundle(bundle, out)
    print(
        f"exported {len(bundle.events)} events and {len(bundle.checkpoints)} checkpoints "
        f"of {args.project} to {out}; check with: python {out / 'verify_audit.py'} {out}"
    )
    return 0


def run_checkpoint(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc audit checkpoint``: sign every chain's head now."""
    with build_service(settings_for(args, background=False)) as service:
        made = service.checkpoint_audit()
    print(f"signed {made} chain heads")
    return 0
