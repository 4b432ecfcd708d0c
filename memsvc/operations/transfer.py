"""Export and import in memsvc's own JSONL format (lossless, streaming, idempotent), and
drafts from other tools' exports landing through the ordinary write path."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import version as package_version
from typing import Any

from sqlmodel import Session

from memsvc.clock import utcnow
from memsvc.domain import (
    MEMORY_ID_RE,
    PROJECT_ID_RE,
    Actor,
    AddResult,
    Channel,
    ImportReport,
    Kind,
    MemoryDraft,
    ProjectImport,
    Role,
    Status,
)
from memsvc.errors import InvalidInput
from memsvc.operations.calls import Call, Calls
from memsvc.operations.writes import Writes
from memsvc.retrieval.indexing import IndexSync
from memsvc.settings import Limits
from memsvc.store import outbox
from memsvc.store import transfer as rows
from memsvc.store.models import MemoryRow, MemoryVersionRow, ProjectRow
from memsvc.transfer.importers import convert
from memsvc.transfer.jsonl import FORMAT, FORMAT_VERSION, ProjectBlock, dump_line, read_blocks

__all__ = ["Transfer"]


class Transfer:
    """Moves a project's memories, every version and provenance, out and back in."""

    def __init__(self, calls: Calls, writes: Writes, sync: IndexSync, limits: Limits) -> None:
        self.calls = calls
        self.db = calls.db
        self.writes = writes
        self.sync = sync
        self.limits = limits

    # -- export -----------------------------------------------------------------------

    def export_lines(self, actor: Actor, projects: list[str]) -> Iterator[str]:
        """Authorise and audit every project now (curator), then stream their lines."""
        for project in projects:
            with self.calls.call(actor, "export_memories", project) as call, self.db.read() as s:
                call.require(Role.CURATOR)
                call.project_row(s)
                call.detail["format"] = f"{FORMAT}/{FORMAT_VERSION}"
        return self._lines(projects)

    def _lines(self, projects: list[str]) -> Iterator[str]:
        header = {
            "type": FORMAT,
            "format_version": FORMAT_VERSION,
            "memsvc": package_version("memsvc"),
        }
        yield dump_line({**header, "exported_at": utcnow().isoformat()})
        for project in projects:
            with self.db.read() as s:  # one snapshot per project
                row = s.get(ProjectRow, project)
                if row is None:  # deleted since it was authorised
                    continue
                yield dump_line({"type": "project", **rows.record_of(row)})
                for memory in rows.iter_memories(s, project):
                    yield dump_line({"type": "memory", **rows.record_of(memory)})
                for version in rows.iter_versions(s, project):
                    yield dump_line({"type": "version", **rows.record_of(version)})

    # -- import -----------------------------------------------------------------------

    def import_lines(self, actor: Actor, lines: Iterable[str]) -> ImportReport:
        """Import an export, project by project, each in one audited transaction.

        Memories and versions already stored (same ids) are skipped, so importing a file
        twice adds nothing; a project that does not exist is created (admin).
        """
        report = ImportReport(projects=[])
        for block in read_blocks(lines):
            report.projects.append(self._import_block(actor, block))
        return report

    def _import_block(self, actor: Actor, block: ProjectBlock) -> ProjectImport:
        project = str(block.project.get("id", ""))
        if not PROJECT_ID_RE.match(project):
            raise InvalidInput(f"project id {project[:64]!r} is not a valid project id")
        with self.calls.call(actor, "import_memories", project) as call:
            memories = [self._memory(project, r) for r in block.memories]
            versions = [_version(r) for r in block.versions]
            with call.commit() as s:
                result, fresh = self._write_block(call, s, block, memories, versions)
                entries = outbox.queue_many(
                    s, [(m, "upsert") for m in fresh if m.status != Status.DELETED], utcnow()
                )
            call.detail.update(result.model_dump(exclude={"project"}))
        self.sync.apply([e[0] for e in entries])
        return result

    def _write_block(
        self,
        call: Call,
        s: Session,
        block: ProjectBlock,
        memories: list[MemoryRow],
        versions: list[MemoryVersionRow],
    ) -> tuple[ProjectImport, list[MemoryRow]]:
        assert call.project is not None
        existing = s.get(ProjectRow, call.project)
        created = existing is None
        call.require(Role.ADMIN if created else Role.CURATOR)
        if existing is not None:
            call.writable_row(s)
        if created:
            s.add(rows.row_from(ProjectRow, {**block.project, "index_generation": 0}))
            s.flush()
        stored = rows.existing_memory_ids(s, [m.id for m in memories])
        foreign = sorted(i for i, p in stored.items() if p != call.project)
        if foreign:
            raise InvalidInput(f"memory {foreign[0]} belongs to another project; nothing imported")
        fresh = [m for m in memories if m.id not in stored]
        known = {m.id for m in memories} | set(stored)
        have = rows.existing_versions(s, sorted(known))
        orphan = next((v for v in versions if v.memory_id not in known), None)
        if orphan is not None:
            raise InvalidInput(f"a version of {orphan.memory_id} has no memory in the file")
        new_versions = [v for v in versions if (v.memory_id, v.version) not in have]
        rows.insert_imported(s, fresh, new_versions)
        result = ProjectImport(
            project=call.project,
            created_project=created,
            memories_added=len(fresh),
            memories_skipped=len(memories) - len(fresh),
            versions_added=len(new_versions),
        )
        return result, fresh

    def _memory(self, project: str, record: dict[str, Any]) -> MemoryRow:
        mid = str(record.get("id", ""))
        try:
            row = rows.row_from(MemoryRow, record)
            Kind(row.kind), Status(row.status)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"memory {mid[:26]!r}: {exc}") from None
        if not MEMORY_ID_RE.match(row.id) or row.project_id != project:
            raise InvalidInput(f"memory {mid[:26]!r} is not a memory of project {project!r}")
        _check_text(row.id, [row.content, row.title or "", *row.tags, *row.paths])
        if len(row.content.encode("utf-8")) > self.limits.content_bytes:
            raise InvalidInput(f"memory {row.id}: content over {self.limits.content_bytes} bytes")
        return row

    # -- drafts from other tools ------------------------------------------------------

    def import_file(
        self, actor: Actor, project: str, fmt: str, text: str, source: str
    ) -> list[AddResult]:
        """Convert another tool's file and store its memories (see ``import_drafts``)."""
        return self.import_drafts(actor, project, convert(fmt, text, source))

    def import_drafts(
        self, actor: Actor, project: str, drafts: list[MemoryDraft]
    ) -> list[AddResult]:
        """Store drafts converted from another tool through the ordinary write path, with
        channel ``import`` and in batches; exact duplicates are not stored twice."""
        importer = actor.model_copy(update={"channel": Channel.IMPORT})
        out: list[AddResult] = []
        size = self.limits.batch_size
        for start in range(0, len(drafts), size):
            batch = drafts[start : start + size]
            out.extend(self.writes.add(importer, project, batch, "import_memories"))
        return out


def _version(record: dict[str, Any]) -> MemoryVersionRow:
    try:
        return rows.row_from(MemoryVersionRow, record)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"version of {str(record.get('memory_id'))[:26]!r}: {exc}") from None


def _check_text(memory_id: str, texts: list[str]) -> None:
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"memory {memory_id}: text is not valid Unicode") from None
        if "\x00" in text:
            raise InvalidInput(f"memory {memory_id}: text holds a NUL character")
