"""The MCP tools, one module per family; each ``register`` adds its tools to a server."""

from mcp_types import ToolAnnotations

__all__ = ["DESTRUCTIVE", "IDEMPOTENT_WRITE", "READ", "WRITE"]

READ = ToolAnnotations(read_only_hint=True)
WRITE = ToolAnnotations(destructive_hint=False, idempotent_hint=False)
IDEMPOTENT_WRITE = ToolAnnotations(destructive_hint=False, idempotent_hint=True)
"""Repeating the call changes nothing more (an identical add returns the stored memory)."""
DESTRUCTIVE = ToolAnnotations(destructive_hint=True, idempotent_hint=True)
