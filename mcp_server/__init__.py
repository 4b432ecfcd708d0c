"""MCP transport for memsvc (mcp SDK 2.x MCPServer): thin tools over MemoryService."""

from mcp_server.http import McpHttp, streamable_http
from mcp_server.server import create_mcp_server

__all__ = ["McpHttp", "create_mcp_server", "streamable_http"]
