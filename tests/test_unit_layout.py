"""The package layout's rules (docs/DESIGN.md), checked on the source, not by convention.

- ``rest/`` and ``odata/`` never import each other (what both need lives in the flat core);
- no run-time import cycle: imports needed only for type hints sit under
  ``if t.TYPE_CHECKING`` and are not counted;
- no module of ``tap_acumatica`` is much over 450 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tap_acumatica"
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING") or (
        isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
    )


def _imports(path: Path, *, runtime_only: bool) -> set[str]:
    """Modules of tap_acumatica that ``path`` imports (anywhere in the file)."""
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and runtime_only and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("tap_acumatica"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                if base.startswith("tap_acumatica"):
                    found.add(base)
                    # ``from tap_acumatica.odata import discovery`` imports a module too.
                    found.update(f"{base}.{a.name}" for a in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _graph(*, runtime_only: bool) -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imports(path, runtime_only=runtime_only) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_rest_and_odata_never_import_each_other() -> None:
    graph = _graph(runtime_only=False)
    crossings = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        for a, b in (("rest", "odata"), ("odata", "rest"))
        if module.startswith(f"tap_acumatica.{a}") and target.startswith(f"tap_acumatica.{b}")
    ]
    assert crossings == []


def test_no_runtime_import_cycle() -> None:
    graph = _graph(runtime_only=True)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert cycles == []


def test_the_graph_sees_imports() -> None:
    """The checks above would pass on an empty graph: make sure they read real edges."""
    graph = _graph(runtime_only=True)
    assert "tap_acumatica.streams" in graph["tap_acumatica.rest.stream"]
    assert "tap_acumatica.odata.records" in graph["tap_acumatica.odata.dac.stream"]
    typed = _graph(runtime_only=False)
    assert "tap_acumatica.tap" in typed["tap_acumatica.streams"]  # type-only
    assert "tap_acumatica.tap" not in graph["tap_acumatica.streams"]


def test_no_module_is_much_over_450_lines() -> None:
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
