"""Contract tests for the architecture: import boundaries, nothing at import time, schema,
environment reads in one place, and import contracts that cannot silently go stale."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The doors may import from memsvc only these modules (and the `memsvc` package itself).
DOORS = {"memsvc.api", "mcp_server"}
DOOR_WHITELIST = {
    "memsvc.service",
    "memsvc.domain",
    "memsvc.errors",
    "memsvc.bootstrap",
    "memsvc.settings",
}
DOOR_CONTRACT = "Doors import from memsvc only service, domain, errors, bootstrap, settings"
CORE_CONTRACT = "Core imports no transport frameworks"
SCANNED_FOR_ENV = ("memsvc", "mcp_server", "memsvc_cli")
ENV_READER = Path("memsvc/settings.py")
_OS_ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return {c["name"]: c for c in contracts}


def top_level_modules(package_dir: Path) -> set[str]:
    """Dotted names of a package's direct children: ``pkg/x.py`` and ``pkg/y/__init__.py``."""
    name = package_dir.name
    found = {f"{name}.{p.stem}" for p in package_dir.glob("*.py") if p.stem != "__init__"}
    found |= {f"{name}.{p.parent.name}" for p in package_dir.glob("*/__init__.py")}
    return found


def environment_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for every use of the process environment in ``source``.

    Counted: ``os.environ`` / ``os.getenv`` (under any alias of ``os``), ``from os import
    environ/getenv``, and any call of a function named ``getenv``. Not counted: setting a
    third-party library's flag as a statement (``os.environ.setdefault("HF_HUB_OFFLINE", "1")``
    or ``os.environ["X"] = ...`` with a non-``MEMSVC_`` literal key), which reads nothing.
    """
    tree = ast.parse(source)
    os_names = {"os"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
    writes = _third_party_writes(tree)
    hits: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            names = [a.name for a in node.names if a.name in _OS_ENV_NAMES | {"*"}]
            hits |= {(node.lineno, f"from os import {name}") for name in names}
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in _OS_ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
            and id(node) not in writes
        ):
            hits.add((node.lineno, f"{node.value.id}.{node.attr}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getenv"
        ):
            hits.add((node.lineno, "getenv("))
    return sorted(hits)


def _third_party_writes(tree: ast.AST) -> set[int]:
    """ids of the ``os.environ`` nodes in statements that only set a third-party flag."""
    writes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "setdefault"
                and _is_third_party_key(node.value.args[:1])
            ):
                writes.add(id(func.value))
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and _is_third_party_key([target.slice]):
                    writes.add(id(target.value))
    return writes


def _is_third_party_key(args: list[ast.expr]) -> bool:
    return (
        len(args) == 1
        and isinstance(args[0], ast.Constant)
        and isinstance(args[0].value, str)
        and not args[0].value.upper().startswith("MEMSVC")
    )


def test_import_boundaries_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_nothing_heavy_happens_at_import_time() -> None:
    code = (
        "import sys, memsvc, memsvc.api, memsvc_cli;"
        "names = ('torch', 'sentence_transformers', 'lancedb', 'tiktoken');"
        "heavy = [m for m in names if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for package in SCANNED_FOR_ENV:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel == ENV_READER:
                continue
            for line, what in environment_reads(path.read_text()):
                offenders.append(f"{rel}:{line}: {what}")
    assert not offenders, "read the environment only in memsvc/settings.py (Settings):\n" + (
        "\n".join(offenders)
    )


def test_environment_scan_finds_every_spelling_of_a_read() -> None:
    source = (
        "import os\n"
        "import os as system\n"
        "from os import environ, getenv, path\n"
        "a = os.environ['MEMSVC_X']\n"
        "b = os.getenv('MEMSVC_Y')\n"
        "c = system.environ.get('HOME')\n"
        "d = getenv('Z')\n"
        "os.environ.setdefault('MEMSVC_PORT', '1')\n"
        "os.environ['MEMSVC_HOST'] = 'x'\n"
        "os.environ.setdefault('HF_HUB_OFFLINE', '1')\n"
        "os.environ['TOKENIZERS_PARALLELISM'] = 'false'\n"
        "# os.environ in a comment is no read\n"
    )
    found = environment_reads(source)
    assert [line for line, _ in found] == [3, 3, 4, 5, 6, 7, 8, 9]
    assert (7, "getenv(") in found


def test_door_contract_names_every_memsvc_module_outside_the_whitelist() -> None:
    """The doors' whitelist is a `forbidden` contract listing everything else: a new memsvc
    module must be added to it (or to the whitelist here, deliberately)."""
    contract = _contracts()[DOOR_CONTRACT]
    assert set(contract["source_modules"]) == DOORS
    forbidden = {m for m in contract["forbidden_modules"] if m.startswith("memsvc.")}
    expected = top_level_modules(ROOT / "memsvc") - DOOR_WHITELIST - DOORS
    assert forbidden == expected, (
        f"not forbidden to the doors: {sorted(expected - forbidden)}; "
        f"forbidden but gone: {sorted(forbidden - expected)}"
    )
    assert "memsvc_cli" in contract["forbidden_modules"]


def test_core_contract_covers_every_core_module() -> None:
    contract = _contracts()[CORE_CONTRACT]
    expected = top_level_modules(ROOT / "memsvc") - DOORS
    assert set(contract["source_modules"]) == expected
    assert {"memsvc.api", "mcp_server", "memsvc_cli"} <= set(contract["forbidden_modules"])


def test_top_level_modules_sees_a_new_subpackage(tmp_path: Path) -> None:
    pkg = tmp_path / "memsvc"
    (pkg / "store").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "store" / "__init__.py").write_text("")
    (pkg / "clock.py").write_text("")
    assert top_level_modules(pkg) == {"memsvc.store", "memsvc.clock"}
    (pkg / "cache").mkdir()
    (pkg / "cache" / "__init__.py").write_text("")
    assert "memsvc.cache" in top_level_modules(pkg)
