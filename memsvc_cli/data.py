"""Shell commands over a data dir: ``projects``, ``add``, ``search``, ``list``, ``export``,
``import``, ``backup`` and ``restore``.

They call the service as the local principal through the CLI channel (audited like any
other call), print text or ``--json``, exit non-zero with one clear line on error, and
show progress bars on a terminal only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from tqdm import tqdm

from memsvc.audit.checkpoints import KeyPaths
from memsvc.audit.ledger import AuditLog
from memsvc.bootstrap import build_service
from memsvc.domain import Actor, Channel, Kind, MemoryDraft, ProjectCreate, SearchQuery, Status
from memsvc.service import MemoryService
from memsvc.settings import Settings
from memsvc.store import backup
from memsvc.store.database import display_url
from memsvc.transfer.importers import convert, detect_format

__all__ = ["add_data_commands"]

SettingsFor = Callable[..., Settings]
AddDataDir = Callable[[argparse.ArgumentParser], None]
CLI = Actor.local(Channel.CLI, client="memsvc-cli")
DB_FILE = "memsvc.db"
MANIFEST = "manifest.json"


def _progress(total: int | None, what: str) -> tqdm[Any]:
    return tqdm(total=total, desc=what, unit=" items", disable=not sys.stderr.isatty())


@contextmanager
def _service(
    args: argparse.Namespace, settings_for: SettingsFor, *, create: bool = False
) -> Iterator[MemoryService]:
    """The service over the data dir; one that does not exist is an error unless the
    command writes (then it is made)."""
    settings = settings_for(args, background=False)
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise SystemExit(f"error: {settings.data_dir} is not a directory")
    if not create and not (settings.data_dir / DB_FILE).is_file() and _is_sqlite(settings):
        raise SystemExit(f"error: no data directory {settings.data_dir} (nothing stored yet)")
    with build_service(settings) as service:
        yield service


def _is_sqlite(settings: Settings) -> bool:
    return settings.sqlalchemy_url.startswith("sqlite:///")


def _print(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        for line in lines:
            print(line)


def run_projects(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc projects``: the projects and their counts."""
    with _service(args, settings_for) as svc:
        projects = svc.list_projects(CLI)
    lines = [f"{p.id}\t{sum(p.counts.values())} memories\t{p.name}" for p in projects]
    _print(args, [p.model_dump(mode="json") for p in projects], lines)
    return 0


def run_add(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc add``: store one memory (creating the project with ``--create``)."""
    content = sys.stdin.read() if args.content == "-" else args.content
    with _service(args, settings_for, create=True) as svc:
        if args.create and args.project not in {p.id for p in svc.list_projects(CLI)}:
            svc.create_project(CLI, ProjectCreate(id=args.project))
        draft = MemoryDraft(kind=Kind(args.kind), content=content, title=args.title, tags=args.tag)
        result = svc.add_memory(CLI, args.project, draft)
    m = result.memory
    _print(args, result.model_dump(mode="json"), [f"{m.id}\t{m.kind.value}"])
    return 0


def run_search(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc search``: ranked hits for a query."""
    with _service(args, settings_for) as svc:
        query = SearchQuery(query=args.query, limit=args.limit)
        hits = svc.search_memories(CLI, args.project, query)
    lines = [
        f"{h.score:.3f}\t{h.memory.id}\t{h.memory.kind.value}\t{_line(h.memory.content)}"
        for h in hits
    ]
    _print(args, [h.model_dump(mode="json") for h in hits], lines)
    return 0


def run_list(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc list``: a project's memories, newest first."""
    kinds = [Kind(args.kind)] if args.kind else None
    with _service(args, settings_for) as svc:
        page = svc.list_memories(CLI, args.project, kinds=kinds, limit=args.limit)
    lines = [f"{m.id}\t{m.kind.value}\t{_line(m.content)}" for m in page.memories]
    _print(args, page.model_dump(mode="json"), lines)
    return 0


def _line(text: str, most: int = 100) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= most else first[: most - 1] + "…"


def run_export(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc export``: projects as memsvc JSONL (to a file or stdout)."""
    with _service(args, settings_for) as svc:
        projects = args.project or [p.id for p in svc.list_projects(CLI)]
        lines = svc.export_memories(CLI, projects)
        out = (
            sys.stdout
            if args.out == "-"
            else Path(args.out).expanduser().open("w", encoding="utf-8")
        )
        try:
            with _progress(None, "export") as bar:
                for line in lines:
                    out.write(line)
                    bar.update()
        finally:
            if out is not sys.stdout:
                out.close()
    if args.out != "-":
        print(f"exported {', '.join(projects) or 'nothing'} to {args.out}", file=sys.stderr)
    return 0


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".md", ".mdc")))
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"error: no such file or directory: {raw}")
    return found


def run_import(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc import``: a memsvc export, or another tool's memories into ``--project``."""
    files = _files(args.paths)
    with _service(args, settings_for, create=True) as svc:
        for path in tqdm(files, desc="import", disable=not sys.stderr.isatty()):
            text = path.read_text("utf-8")
            fmt = args.format if args.format != "auto" else detect_format(str(path), text)
            if fmt == "memsvc":
                report = svc.import_memories(CLI, text.splitlines())
                for p in report.projects:
                    print(
                        f"{p.project}: {p.memories_added} memories added, "
                        f"{p.memories_skipped} already there, {p.versions_added} versions"
                    )
                continue
            if not args.project:
                raise SystemExit(f"error: {path} is a {fmt} file; pass --project to import into")
            if args.create and args.project not in {p.id for p in svc.list_projects(CLI)}:
                svc.create_project(CLI, ProjectCreate(id=args.project))
            results = svc.import_drafts(CLI, args.project, convert(fmt, text, str(path)))
            added = sum(r.created for r in results)
            proposed = sum(r.created and r.memory.status == Status.PROPOSED for r in results)
            held = f"; {proposed} proposed, waiting for review" if proposed else ""
            print(
                f"{path}: {added} memories added to {args.project} "
                f"({len(results) - added} already there{held})"
            )
    return 0


def run_backup(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc backup``: a consistent online copy of the database (SQLite's backup API, or
    on PostgreSQL every table read in one snapshot into an SQLite file of the same schema),
    the audit public key and head record, and a manifest (the index is rebuilt on restore)."""
    settings = settings_for(args)
    out = Path(args.out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"error: {out} is not empty")
    source = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    if _is_sqlite(settings) and not source.is_file():
        raise SystemExit(f"error: no memsvc database at {source}; check --data-dir")
    out.mkdir(parents=True, exist_ok=True)
    # the head record first: it is written after each checkpoint commits, so copied before
    # the database it never claims more than the copy holds (which would read as truncation)
    keys = KeyPaths.from_settings(settings)
    copied = [p.name for p in (keys.public, keys.head) if p.is_file() and shutil.copy(p, out)]
    if _is_sqlite(settings):
        _sqlite_backup(source, out / DB_FILE)
    else:
        with _progress(None, "backup") as bar:
            backup.snapshot(settings.sqlalchemy_url, out / DB_FILE, bar.update)
    counts = _counts(out / DB_FILE)
    manifest = {
        "memsvc_backup": 1,
        "created_at": datetime.now(UTC).isoformat(),
        "source": "sqlite" if _is_sqlite(settings) else "postgresql",
        "database": DB_FILE,
        "key_files": copied,
        "counts": counts,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), "utf-8")
    print(f"backed up {_summary(counts)} to {out}")
    return 0


def _sqlite_backup(source: Path, dest: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(dest)
    try:  # SQLite's online backup: a consistent copy while servers keep writing
        with _progress(None, "backup") as bar:
            src.backup(dst, pages=256, progress=lambda _s, _r, _t: bar.update())
    finally:
        src.close()
        dst.close()


def _counts(db: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return backup.table_counts(conn)
    finally:
        engine.dispose()


def _summary(counts: dict[str, int]) -> str:
    shown = ("project", "memory", "memory_version", "audit_event")
    return ", ".join(f"{counts.get(t, 0)} {t}" for t in shown)


def run_restore(args: argparse.Namespace, *, settings_for: SettingsFor) -> int:
    """``memsvc restore``: a backup into an empty data dir (SQLite) or an empty PostgreSQL
    database (``MEMSVC_DATABASE_URL``); the index is rebuilt."""
    source = Path(args.backup).expanduser()
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise SystemExit(f"error: {source} holds no memsvc backup ({MANIFEST} missing)")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    settings = settings_for(args, background=False)
    counts = _restore_database(source / manifest["database"], settings)
    keys = KeyPaths.from_settings(settings)
    keys.public.parent.mkdir(parents=True, exist_ok=True)
    for name in manifest.get("key_files", []):
        dest = keys.public if name.endswith(".pub") else keys.head
        shutil.copy(source / name, dest)
    if args.key:
        shutil.copy(Path(args.key).expanduser(), keys.private)
        keys.private.chmod(0o600)
    if {t: counts.get(t) for t in manifest["counts"]} != manifest["counts"]:
        raise SystemExit("error: the restored database does not match the manifest's counts")
    # no checkpointer: restoring must not make a signing key of its own (that would sign
    # new checkpoints with another key than the restored chain's)
    unsigned = AuditLog(settings.hash_audit_queries, None)
    with build_service(settings, audit=unsigned) as svc:  # migrates, rebuilds the index
        for project in tqdm(svc.sync_projects(), desc="reindex", disable=not sys.stderr.isatty()):
            svc.reindex(project)
    print(f"restored {_summary(counts)} into {display_url(settings.sqlalchemy_url)}")
    if not keys.private.is_file():
        print(
            f"note: the backup holds the audit key's public half only; put the private key at "
            f"{keys.private} (or pass --key) before serving, or new checkpoints will be "
            "signed by a new key that verification does not know",
            file=sys.stderr,
        )
    return 0


def _restore_database(backup_file: Path, settings: Settings) -> dict[str, int]:
    """The backup's rows into the settings' database: a copy of the file for SQLite, rows
    copied into an empty database for PostgreSQL."""
    if not _is_sqlite(settings):
        with _progress(None, "restore") as bar:
            return backup.restore(backup_file, settings.sqlalchemy_url, bar.update)
    target = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    if target.exists():
        raise SystemExit(f"error: {target} exists; restore into an empty data dir")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(backup_file, target)
    return _counts(target)


Command = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


def add_data_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    data_dir: AddDataDir,
    settings_for: SettingsFor,
) -> None:
    """Register the data commands on the ``memsvc`` parser."""

    def command(name: str, run: Callable[..., int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        data_dir(p)
        p.set_defaults(func=partial(run, settings_for=settings_for))
        return p

    _add_reading_commands(command)
    _add_moving_commands(command)


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def _add_reading_commands(command: Command) -> None:
    _json_flag(command("projects", run_projects, "list projects"))
    add = command("add", run_add, "store one memory ('-' reads the text from stdin)")
    add.add_argument("--project", required=True)
    add.add_argument("--kind", default="fact", choices=[k.value for k in Kind])
    add.add_argument("--title")
    add.add_argument("--tag", action="append", default=[])
    add.add_argument("--create", action="store_true", help="create the project if missing")
    add.add_argument("content")
    _json_flag(add)
    search = command("search", run_search, "search a project's memories")
    search.add_argument("--project", required=True)
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("query")
    _json_flag(search)
    listing = command("list", run_list, "list a project's memories")
    listing.add_argument("--project", required=True)
    listing.add_argument("--kind", choices=[k.value for k in Kind])
    listing.add_argument("--limit", type=int, default=50)
    _json_flag(listing)


def _add_moving_commands(command: Command) -> None:
    export = command("export", run_export, "export projects as memsvc JSONL (lossless)")
    export.add_argument("--project", action="append", help="a project (default: all)")
    export.add_argument("--out", default="-", help="file to write ('-': stdout)")
    imp = command("import", run_import, "import memsvc JSONL or another tool's memories")
    imp.add_argument("paths", nargs="+", help="files or directories")
    imp.add_argument(
        "--format",
        default="auto",
        choices=["auto", "memsvc", "mcp-memory", "mem0", "basic-memory", "instructions"],
    )
    imp.add_argument("--project", help="target project for other tools' memories")
    imp.add_argument("--create", action="store_true", help="create the project if missing")
    out = command("backup", run_backup, "online copy of the database + audit key + manifest")
    out.add_argument("--out", required=True, help="an empty or new directory")
    back = command("restore", run_restore, "restore a backup into an empty database")
    back.add_argument("backup", help="the backup directory")
    back.add_argument("--key", help="the audit signing key (private) to restore beside it")
