"""Moving memories in and out: memsvc's own lossless JSONL format, and importers from
other memory tools and agent instruction files."""
