"""The layering rule as a check over the source: who imports whom.

The packages form layers, lowest first: ``magicstomp``, then ``analyzers`` and
``hil`` (siblings: neither imports the other), then ``optimize``, then ``cli``.
A module may import its own layer or a lower one, never a higher one or a
sibling, and no two modules may import each other, directly or round a loop.

Every ``import`` and ``from ... import`` statement counts, wherever it is (top
level, inside a function, under ``if TYPE_CHECKING``): a late import hides a
cycle from Python, not from the design. Imports built at run time
(``importlib.import_module``) are not seen. Used by ``tests/test_layering.py``;
kept apart so that the check itself can be tested on a synthetic package.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

LAYERS: tuple[tuple[str, ...], ...] = (("magicstomp",), ("analyzers", "hil"), ("optimize",),
                                       ("cli",))


@dataclass(frozen=True)
class Edge:
    """One import statement from a module of the project to another."""

    importer: str
    imported: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` under the packages."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` starts with (None: outside the project)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _base_of_relative(module: str, is_package: bool, level: int) -> str:
    parts = module.split(".") if is_package else module.split(".")[:-1]
    return ".".join(parts[: len(parts) - (level - 1)])


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Dotted names one statement may load (``from a import b`` may load ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        prefix = _base_of_relative(module, is_package, node.level)
        base = f"{prefix}.{base}" if base else prefix
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_edges(root: Path, packages: tuple[str, ...]) -> list[Edge]:
    """Every import between two modules of the packages, one edge per statement and target."""
    modules = find_modules(root, packages)
    edges: list[Edge] = []
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = _targets(node, module, is_package)
            if isinstance(node, ast.ImportFrom):
                # ``from a import b``: the submodule a.b if it exists, else a itself.
                found = [_resolve(n, modules) for n in names[:-1]]
                resolved = {f for f in found if f is not None and f != module}
                resolved = resolved or {_resolve(names[-1], modules)} - {None, module}
            else:
                resolved = {_resolve(n, modules) for n in names} - {None, module}
            edges.extend(Edge(module, target, path.relative_to(root), node.lineno)
                         for target in sorted(resolved))
    return edges


def _layer_of(module: str, layers: tuple[tuple[str, ...], ...]) -> tuple[int, str]:
    top = module.split(".")[0]
    for rank, names in enumerate(layers):
        if top in names:
            return rank, top
    raise ValueError(f"package {top!r} is in no layer; add it to LAYERS")


def layer_violations(edges: list[Edge], layers=LAYERS) -> list[Edge]:
    """Imports of a higher layer, or of a sibling package of the same layer."""
    bad = []
    for edge in edges:
        (rank_from, top_from), (rank_to, top_to) = _layer_of(edge.importer, layers), \
            _layer_of(edge.imported, layers)
        if rank_to > rank_from or (rank_to == rank_from and top_to != top_from):
            bad.append(edge)
    return bad


def import_cycles(edges: list[Edge]) -> list[list[str]]:
    """Groups of modules that import each other round a loop (Tarjan's strongly connected sets)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)
