"""The package layout's rules (docs/DESIGN.md), checked on the source, not by convention.

- the three API packages (``rest/``, ``inquiries/``, ``dac/``) never import each other,
  not even for types (what GI and DAC share is ``odata.py``; what all share is below them);
- no import cycle, counting type-only and function-level imports;
- nothing below the tap imports it: services and streams get a ``RunContext``; only the
  two entry points do (``tap-acumatica``, and ``source-acumatica``, the Airbyte source);
- the HTTP layer knows nothing of sign-in, reading or the APIs (it defines the
  authenticator interface that ``auth/`` implements);
- no module of ``tap_acumatica`` is much over 450 lines (a symptom check, not a reason to
  cut a module).
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
                    # ``from tap_acumatica.inquiries import discovery`` imports a module too.
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


API_PACKAGES = ("rest", "inquiries", "dac")


def _in(module: str, package: str) -> bool:
    return module == f"tap_acumatica.{package}" or module.startswith(f"tap_acumatica.{package}.")


def test_api_packages_never_import_each_other() -> None:
    graph = _graph(runtime_only=False)
    crossings = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        for a in API_PACKAGES
        for b in API_PACKAGES
        if a != b and _in(module, a) and _in(target, b)
    ]
    assert crossings == []


def test_no_import_cycle_even_counting_type_only_imports() -> None:
    graph = _graph(runtime_only=False)
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


def test_only_the_entry_points_import_the_tap() -> None:
    graph = _graph(runtime_only=False)
    importers = sorted(m for m, targets in graph.items() if "tap_acumatica.tap" in targets)
    assert importers == ["tap_acumatica.airbyte.cli", "tap_acumatica.cli"]


def test_nothing_below_the_airbyte_source_imports_it() -> None:
    """The Airbyte source is built on the Singer tap, never the other way round."""
    graph = _graph(runtime_only=False)
    reached = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if not _in(module, "airbyte")
        for target in targets
        if _in(target, "airbyte")
    )
    assert reached == []


def test_the_http_layer_imports_no_sign_in_reading_or_api() -> None:
    graph = _graph(runtime_only=False)
    above = ("auth", "sync", "run", "tap", "odata", *API_PACKAGES)
    reached = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if _in(module, "http")
        for target in targets
        if any(_in(target, name) for name in above)
    )
    assert reached == []


def test_the_graph_sees_imports() -> None:
    """The checks above would pass on an empty graph: make sure they read real edges."""
    runtime = _graph(runtime_only=True)
    typed = _graph(runtime_only=False)
    assert "tap_acumatica.sync.stream" in runtime["tap_acumatica.rest.stream"]
    assert "tap_acumatica.odata" in runtime["tap_acumatica.dac.stream"]
    # type-only: counted by the full graph, not by the run-time one
    assert "tap_acumatica.run" in typed["tap_acumatica.sync.stream"]
    assert "tap_acumatica.run" not in runtime["tap_acumatica.sync.stream"]
    # function-level: the tap imports an API package only when it discovers
    assert "tap_acumatica.rest.discovery" in typed["tap_acumatica.tap"]


def test_no_module_is_much_over_450_lines() -> None:
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
