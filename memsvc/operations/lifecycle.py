"""Lifecycle: archive and unarchive a project, delete one for good, restore a deleted
memory."""

from __future__ import annotations

from memsvc.clock import utcnow
from memsvc.domain import Actor, Memory, Project, Role, Status
from memsvc.errors import InvalidInput, InvalidTransition
from memsvc.hygiene.drafts import merge_provenance
from memsvc.operations.calls import Calls
from memsvc.retrieval.cache import ProjectCache
from memsvc.retrieval.indexing import IndexSync
from memsvc.store import memories as mem_store
from memsvc.store import outbox
from memsvc.store import projects as proj_store
from memsvc.store.index import LanceIndex

__all__ = ["Lifecycle"]


class Lifecycle:
    """Whole-project changes an admin makes, and bringing a deleted memory back."""

    def __init__(
        self, calls: Calls, sync: IndexSync, index: LanceIndex, cache: ProjectCache
    ) -> None:
        self.calls = calls
        self.sync = sync
        self.index = index
        self.cache = cache

    def set_archived(self, actor: Actor, project: str, archived: bool) -> Project:
        """Archive (read-only, skipped by ``open_last_project``) or unarchive a project."""
        action = "archive_project" if archived else "unarchive_project"
        with self.calls.call(actor, action, project) as call:
            call.require(Role.ADMIN)
            with call.commit() as s:
                row = call.project_row(s)
                row.archived_at = utcnow() if archived else None
                s.add(row)
            return proj_store.to_project(row)

    def delete_project(self, actor: Actor, project: str, confirm: str) -> None:
        """Purge a project's memories, versions and index for good (``confirm`` must repeat
        its id). Its audit events stay: they hold ids and hashes, never memory text, so the
        chain still verifies."""
        with self.calls.call(actor, "delete_project", project) as call:
            call.require(Role.ADMIN)
            if confirm != project:
                raise InvalidInput(f"to delete project {project!r}, confirm with its id")
            call.touches = False
            with call.commit() as s:
                call.project_row(s)
                call.detail["memories"] = proj_store.purge_project(s, project)
        with self.index.lock(project):
            self.index.drop(project)
        self.cache.forget(project)

    def restore_memory(self, actor: Actor, project: str, memory_id: str) -> Memory:
        """Bring a deleted memory back as active, as a new version."""
        with self.calls.call(actor, "restore_memory", project) as call:
            call.targets = [memory_id[:26]]
            call.require(Role.WRITER)
            with call.commit() as s:
                call.writable_row(s)
                row = mem_store.get_memory_row(s, project, memory_id, allow_deleted=True)
                call.may_change(row)
                if row.status != Status.DELETED:
                    raise InvalidTransition(f"memory {row.id} is {row.status}, not deleted")
                mem_store.set_status(row, Status.ACTIVE, utcnow())
                s.add(row)
                mem_store.add_version(s, row, "restore", merge_provenance(actor, None))
                entries = outbox.queue_many(s, [(row, "upsert")], utcnow())
            self.sync.apply_rows(project, entries, [row])
            return mem_store.to_memory(row)
