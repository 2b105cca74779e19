"""The admin pages' modules (``billcore.web``) import each other without a circle, below the
URL configuration: ``base`` (plumbing) and ``customer_page`` (the customer page's frame and
its tab registry) at the bottom, one module per concept above them; and no function of theirs
imports a billcore module (an import hidden in a function hides a circle).

Static: grimp reads the source, nothing is imported or run."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

WEB = "billcore.web"


def _web_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("billcore")
    modules = {m for m in graph.find_descendants(WEB)} | {WEB}
    return {
        m: {n for n in graph.find_modules_directly_imported_by(m) if n in modules} for m in modules
    }


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), or of one module
    importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_web_package_has_no_import_cycle() -> None:
    edges = _web_graph()
    assert f"{WEB}.base" in edges
    assert _cycles(edges) == []


def test_base_and_the_customer_page_import_no_view_module() -> None:
    edges = _web_graph()
    assert {m for m in edges[f"{WEB}.base"] if m.startswith(f"{WEB}.views")} == set()
    assert {m for m in edges[f"{WEB}.customer_page"] if m.startswith(f"{WEB}.views")} == set()


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_function_of_the_web_package_imports_a_billcore_module() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "billcore" / "web"
    hidden = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""] if node.level == 0 else ["(relative)"]
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "__import__"
                ):
                    names = ["__import__"]
                hidden += [
                    f"{path.name}:{node.lineno} {name}"
                    for name in names
                    if name.startswith("billcore") or name in ("(relative)", "__import__")
                ]
    assert hidden == []
