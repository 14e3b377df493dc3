"""The import graph of the project's own modules: no cycles, and the layers point one way.

``features`` (the encoding contract) ← ``training``, ``app``, ``scoring`` (siblings) ← ``cli``.
Every import counts, the ones inside functions too: a lazy import still ties two modules
together, it only hides it from whoever reads the top of the file. docs/architecture.md draws
the same map.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("features", "training", "app", "scoring", "cli", "bench", "tests")
# package → the packages it must never import
FORBIDDEN = {
    "features": {"training", "app", "scoring", "cli"},
    "training": {"app", "scoring", "cli"},
    "app": {"training", "scoring", "cli"},
    "scoring": {"training", "app", "cli"},
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(path, root): path for package in PACKAGES for path in sorted((root / package).rglob("*.py"))}


def imported(module: str, source: str, known: Iterable[str]) -> set[str]:
    """The project modules ``module`` imports anywhere in ``source`` (``from p import m`` is the
    module ``p.m`` when it is one, else ``p``)."""
    known = set(known)
    package = module if _is_package(module, known) else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package up
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in found if name in known and name != module}


def _is_package(module: str, known: set[str]) -> bool:
    return any(other.startswith(module + ".") for other in known)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    return {name: imported(name, path.read_text(encoding="utf-8"), modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        banned = FORBIDDEN.get(module.split(".")[0], set())
        problems += [f"{module} imports {target}" for target in sorted(targets) if target.split(".")[0] in banned]
    return problems


@functools.cache
def project_graph() -> dict[str, set[str]]:
    return import_graph(project_modules())


def test_no_import_cycle_between_project_modules():
    found = cycles(project_graph())
    assert [sorted(c) for c in found] == []


def test_the_layers_point_one_way():
    assert layer_violations(project_graph()) == []


def test_the_checks_find_cycles_lazy_imports_and_layer_breaks(tmp_path):
    files = {
        "features/__init__.py": "",
        "features/a.py": "from features import b\n",
        "features/b.py": "def f():\n    from features.a import x  # a lazy import is an import\n",
        "features/c.py": "from training.loop import fit\n",
        "training/__init__.py": "",
        "training/loop/__init__.py": "",
        "training/loop/fit.py": "from . import step\nimport numpy\n",
        "training/loop/step.py": "from ..loop.fit import run\n",
        "app/main.py": "import json\nfrom features import c\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(project_modules(tmp_path))
    assert graph["features.a"] == {"features.b"} and graph["app.main"] == {"features.c"}
    assert graph["training.loop.fit"] == {"training.loop.step"}  # relative, and numpy is not ours
    assert sorted(map(sorted, cycles(graph))) == [
        ["features.a", "features.b"],
        ["training.loop.fit", "training.loop.step"],
    ]
    assert layer_violations(graph) == ["features.c imports training.loop.fit"]
