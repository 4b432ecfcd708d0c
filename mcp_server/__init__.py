"""MCP transport for memsvc (mcp SDK 2.x MCPServer): thin tools over MemoryService."""
