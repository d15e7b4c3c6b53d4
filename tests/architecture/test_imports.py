"""The package's shape, checked from the source: one import name, layers that only look down.

Reads the folder → subpackage mapping from ``pyproject.toml`` (the same one pip installs
from), parses every module with ``ast`` — imports inside functions included, since those
hide cycles — and fails on an import cycle between modules, on a lower layer importing a
higher one, or on code importing a repository folder by its bare name.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: core → catalogue → pipelines / API / web pages / samples → command line.
RANKS = {
    "bando": 0,
    "bando.layers": 1,
    "bando.pipelines": 2,
    "bando.api_config": 2,
    "bando.web": 2,
    "bando.data_samples": 2,
    "bando.cli": 3,
}


def package_dirs() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {name: ROOT / folder for name, folder in config["tool"]["setuptools"]["package-dir"].items()}


def modules() -> dict[str, Path]:
    """Every installed module's dotted name and file."""
    found: dict[str, Path] = {}
    for package, folder in package_dirs().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if any(p in ("node_modules", "vendor", "__pycache__") for p in parts):
                continue
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path) -> Iterator[str]:
    """Absolute names of what a module imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def layer_of(module: str) -> str:
    """The subpackage a module belongs to (``bando`` for the core's own modules)."""
    parts = module.split(".")
    candidate = ".".join(parts[:2])
    return candidate if candidate in RANKS else "bando"


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = {t for t in imports(name, path) if t in mods and t != name}
        edges[name] = targets
    return edges


def test_every_folder_is_a_bando_subpackage() -> None:
    dirs = package_dirs()
    assert all(name == "bando" or name.startswith("bando.") for name in dirs)
    assert set(RANKS) == set(dirs)


def test_no_module_imports_a_folder_by_its_bare_name() -> None:
    bare = {Path(folder).name for folder in package_dirs().values()} - {"bando"}
    offenders = [
        f"{name} imports {target}"
        for name, path in modules().items()
        for target in imports(name, path)
        if target.split(".")[0] in bare
    ]
    assert not offenders, offenders


def test_layers_only_import_downwards(graph: dict[str, set[str]]) -> None:
    wrong = []
    for module, targets in graph.items():
        here = layer_of(module)
        for target in targets:
            there = layer_of(target)
            if RANKS[there] > RANKS[here] or (RANKS[there] == RANKS[here] and there != here):
                wrong.append(f"{module} ({here}) imports {target} ({there})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    """Tarjan's strongly connected components: any component of two or more modules is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, cycles


def test_the_checker_sees_a_cycle() -> None:
    """Guard against a walker that finds nothing: the core's own imports are seen."""
    mods = modules()
    assert "bando.settings" in set(imports("bando.db", mods["bando.db"]))
    assert "bando.layers.model" in set(imports("bando.pipelines.load", mods["bando.pipelines.load"]))
