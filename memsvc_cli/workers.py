"""``memsvc serve --workers N``: N server processes answering on one listening socket.

One process of Python serves searches about as fast as one core allows: the ranking, the
route and the ASGI server hold the interpreter, so a second core mostly sits idle under
concurrent clients. With ``--workers N`` the command becomes a small supervisor: it
applies the migrations once, binds the address once (so a taken port fails at once, with
one message), and starts N ``memsvc serve`` worker processes that inherit the socket.
The kernel hands each new connection to whichever worker accepts it first.

The workers are the same server as a lone ``memsvc serve``; they share the data dir (or
the database and bucket) exactly as several servers of a scale-out deployment do, so a
write acknowledged by one worker is found by the next search on every other (the index
generation in SQL, see the README's scale-out layout). Each keeps its own per-project
search state (``MEMSVC_CACHE_MB`` is per process) and its own ``/metrics``.

The supervisor forwards SIGTERM/SIGINT to the workers and returns when they have shut
down (each signs its pending audit checkpoints). A worker that dies is started again; a
worker that exits with status 2 (a refused configuration, such as a public address
without access tokens) stops them all with that status, and so does one that keeps dying
within seconds of its start.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Supervisor", "listen", "worker_argv"]

log = logging.getLogger("memsvc.workers")

FAST_EXIT_S = 10.0
"""A worker that exits this soon after its start counts as a failed start."""
MAX_FAST_EXITS = 5
"""This many failed starts in a row of one worker stop the supervisor (status 1)."""
STOP_TIMEOUT_S = 60.0
"""How long a worker has to shut down after SIGTERM before it is killed."""
REFUSED = 2
"""A worker's exit status for a configuration it refuses (never restarted)."""


def listen(host: str, port: int) -> socket.socket:
    """The listening socket the workers share (inheritable, so a child can take it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def worker_argv(fd: int, passed: Sequence[str]) -> list[str]:
    """The command line of one worker: ``memsvc serve`` with the caller's own options, on
    the inherited socket ``fd``."""
    return [sys.executable, "-m", "memsvc_cli", "serve", *passed, "--listen-fd", str(fd)]


def _end_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the worker gets SIGTERM if the supervisor dies (even by SIGKILL), so no
    orphan keeps serving on the socket."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Worker:
    slot: int
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    fast_exits: int = 0


class Supervisor:
    """Keeps ``count`` workers running on ``sock`` until a signal, then stops them."""

    def __init__(self, count: int, sock: socket.socket, passed: Sequence[str]) -> None:
        self.count = count
        self.sock = sock
        self.argv = worker_argv(sock.fileno(), passed)
        self.workers: list[_Worker] = []
        self._stopping = False
        self.status = 0

    def _spawn(self, slot: int, fast_exits: int = 0) -> _Worker:
        # argv: this interpreter, `-m memsvc_cli serve` and the caller's own options
        proc = subprocess.Popen(  # noqa: S603
            self.argv, pass_fds=(self.sock.fileno(),), preexec_fn=_end_with_parent
        )
        log.info("worker %d started (pid %d)", slot, proc.pid)
        return _Worker(slot, proc, fast_exits=fast_exits)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._stopping = True

    def run(self) -> int:
        """Start the workers and watch them; the exit status for the command."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.workers = [self._spawn(slot) for slot in range(self.count)]
            while not self._stopping:
                self._watch()
                time.sleep(0.2)
        finally:
            self._stop_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.sock.close()
        return self.status

    def _watch(self) -> None:
        """Start again every worker that exited, unless its exit ends the supervisor."""
        for at, worker in enumerate(self.workers):
            code = worker.proc.poll()
            if code is None or self._stopping:
                continue
            lived = time.monotonic() - worker.started
            if code == REFUSED:
                log.error("worker %d refused to start (status 2); stopping", worker.slot)
                self.status, self._stopping = REFUSED, True
                return
            fast = worker.fast_exits + 1 if lived < FAST_EXIT_S else 0
            if fast >= MAX_FAST_EXITS:
                log.error(
                    "worker %d exited %d times within %.0f s of its start; stopping",
                    worker.slot,
                    fast,
                    FAST_EXIT_S,
                )
                self.status, self._stopping = 1, True
                return
            log.warning(
                "worker %d (pid %d) exited with status %s after %.1f s; starting it again",
                worker.slot,
                worker.proc.pid,
                code,
                lived,
            )
            if fast:
                time.sleep(min(2.0, 0.2 * 2**fast))  # a crash loop does not spin the CPU
            self.workers[at] = self._spawn(worker.slot, fast)

    def _stop_all(self) -> None:
        """SIGTERM to every live worker, then wait; kill what outlives the timeout."""
        live = [w for w in self.workers if w.proc.poll() is None]
        for worker in live:
            worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in live:
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker %d did not stop in %.0f s; killed", worker.slot, STOP_TIMEOUT_S)
                worker.proc.kill()
                worker.proc.wait()
                self.status = self.status or 1
