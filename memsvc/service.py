"""MemoryService: the only object transports touch. Every method takes the caller (an
``Actor``) and the project explicitly, checks the caller's role on it, and leaves exactly
one audit event, whether it succeeds, is denied or fails.

The methods live in ``memsvc/operations/``, one module per concern; this class is their
single public face.
"""

from __future__ import annotations

from memsvc.operations.access import AccessOps
from memsvc.operations.curation import CurationOps
from memsvc.operations.projects import ProjectOps
from memsvc.operations.writes import WriteOps

__all__ = ["MemoryService"]


class MemoryService(ProjectOps, WriteOps, CurationOps, AccessOps):
    """Projects, memories, recall, curation, audit and access, behind one object."""
