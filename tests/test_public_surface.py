"""The public surface is ``memsvc.__all__``: complete, documented, sorted, one version."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import tomllib
import types
from pathlib import Path

import memsvc

ROOT = Path(__file__).resolve().parent.parent
DOOR_DIRS = ("memsvc/api", "mcp_server")
SOURCE_DIRS = ("memsvc", "mcp_server", "memsvc_cli")
# Private names that are nonetheless part of the surface (as httpx does for its own).
PUBLIC_DUNDERS = {"__version__"}


def names_doors_take_from_the_package(source: str) -> set[str]:
    """Names a door module takes from the ``memsvc`` package itself: ``from memsvc import X``
    and ``memsvc.X`` after ``import memsvc`` (``memsvc.api.…`` style module paths excluded)."""
    tree = ast.parse(source)
    names: set[str] = set()
    imports_package = False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "memsvc" and node.level == 0:
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            imports_package |= any(a.name == "memsvc" and a.asname is None for a in node.names)
    if imports_package:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "memsvc"
            ):
                names.add(node.attr)
    return names


def _own_docstring(obj: object) -> str:
    # A class's own docstring, not one inherited from BaseModel or StrEnum.
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


def test_every_name_in_all_exists() -> None:
    missing = [name for name in memsvc.__all__ if not hasattr(memsvc, name)]
    assert not missing


def test_all_is_sorted_and_has_no_duplicates() -> None:
    assert memsvc.__all__ == sorted(set(memsvc.__all__))


def test_every_public_name_of_the_package_is_in_all() -> None:
    public = {
        name
        for name, value in vars(memsvc).items()
        if (not name.startswith("_") or name in PUBLIC_DUNDERS)
        and not isinstance(value, types.ModuleType)  # submodules are reached by their path
    }
    assert public == set(memsvc.__all__)


def test_every_exported_name_is_documented() -> None:
    undocumented = [
        name
        for name in memsvc.__all__
        if name not in PUBLIC_DUNDERS and not _own_docstring(getattr(memsvc, name))
    ]
    assert not undocumented, f"give these a docstring: {undocumented}"


def test_names_the_doors_take_from_the_package_are_exported() -> None:
    taken: dict[str, set[str]] = {}
    for door in DOOR_DIRS:
        for path in sorted((ROOT / door).rglob("*.py")):
            for name in names_doors_take_from_the_package(path.read_text()):
                taken.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    submodules = {n for n, v in vars(memsvc).items() if isinstance(v, types.ModuleType)}
    unexported = {
        name: sorted(where)
        for name, where in taken.items()
        if name not in memsvc.__all__ and name not in submodules
    }
    assert not unexported, f"doors use names missing from memsvc.__all__: {unexported}"


def test_door_scan_sees_both_ways_of_taking_a_name() -> None:
    source = (
        "import memsvc\n"
        "from memsvc import render_memory, errors\n"
        "from memsvc.domain import Kind\n"
        "v = memsvc.__version__\n"
    )
    assert names_doors_take_from_the_package(source) == {"render_memory", "errors", "__version__"}


def test_the_version_is_declared_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "memsvc/__init__.py"
    # The installed metadata is what hatch read from memsvc/__init__.py.
    assert importlib.metadata.version("memsvc") == memsvc.__version__


def test_no_module_hard_codes_the_version() -> None:
    copies = []
    for package in SOURCE_DIRS:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel == Path("memsvc/__init__.py"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value == memsvc.__version__:
                    copies.append(f"{rel}:{node.lineno}")
    assert not copies, f"use memsvc.__version__ instead of a literal: {copies}"
