"""Process logging: level and format from settings or flags, text or one JSON object per
line; a bad level is a clear error before anything starts."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

__all__ = ["LEVELS", "JsonFormatter", "configure"]

LEVELS = ("critical", "error", "warning", "info", "debug")
_STANDARD = {*vars(logging.makeLogRecord({})), "message", "asctime", "taskName"}
"""A log record's own attributes; any other is a field the caller passed as ``extra``."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the error)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():  # what the caller passed as ``extra``
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                out.setdefault(key, value)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: str, fmt: str) -> None:
    """Install one handler on the root logger (uvicorn's loggers propagate to it)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic narrates every migration at INFO: only worth reading when debugging
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
