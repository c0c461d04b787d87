"""The package's layout shows the data flow: a few modules at the top, the rest in sub-packages,
each of which says what it may import and imports nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import search

PACKAGE = Path(search.__file__).parent
MAX_TOP_MODULES = 12
ON_TOP = {"search.web": {"search.cli"}}
"""Sub-packages that sit on top, beside the CLI: they may import top-level modules (the API), and only
the modules named here import them."""


def _subpackages() -> list[Path]:
    return sorted(path.parent for path in PACKAGE.glob("*/__init__.py"))


def _imports(path: Path) -> set[str]:
    """The modules of search a file imports (at any depth), as dotted names."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module.split(".")[0] != "search":
                continue
            named = [f"{module}.{alias.name}" for alias in node.names]
            found |= {name for name in named if _is_module(name)} or {module}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "search"}
    return found


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _room(dotted: str) -> str:
    """A module's sub-package (search.storage), or the module itself at the top (search.analysis)."""
    return ".".join(dotted.split(".")[:2])


def _allowed(package: Path) -> set[str]:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    line = re.search(r"^May import: (.*)\.$", docstring, re.M)
    assert line, f"{package.name}/__init__.py does not say what it may import"
    return set() if line.group(1).startswith("nothing") else set(line.group(1).split(", "))


def test_the_top_of_the_package_holds_at_most_twelve_modules() -> None:
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top


def test_each_subpackage_says_what_it_holds_and_imports_only_what_it_may() -> None:
    for package in _subpackages():
        allowed = _allowed(package) | {f"search.{package.name}"}
        for path in package.rglob("*.py"):
            wrong = {name for name in _imports(path) if _room(name) not in allowed}
            assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"


def test_no_subpackage_imports_a_module_above_it_or_runs_in_a_circle() -> None:
    """What a sub-package may import forms a graph without cycles, so data flows one way."""
    graph = {f"search.{package.name}": _allowed(package) for package in _subpackages()}
    base = {"search.analysis", "search.errors", "search.files"}
    graph |= {module: {_room(name) for name in _imports(PACKAGE / f"{module.split('.')[1]}.py")} - {module}
              for module in base}
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"import circle: {' -> '.join(path + (node,))}"
        if node in done:
            return
        for target in graph.get(node, ()):
            visit(target, path + (node,))
        done.add(node)

    for node in graph:
        visit(node, ())
    tops = {target for node, targets in graph.items() if node not in ON_TOP for target in targets
            if target not in graph}
    assert tops <= base, f"sub-packages import top-level modules other than {sorted(base)}: {sorted(tops - base)}"


def test_a_layer_on_top_is_imported_only_by_what_sits_beside_it() -> None:
    """search.web is a thin layer over the API, as the CLI is: nothing below imports either."""
    for layer, importers in ON_TOP.items():
        for path in PACKAGE.rglob("*.py"):
            module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
            if _room(module) == layer or module in importers:
                continue
            wrong = {name for name in _imports(path) if _room(name) == layer}
            assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"
