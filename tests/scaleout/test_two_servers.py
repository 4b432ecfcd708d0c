"""Scale-out proof: two real ``memsvc serve`` processes (own ports, own data dirs) on one
PostgreSQL database, one S3 bucket (moto server on loopback) and one audit signing key,
under concurrent writers and readers (threads with httpx) against both for a bounded time.

Bounds stated here: the load runs ``LOAD_S`` seconds; after it, every acknowledged write
must be readable by id from both servers at once and found by search on both within
``SEARCH_BOUND_S`` seconds of polling. The whole module stays well under ~90 s.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.scaleout.conftest import MEMSVC, ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(240)]

PROJECT = "fleet"
WRITERS = 4
READERS = 4
LOAD_S = 8.0
SEARCH_BOUND_S = 30.0
"""A write acknowledged by one server must be found by search on the other within this."""
RID_PREFIX = "so-"
REPAIR = "index repair of"
"""How a server's log says it started repairing a project's index (``memsvc.retrieval``)."""


@dataclass
class Ack:
    """One acknowledged write: its id, the word only it contains, who acknowledged it."""

    id: str
    word: str
    server: str


@dataclass
class Ledger:
    """What the clients did: every request id sent, which were answered, and the failures."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: list[str] = field(default_factory=list)
    unanswered: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    ok: Counter[str] = field(default_factory=Counter)

    def call(
        self, client: httpx.Client, server: ServeProcess, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        """One request with its own request id; a 5xx or unexpected status is an error, a
        transport failure is recorded as unanswered (the caller decides if it may be)."""
        rid = f"{RID_PREFIX}{uuid.uuid4().hex}"
        try:
            r = client.request(method, server.base + path, headers={"x-request-id": rid}, **kw)
        except httpx.TransportError as exc:
            with self.lock:
                self.unanswered.append((rid, server.name, f"{type(exc).__name__}: {exc}"))
            return None
        with self.lock:
            self.answered.append(rid)
            if r.status_code >= 300:
                self.errors.append(f"{server.name} {method} {path}: {r.status_code} {r.text[:200]}")
        return r


def _word(wid: int, n: int) -> str:
    """A word no other memory contains (letters only, so the analyzer keeps it whole)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    tag = "".join(random.choice(letters) for _ in range(8))
    return f"zq{letters[wid]}{tag}{letters[n % 26]}"


@dataclass
class Load:
    """The load's threads: writers add memories, readers get and search acknowledged ones."""

    ledger: Ledger
    pick_writer_server: Callable[[int, int], ServeProcess]
    pick_reader_server: Callable[[int], ServeProcess]
    stop_at: float
    go: threading.Barrier

    def writer(self, wid: int) -> None:
        """Write memories, each with a word of its own, until the time is up."""
        with httpx.Client(timeout=30) as client:
            self.go.wait()
            n = 0
            while time.monotonic() < self.stop_at:
                server = self.pick_writer_server(wid, n)
                word = _word(wid, n)
                body = {"kind": "fact", "content": f"writer {wid} noted {word} at step {n}"}
                path = f"/projects/{PROJECT}/memories"
                r = self.ledger.call(client, server, "POST", path, json=body)
                if r is not None and r.status_code == 201:
                    with self.ledger.lock:
                        self.ledger.acks.append(Ack(r.json()["id"], word, server.name))
                        self.ledger.ok[f"write@{server.name}"] += 1
                n += 1

    def reader(self, rid: int) -> None:
        """Alternately get by id and search for a random acknowledged write."""
        rng = random.Random(rid)
        with httpx.Client(timeout=30) as client:
            self.go.wait()
            n = 0
            while time.monotonic() < self.stop_at:
                server = self.pick_reader_server(rid + n)
                with self.ledger.lock:
                    ack = rng.choice(self.ledger.acks)
                if n % 2:
                    kind, method, path, body = "get", "GET", f"/memories/{ack.id}", None
                else:
                    kind, method, path = "search", "POST", "/search"
                    body = {"query": ack.word, "limit": 5}
                r = self.ledger.call(
                    client, server, method, f"/projects/{PROJECT}{path}", json=body
                )
                if r is not None and r.status_code == 200:
                    with self.ledger.lock:
                        self.ledger.ok[f"{kind}@{server.name}"] += 1
                n += 1


def run_load(
    ledger: Ledger,
    pick_writer_server: Callable[[int, int], ServeProcess],
    pick_reader_server: Callable[[int], ServeProcess],
    seconds: float,
    during: Callable[[], None] | None = None,
) -> None:
    """``WRITERS`` writer and ``READERS`` reader threads for ``seconds`` (the ledger must
    hold an ack already); ``during`` runs in this thread meanwhile (e.g. a kill)."""
    go = threading.Barrier(WRITERS + READERS + 1)
    load = Load(ledger, pick_writer_server, pick_reader_server, time.monotonic() + seconds, go)
    threads = [threading.Thread(target=load.writer, args=(w,)) for w in range(WRITERS)]
    threads += [threading.Thread(target=load.reader, args=(r,)) for r in range(READERS)]
    for t in threads:
        t.start()
    go.wait(timeout=30)
    if during is not None:
        during()
    for t in threads:
        t.join(timeout=seconds + 120)
        assert not t.is_alive(), "a load thread did not finish"


def check_served(ledger: Ledger, server: ServeProcess, acks: list[Ack]) -> list[str]:
    """Every ack readable by id now and found by search within ``SEARCH_BOUND_S``; the
    problems found (empty when all is well)."""
    deadline = time.monotonic() + SEARCH_BOUND_S

    def one(ack: Ack) -> str | None:
        with httpx.Client(timeout=30) as client:
            r = ledger.call(client, server, "GET", f"/projects/{PROJECT}/memories/{ack.id}")
            if r is None or r.status_code != 200 or r.json()["id"] != ack.id:
                return f"{server.name}: {ack.id} (acked by {ack.server}) not readable by id"
            while True:
                q = {"query": ack.word, "limit": 5}
                r = ledger.call(client, server, "POST", f"/projects/{PROJECT}/search", json=q)
                found = r is not None and r.status_code == 200 and r.json()["hits"]
                if found and ack.id in [h["memory"]["id"] for h in found]:
                    return None
                if time.monotonic() > deadline:
                    return f"{server.name}: {ack.id} (acked by {ack.server}) not found by search"
                time.sleep(0.5)

    with ThreadPoolExecutor(4) as pool:
        return [p for p in pool.map(one, acks) if p is not None]


def audit_counts(database_url: str) -> Counter[str]:
    """Audit events per request id sent by these tests, read straight from PostgreSQL."""
    import psycopg

    libpq = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False)) as c:
        rows = c.execute(
            "SELECT request_id, count(*) FROM audit_event WHERE request_id LIKE %s "
            "GROUP BY request_id",
            (RID_PREFIX + "%",),
        ).fetchall()
    return Counter({rid: int(n) for rid, n in rows})


def key_ids(database_url: str) -> set[str]:
    """The distinct signing key ids of the ledger's checkpoints."""
    import psycopg

    libpq = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False)) as c:
        return {r[0] for r in c.execute("SELECT DISTINCT key_id FROM audit_checkpoint")}


def audit_verify(server: ServeProcess) -> subprocess.CompletedProcess[str]:
    """``memsvc audit verify`` over the shared database and key (as an operator runs it)."""
    return subprocess.run(
        [MEMSVC, "audit", "verify"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def open_project(ledger: Ledger, servers: list[ServeProcess]) -> None:
    """Create the project, then one write and one search on each server in turn. The
    first write creates the LanceDB table in the bucket and the first touch on each server
    opens it (seconds on object storage); kept out of the timed load so it measures
    steady concurrency. These are acknowledged writes like any other."""
    with httpx.Client(timeout=120) as client:
        r = ledger.call(client, servers[0], "POST", "/projects", json={"id": PROJECT})
        assert r is not None and r.status_code == 201, r.text if r is not None else ledger
        for i, server in enumerate(servers):
            word = _word(WRITERS + i, 0)
            body = {"kind": "fact", "content": f"warm-up on {server.name}: {word}"}
            r = ledger.call(client, server, "POST", f"/projects/{PROJECT}/memories", json=body)
            assert r is not None and r.status_code == 201, r.text if r is not None else ledger
            ledger.acks.append(Ack(r.json()["id"], word, server.name))
            r = ledger.call(
                client, server, "POST", f"/projects/{PROJECT}/search", json={"query": word}
            )
            assert r is not None and r.status_code == 200, r.text if r is not None else ledger


def test_two_servers_on_one_database_and_bucket_serve_each_others_writes(
    servers: list[ServeProcess], postgres_url: str
) -> None:
    a, b = servers
    ledger = Ledger()
    open_project(ledger, servers)
    # writers alternate servers per write; readers alternate too, so most reads of an ack
    # hit the server that did not take the write
    run_load(
        ledger,
        lambda wid, n: servers[(wid + n) % 2],
        lambda i: servers[i % 2],
        LOAD_S,
    )
    assert ledger.errors == [], ledger.errors[:5]
    assert ledger.unanswered == [], ledger.unanswered[:5]
    by_server = Counter(ack.server for ack in ledger.acks)
    assert by_server["a"] >= 6 and by_server["b"] >= 6, ledger.ok
    assert all(ledger.ok[f"{k}@{s}"] >= 5 for k in ("get", "search") for s in "ab"), ledger.ok

    print(f"two servers: {len(ledger.acks)} acks, {dict(ledger.ok)}")  # seen with -s
    problems = check_served(ledger, a, ledger.acks) + check_served(ledger, b, ledger.acks)
    assert problems == [], problems[:5]
    # no search was held back by a repair either (a count check that took writes in
    # flight for damage answered 503 IndexRebuilding here once), and neither server
    # started one
    assert ledger.errors == [], ledger.errors[:5]
    repairs = [s.name for s in servers for line in s.logtail(10**7).splitlines() if REPAIR in line]
    assert repairs == [], a.logtail() + b.logtail()

    # exactly one audit event per request made, across both processes
    counts = audit_counts(postgres_url)
    assert counts == Counter({rid: 1 for rid in ledger.answered})

    # clean shutdowns sign what is pending; the ledger verifies under one key
    assert [s.stop() for s in servers] == [0, 0], a.logtail() + b.logtail()
    verify = audit_verify(a)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert len(key_ids(postgres_url)) == 1


def test_killing_one_server_under_load_loses_no_acknowledged_write(
    servers: list[ServeProcess], postgres_url: str
) -> None:
    a, b = servers
    ledger = Ledger()
    open_project(ledger, servers)
    b_down = threading.Event()
    since_kill = Counter[str]()

    def writer_target(wid: int, n: int) -> ServeProcess:
        if b_down.is_set():
            return a
        return servers[(wid + n) % 2]

    def reader_target(i: int) -> ServeProcess:
        return a if b_down.is_set() else servers[i % 2]

    def kill_b_midway() -> None:
        time.sleep(LOAD_S / 2)
        b_down.set()  # first, so any failure on b from here on is the kill's doing
        with ledger.lock:
            before = Counter(ledger.ok)
        b.kill9()
        since_kill.update({f"before:{k}": v for k, v in before.items()})

    run_load(ledger, writer_target, reader_target, LOAD_S, during=kill_b_midway)

    # nothing failed but requests to b cut off by its kill
    assert ledger.errors == [], ledger.errors[:5]
    assert all(server == "b" for _, server, _ in ledger.unanswered), ledger.unanswered[:5]
    # a kept serving after the kill: writes and searches succeeded there
    assert ledger.ok["write@a"] - since_kill["before:write@a"] >= 5, (ledger.ok, since_kill)
    assert ledger.ok["search@a"] - since_kill["before:search@a"] >= 5, (ledger.ok, since_kill)
    assert Counter(ack.server for ack in ledger.acks)["b"] >= 3, ledger.ok

    print(f"kill -9: {len(ledger.acks)} acks, {dict(ledger.ok)}, cut off {len(ledger.unanswered)}")
    # nothing acknowledged is lost: a serves every write, b's included
    problems = check_served(ledger, a, ledger.acks)
    assert problems == [], problems[:5]

    # the killed server, restarted on its data dir, serves every acknowledged write too
    # once it is ready (a load balancer routes by /ready)
    b.start()
    b.wait_serving()
    problems = check_served(ledger, b, ledger.acks)
    assert problems == [], problems[:5]
    assert ledger.errors == [], ledger.errors[:5]

    # one event per answered request; a request cut off by the kill left at most one
    counts = audit_counts(postgres_url)
    assert {rid: counts[rid] for rid in ledger.answered} == dict.fromkeys(ledger.answered, 1)
    assert all(counts[rid] <= 1 for rid, _, _ in ledger.unanswered)
    assert set(counts) <= set(ledger.answered) | {rid for rid, _, _ in ledger.unanswered}

    assert [s.stop() for s in servers] == [0, 0], a.logtail() + b.logtail()
    verify = audit_verify(a)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert len(key_ids(postgres_url)) == 1
