"""One exception tree for memsvc. Each transport maps it once (REST: a status table,
MCP: ``ToolError``).

    MemsvcError
    ├── InvalidInput            422  a field is malformed, missing or out of range
    │   ├── AmbiguousProject    a project name matched several projects
    │   └── PayloadTooLarge     413  content, request or batch over its size limit
    ├── NotFound                404
    │   ├── ProjectNotFound
    │   └── MemoryNotFound
    ├── Conflict                409
    │   ├── ProjectExists
    │   ├── VersionConflict     expected_version did not match
    │   └── InvalidTransition   e.g. editing a rule's content instead of superseding it
    ├── Unauthenticated         401  no or unknown token
    ├── PermissionDenied        403  the principal's role does not allow this
    ├── RateLimited             429
    ├── StorageFull             507  the disk under the database or the index is full
    └── Unavailable             503  the index or the model cannot serve right now
        └── IndexRebuilding     one project's index is being rebuilt or reconciled

Messages say what to do next; they never carry another project's data.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousProject",
    "Conflict",
    "IndexRebuilding",
    "InvalidInput",
    "InvalidTransition",
    "MemoryNotFound",
    "MemsvcError",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProjectExists",
    "ProjectNotFound",
    "RateLimited",
    "StorageFull",
    "Unauthenticated",
    "Unavailable",
    "VersionConflict",
]


class MemsvcError(Exception):
    """Root of every error memsvc raises on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

    @property
    def code(self) -> str:
        """The error's name as clients see it in ``{"error": …}``."""
        return type(self).__name__


class InvalidInput(MemsvcError):
    """The caller sent something malformed or outside a rule (HTTP 422)."""


class PayloadTooLarge(InvalidInput):
    """An input over a size limit (HTTP 413)."""


class AmbiguousProject(InvalidInput):
    """A project name that matches several projects; ``candidates`` lists them (HTTP 422)."""

    def __init__(self, name: str, candidates: list[str]) -> None:
        super().__init__(
            f"{name!r} matches several projects: {', '.join(candidates[:20])}; "
            "call again with one of those ids"
        )
        self.candidates = candidates


class NotFound(MemsvcError):
    """Something that does not exist, or is not visible to this caller (HTTP 404)."""


class ProjectNotFound(NotFound):
    """An unknown project; the message may list the known ones (HTTP 404)."""

    def __init__(self, project: str, known: list[str] | None = None) -> None:
        hint = "; create it first or call list_projects"
        if known is not None:
            shown = ", ".join(known[:20]) or "none"
            hint = f"; known projects: {shown}. Create it or pick one of those"
        super().__init__(f"no project {project!r}{hint}")
        self.project = project
        self.known = known or []


class MemoryNotFound(NotFound):
    """An unknown memory, or one of another project, which is indistinguishable (HTTP 404)."""

    def __init__(self, memory_id: str, project: str, extra: str = "") -> None:
        super().__init__(
            f"no memory {memory_id!r} in project {project!r}{extra}; "
            "use search_memories or list_memories to find ids"
        )


class Conflict(MemsvcError):
    """The request contradicts the current state (HTTP 409)."""


class ProjectExists(Conflict):
    """A project with that id exists already (HTTP 409)."""


class VersionConflict(Conflict):
    """``expected_version`` does not match the memory's current version (HTTP 409)."""


class InvalidTransition(Conflict):
    """A change the memory's or project's state does not allow, e.g. editing a decision's text,
    writing to an archived project (HTTP 409)."""


class Unauthenticated(MemsvcError):
    """No valid bearer token where one is required (HTTP 401)."""


class PermissionDenied(MemsvcError):
    """The caller's role does not allow this on this project (HTTP 403)."""


class RateLimited(MemsvcError):
    """Too many requests; retry later (HTTP 429)."""


class Unavailable(MemsvcError):
    """A dependency (the database, the audit ledger) cannot serve now; nothing was answered
    unaudited (HTTP 503)."""


class IndexRebuilding(Unavailable):
    """One project's index disagrees with SQL and is being rebuilt (or reconciled after a
    restart) in the background; that project's searches answer this until it is whole,
    every other project keeps serving (HTTP 503)."""

    def __init__(self, project: str, reason: str) -> None:
        super().__init__(
            f"the search index of project {project!r} is {reason}; its memories are safe "
            "in the database and reads by id work; retry the search in a few seconds"
        )
        self.project = project


class StorageFull(MemsvcError):
    """The disk under the database, the index or the audit key is full (ENOSPC, SQLite's
    "database or disk is full", PostgreSQL's ``disk_full``). The call was not applied and
    not acknowledged; free space and retry (HTTP 507)."""
