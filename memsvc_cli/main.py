"""``memsvc`` command line: the composition root for processes (serve, mcp, maintenance)."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from memsvc.bootstrap import build_service
from memsvc.errors import MemsvcError, Unavailable
from memsvc.settings import Settings
from memsvc_cli.admin import add_audit_commands, add_token_commands
from memsvc_cli.data import add_data_commands
from memsvc_cli.logs import LEVELS, configure

if TYPE_CHECKING:
    from fastapi import FastAPI

    from memsvc.service import MemoryService

__all__ = ["http_app", "main"]

WARM_DELAY_S = 2.0


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    values: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "data_dir", None):
        values["data_dir"] = Path(args.data_dir).expanduser()
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValueError as exc:  # a bad flag (`--workers 0`): say which, no traceback
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def http_app(service: MemoryService, settings: Settings) -> FastAPI:
    """REST, the inspector and MCP streamable HTTP at ``/mcp``, behind one set of guards."""
    from mcp_server import create_mcp_server, streamable_http
    from memsvc.api import create_app

    mcp_http = streamable_http(create_mcp_server(service, settings), service, settings)
    app = create_app(service, settings, lifespan=mcp_http.lifespan)
    app.router.routes.append(mcp_http.route)
    return app


def _warm_in_background(embedder: object) -> None:
    """Load the model beside the server so the first write or search does not wait for it
    (~11 s with torch); a request that comes earlier waits for the same load, not a second.
    It starts a moment later because importing the runtime holds the interpreter and would
    slow the start-up itself."""
    warm = getattr(embedder, "warm", None)
    if warm is None:
        return

    def run() -> None:
        try:
            warm()
        except Exception:  # the first request retries the load and reports a typed error
            logging.getLogger("memsvc").warning("model warm-up failed", exc_info=True)

    timer = threading.Timer(WARM_DELAY_S, run)
    timer.daemon = True
    timer.start()


def cmd_serve(args: argparse.Namespace) -> int:
    """``memsvc serve``: REST, MCP over HTTP and the inspector until SIGTERM/SIGINT."""
    from memsvc.bootstrap import embedder_from
    from memsvc_cli.serving import serve

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    if args.listen_fd is None and settings.workers > 1:
        return _supervise(args, settings)
    embedder = embedder_from(settings)
    # the index reconciliation runs beside the server: health answers at once, readiness
    # says "reconciling" and only projects with pending index work wait (503)
    with build_service(settings, embedder=embedder, reconcile_in_background=True) as service:
        if not settings.loopback_only and not service.tokens_configured():
            return _refuse_public(settings)
        app = http_app(service, settings)
        _warm_in_background(embedder)
        sockets = None
        if args.listen_fd is not None:  # a worker of `--workers N`: the supervisor printed
            sockets = [socket.socket(fileno=args.listen_fd)]
        else:
            print(
                f"memsvc serving http://{settings.host}:{settings.port} (data: {settings.data_dir})"
            )
        serve(
            app,
            sockets=sockets,
            host=settings.host,
            port=settings.port,
            log_level=args.log_level or settings.log_level,
            log_config=None,  # our handler formats uvicorn's records too
        )
    return 0


def _refuse_public(settings: Settings) -> int:
    print(
        f"refusing to bind {settings.host}: memsvc serves non-loopback addresses only "
        "with access tokens configured (see `memsvc token create`)",
        file=sys.stderr,
    )
    return 2


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """``memsvc serve --workers N``: migrate once, bind once, keep N workers serving."""
    from memsvc.access.tokens import tokens_configured
    from memsvc.store.database import Database, upgrade
    from memsvc_cli.workers import Supervisor, listen

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)  # once here, not raced by N workers
    if not settings.loopback_only:  # refuse before binding, as one process does
        db = Database(settings.sqlalchemy_url)
        try:
            with db.read() as s:
                required = tokens_configured(s)
        finally:
            db.dispose()
        if not required:
            return _refuse_public(settings)
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        print(f"cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    passed = ["--host", settings.host, "--port", str(settings.port)]
    passed += ["--workers", str(settings.workers)]  # each worker knows it is one of several
    for flag, value in (
        ("--data-dir", args.data_dir),
        ("--log-level", args.log_level),
        ("--log-format", args.log_format),
    ):
        if value:
            passed += [flag, str(value)]
    print(
        f"memsvc serving http://{settings.host}:{settings.port} "
        f"(data: {settings.data_dir}, {settings.workers} workers)",
        flush=True,
    )
    return Supervisor(settings.workers, sock, passed).run()


def cmd_mcp(args: argparse.Namespace) -> int:
    """``memsvc mcp``: MCP on stdio until the client closes it."""
    import anyio

    from mcp_server import create_mcp_server
    from memsvc.bootstrap import embedder_from

    settings = _settings(args, project=args.project, agent=args.agent)
    embedder = embedder_from(settings)
    with build_service(settings, embedder=embedder, reconcile_in_background=True) as service:
        warm = getattr(embedder, "warm", None)
        if warm is not None:
            # The model loads beside the protocol, so initialize and model-free calls never
            # wait; it starts a moment later because importing torch holds the interpreter
            # and would slow the start-up itself. An earlier search loads it on demand.
            timer = threading.Timer(WARM_DELAY_S, warm)
            timer.daemon = True
            timer.start()
        anyio.run(create_mcp_server(service, settings).run_stdio_async)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """``memsvc migrate``: bring the schema to head and print the masked URL."""
    from memsvc.store.database import display_url, upgrade

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    # never the password: the URL is shown as SQLAlchemy renders it with hide_password
    print(f"schema up to date: {display_url(settings.sqlalchemy_url)}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    """``memsvc reindex``: rebuild one project's index (or every project's) from SQL."""
    settings = _settings(args, background=False)
    with build_service(settings) as service:
        projects = [args.project] if args.project else service.sync_projects()
        # a bar on a terminal only: piped or logged output stays one line per project
        bar = tqdm(projects, desc="reindex", unit=" projects", disable=not sys.stderr.isatty())
        for project in bar:
            report = service.reindex(project)
            tqdm.write(f"{project}: {report.embedded} memories indexed", file=sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``memsvc`` argument parser with every command."""
    parser = argparse.ArgumentParser(prog="memsvc", description="Project-scoped agent memory.")
    parser.add_argument(
        "--version", action="version", version=f"memsvc {package_version('memsvc')}"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data directory (default: $MEMSVC_DATA_DIR or user dir)")
        p.add_argument("--log-level", choices=LEVELS, help="default: $MEMSVC_LOG_LEVEL or info")
        p.add_argument("--log-format", choices=["text", "json"], help="default: text")

    serve = sub.add_parser("serve", help="serve REST (/api/v1), MCP (/mcp) and the inspector")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8765)")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes sharing the address (default: $MEMSVC_WORKERS or 1)",
    )
    serve.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    data_dir(serve)
    serve.set_defaults(func=cmd_serve)

    mcp = sub.add_parser("mcp", help="speak MCP on stdio (for editors and agent CLIs)")
    mcp.add_argument("--project", help="default project when neither argument nor roots decide")
    mcp.add_argument("--agent", help="this agent's identity (else MEMSVC_AGENT, else clientInfo)")
    data_dir(mcp)
    mcp.set_defaults(func=cmd_mcp)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    data_dir(migrate)
    migrate.set_defaults(func=cmd_migrate)

    reindex = sub.add_parser("reindex", help="rebuild the LanceDB index from SQL")
    reindex.add_argument("--project", help="one project (default: all)")
    data_dir(reindex)
    reindex.set_defaults(func=cmd_reindex)

    add_data_commands(sub, data_dir, _settings)
    add_audit_commands(sub, data_dir, _settings)
    add_token_commands(sub, data_dir, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``memsvc`` command line; the process's exit status."""
    args = build_parser().parse_args(argv)
    try:
        defaults = Settings()
    except ValueError as exc:  # a bad MEMSVC_* value: say which, before anything starts
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure(args.log_level or defaults.log_level, args.log_format or defaults.log_format)
    try:
        code: int = args.func(args)
    except Unavailable as exc:  # e.g. the database is down: one clear line, no traceback
        print(f"error: {exc.detail}", file=sys.stderr)
        return 3
    except MemsvcError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
