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
    └── Unavailable             503  the index or the model cannot serve right now

Messages say what to do next; they never carry another project's data.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousProject",
    "Conflict",
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
        return type(self).__name__


class InvalidInput(MemsvcError):
    pass


class PayloadTooLarge(InvalidInput):
    pass


class AmbiguousProject(InvalidInput):
    def __init__(self, name: str, candidates: list[str]) -> None:
        super().__init__(
            f"{name!r} matches several projects: {', '.join(candidates[:20])}; "
            "call again with one of those ids"
        )
        self.candidates = candidates


class NotFound(MemsvcError):
    pass


class ProjectNotFound(NotFound):
    def __init__(self, project: str, known: list[str] | None = None) -> None:
        hint = "; create it first or call list_projects"
        if known is not None:
            shown = ", ".join(known[:20]) or "none"
            hint = f"; known projects: {shown}. Create it or pick one of those"
        super().__init__(f"no project {project!r}{hint}")
        self.project = project
        self.known = known or []


class MemoryNotFound(NotFound):
    def __init__(self, memory_id: str, project: str, extra: str = "") -> None:
        super().__init__(
            f"no memory {memory_id!r} in project {project!r}{extra}; "
            "use search_memories or list_memories to find ids"
        )


class Conflict(MemsvcError):
    pass


class ProjectExists(Conflict):
    pass


class VersionConflict(Conflict):
    pass


class InvalidTransition(Conflict):
    pass


class Unauthenticated(MemsvcError):
    pass


class PermissionDenied(MemsvcError):
    pass


class RateLimited(MemsvcError):
    pass


class Unavailable(MemsvcError):
    pass
