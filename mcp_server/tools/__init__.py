"""The MCP tools, one module per family; each ``register`` adds its tools to a server."""
