"""Running uvicorn so that SIGTERM and SIGINT end the process through memsvc's own
shutdown: uvicorn re-raises a captured signal after it stops serving, which would kill the
process before pending audit events are signed and background work is stopped."""

from __future__ import annotations

import socket
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import uvicorn

__all__ = ["GracefulServer", "serve"]


class GracefulServer(uvicorn.Server):
    """A uvicorn server that stops on SIGTERM/SIGINT and returns instead of re-raising."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Capture the signals as uvicorn does, minus the re-raise after shutdown."""
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


def serve(app: Any, sockets: list[socket.socket] | None = None, **config: Any) -> None:
    """Serve ``app`` until a signal; then return so the caller's shutdown runs.
    ``sockets``: listen on these (a worker's inherited socket) instead of binding."""
    GracefulServer(uvicorn.Config(app, **config)).run(sockets=sockets)
