"""The packages of ``idp`` form layers: no import cycle between them.

Nodes are the subpackages (``idp.oauth``, ``idp.consent`` …) and the top-level modules
(``idp.web``, ``idp.claims`` …). Every import counts, deferred ones (inside functions)
and ``TYPE_CHECKING`` ones included: a cycle hidden by a deferred import is still a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import idp

ROOT = Path(idp.__file__).parent
SKIP = {"migrations"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _node(module: str) -> str | None:
    """Return the graph node of an ``idp`` module: its subpackage or top-level module."""
    parts = module.split(".")
    if parts[0] != "idp":
        return None
    if len(parts) == 1:
        return "idp"
    return f"idp.{parts[1]}"


def _imports(path: Path, module: str) -> set[str]:
    """Return every ``idp`` module that ``path`` imports, wherever the import sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from idp import web`` imports the module idp.web, not the package's body.
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    return {name for name in found if name.split(".")[0] == "idp"}


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def import_graph() -> dict[str, dict[str, set[str]]]:
    """Return {node: {imported node: {the importing lines' module -> target}}}."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in ROOT.rglob("*.py"):
        if SKIP & set(path.relative_to(ROOT).parts):
            continue
        module = _module_name(path)
        src = _node(module)
        for target in _imports(path, module):
            dst = _node(target)
            if dst and src and dst != src:
                graph[src][dst].add(f"{module} -> {target}")
    return graph


def find_cycle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    """Return one cycle as a list of nodes (first repeated last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_between_packages() -> None:
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle:
        edges = [
            f"  {a} -> {b}: " + "; ".join(sorted(graph[a][b]))
            for a, b in zip(cycle, cycle[1:], strict=False)
        ]
        raise AssertionError("import cycle between packages:\n" + "\n".join(edges))


def test_the_graph_sees_deferred_imports() -> None:
    # The checker itself must see an import inside a function body (the way cycles hide).
    graph = import_graph()
    assert "idp.oauth" in graph["idp"], "create_app's deferred imports are not seen"


def test_a_cycle_is_reported() -> None:
    graph = {"a": {"b": {"a.x -> b.y"}}, "b": {"c": {"b.y -> c"}}, "c": {"a": {"c -> a"}}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": set()}, "b": {}}) is None
