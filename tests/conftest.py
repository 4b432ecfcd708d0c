"""Shared fixtures: real SQLite + LanceDB in temp dirs, the fake embedder for speed, the
real MiniLM model loaded once per session, and a real uvicorn server on a free port."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from memsvc import Actor, Channel, MemoryService, Settings, build_service
from memsvc.api import create_app
from memsvc.retrieval.embedder import Embedder, HashEmbedder, MiniLMEmbedder
from memsvc.store.database import upgrade

_TEMPLATE: dict[str, Path] = {}


def _migrated_template() -> Path:
    """A database migrated to head once per test session (real Alembic migrations)."""
    if "db" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="memsvc-template-"))
        upgrade(f"sqlite:///{folder / 'memsvc.db'}")
        _TEMPLATE["db"] = folder / "memsvc.db"
    return _TEMPLATE["db"]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings over a fresh data dir holding a copy of the migrated template database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "memsvc.db").exists():
        shutil.copyfile(_migrated_template(), data_dir / "memsvc.db")
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "embedder": "hash",
        "background": False,
        "auto_migrate": False,
        "allowed_hosts": ["testserver"],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real bundled model, loaded once for the whole test session."""
    embedder = MiniLMEmbedder()
    embedder.warm()
    return embedder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def embedder() -> Embedder:
    return HashEmbedder(64)


@pytest.fixture
def service(settings: Settings, embedder: Embedder) -> Iterator[MemoryService]:
    with build_service(settings, embedder=embedder) as svc:
        yield svc


@pytest.fixture
def actor() -> Actor:
    return Actor.local(Channel.REST)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server in a thread, serving a given ASGI app on loopback."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[LiveServer, MemoryService]]:
    """A real HTTP server over a fresh data dir (fake embedder)."""
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port)
    with (
        build_service(settings, embedder=embedder) as svc,
        LiveServer(create_app(svc, settings), port) as server,
    ):
        yield server, svc


@pytest.fixture
def client(live: tuple[LiveServer, MemoryService]) -> Iterator[httpx.Client]:
    server, _ = live
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as c:
        yield c
