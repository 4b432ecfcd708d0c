"""``memsvc audit export`` then verification by the standalone script alone."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from memsvc import MemoryDraft, ProjectCreate, Role, SearchQuery, build_service
from memsvc.errors import PermissionDenied
from memsvc.retrieval.embedder import HashEmbedder
from memsvc_cli.main import main
from tests.audit.helpers import CLI, actor, unique
from tests.conftest import make_settings

# Blocks memsvc so the script provably runs on the standard library and cryptography alone.
_RUN_ALONE = (
    "import runpy, sys; sys.modules['memsvc'] = None; sys.argv = ['verify_audit.py', sys.argv[1]];"
    "runpy.run_path('verify_audit.py', run_name='__main__')"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("export")
    data = base / "data"
    with build_service(
        make_settings(data, audit_checkpoint_every=4), embedder=HashEmbedder(64)
    ) as svc:
        svc.create_project(CLI, ProjectCreate(id="acme"))
        for _ in range(5):
            m = svc.add_memory(CLI, "acme", MemoryDraft(kind="fact", content=unique())).memory
            svc.search_memories(CLI, "acme", SearchQuery(query="fact"))
            svc.get_memory(CLI, "acme", m.id)
    out = base / "out"
    assert (
        main(["audit", "export", "--project", "acme", "--out", str(out), "--data-dir", str(data)])
        == 0
    )
    return out


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", _RUN_ALONE, str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _copy(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest)
    return dest


def test_export_holds_events_checkpoints_key_and_script(exported: Path) -> None:
    names = {p.name for p in exported.iterdir()}
    assert {"events.jsonl", "checkpoints.jsonl", "public_key.pem", "verify_audit.py"} <= names
    events = [json.loads(x) for x in (exported / "events.jsonl").read_text().splitlines()]
    assert len(events) == 16 and {e["chain"] for e in events} == {"acme"}
    assert b"PUBLIC KEY" in (exported / "public_key.pem").read_bytes()


def test_standalone_script_imports_only_stdlib_and_cryptography(exported: Path) -> None:
    tree = ast.parse((exported / "verify_audit.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"cryptography"}


def test_standalone_script_accepts_an_honest_export(exported: Path) -> None:
    done = _run(exported)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: 16 events") and "0 events after" in done.stdout


def _rewrite(folder: Path, name: str, edit: object) -> None:
    path = folder / name
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines = edit(lines)  # type: ignore[operator]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.mark.parametrize(
    ("name", "edit", "bad_index"),
    [
        ("events.jsonl", lambda ev: [*ev[:5], {**ev[5], "principal": "mallory"}, *ev[6:]], 5),
        ("events.jsonl", lambda ev: ev[:7] + ev[8:], 7),
        (  # swap the seq of two events: their order in the chain changes
            "events.jsonl",
            lambda ev: (
                [*ev[:3], {**ev[3], "seq": ev[4]["seq"]}, {**ev[4], "seq": ev[3]["seq"]}, *ev[5:]]
            ),
            3,
        ),
        ("checkpoints.jsonl", lambda cps: [{**cps[0], "seq": cps[0]["seq"] + 1}, *cps[1:]], 0),
    ],
    ids=["edited", "deleted", "reordered", "forged-checkpoint"],
)
def test_standalone_script_rejects_a_tampered_export(
    exported: Path, tmp_path: Path, name: str, edit: object, bad_index: int
) -> None:
    folder = _copy(exported, tmp_path / "copy")
    events = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
    _rewrite(folder, name, edit)
    done = _run(folder)
    assert done.returncode == 1, done.stdout
    assert f"first bad seq {events[bad_index]['seq']}:" in done.stdout, done.stdout


def test_export_needs_the_curator_role(tmp_path: Path) -> None:
    with build_service(make_settings(tmp_path / "data"), embedder=HashEmbedder(64)) as svc:
        svc.create_project(CLI, ProjectCreate(id="acme"))
        with pytest.raises(PermissionDenied):
            svc.export_audit(actor("w", {"acme": Role.WRITER}), "acme")
        bundle = svc.export_audit(actor("c", {"acme": Role.CURATOR}), "acme")
    assert bundle.checkpoints and bundle.checkpoints[-1]["seq"] == bundle.events[-1]["seq"]


def test_servers_starting_together_share_one_signing_key(tmp_path: Path) -> None:
    """Two processes making the key at the same moment end with the same key."""
    import multiprocessing as mp

    from memsvc.audit.checkpoints import AuditKey, KeyPaths

    paths = KeyPaths(tmp_path / "k" / "audit-signing.key")
    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        ids = pool.map(_make_key, [str(paths.private)] * 8)
    assert len(set(ids)) == 1 and ids[0] == AuditKey.load(paths.private).key_id
    assert sorted(p.name for p in paths.private.parent.iterdir()) == [
        "audit-signing.key",
        "audit-signing.key.pub",
    ]


def _make_key(path: str) -> str:
    from memsvc.audit.checkpoints import AuditKey, KeyPaths

    return AuditKey.load_or_create(KeyPaths(Path(path))).key_id
