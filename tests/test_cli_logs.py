"""The JSON log format: one object per line, with the fields a caller passed as ``extra``."""

from __future__ import annotations

import json
import logging

from memsvc_cli.logs import JsonFormatter


def test_a_json_log_line_carries_the_callers_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "memsvc.retrieval.indexing",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "index repair of %s",
            "args": ("acme",),
            "project": "acme",
            "index_rows": 4,
            "sql_rows": 5,
            "skipped": None,
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "index repair of acme"
    assert (line["project"], line["index_rows"], line["sql_rows"]) == ("acme", 4, 5)
    assert "skipped" not in line and "args" not in line and "levelno" not in line
    assert line["level"] == "warning" and line["logger"] == "memsvc.retrieval.indexing"
