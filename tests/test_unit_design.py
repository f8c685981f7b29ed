"""docs/DESIGN.md stays the true map: it names every module of ``tap_acumatica`` once,
names no module that does not exist, and every code name it quotes exists in the code.

Checked on the text of the map and on the source (names read with ``tokenize``: the
identifiers the code defines and uses, and the one-word strings it holds, such as state
keys); prose, comments and docstrings do not count as a name existing.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import pkgutil
import re
import tokenize
from pathlib import Path

import tap_acumatica

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "DESIGN.md"
PACKAGE = ROOT / "tap_acumatica"
SOURCES = [PACKAGE, ROOT / "tests", ROOT / "benchmarks", ROOT / "scripts", ROOT / "tasks.py"]
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+(?:/|\.py))(?:\s|$)")
CODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?$")
FILE_NAME = re.compile(r"^[\w./-]+\.(?:py|md|json|yml|yaml|toml|txt)$")


def tree_block(text: str) -> list[str]:
    """The lines of the first code block after the ``## Layout`` heading."""
    after = text.split("## Layout", 1)[1]
    return after.split("```", 2)[1].splitlines()[1:]


def mapped_modules(text: str) -> list[str]:
    """Module paths the tree names (relative to the repository), in order."""
    found: list[str] = []
    folders: list[str] = []
    for line in tree_block(text):
        match = ENTRY.match(line)
        if not match:
            continue
        depth = len(match["indent"]) // 2
        del folders[depth:]
        name = match["name"]
        if name.endswith("/"):
            folders.append(name)
        else:
            found.append("".join(folders) + name)
    return found


def real_modules() -> set[str]:
    """Every module of the package; a package's ``__init__.py`` only when it holds code."""
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py" and _docstring_only(path):
            continue
        modules.add(str(path.relative_to(ROOT)))
    return modules


def _docstring_only(path: Path) -> bool:
    body = [t for t in _tokens(path) if t.type not in _LAYOUT_TOKENS]
    return all(t.type == tokenize.STRING for t in body)


_LAYOUT_TOKENS = {
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.COMMENT,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
    tokenize.ENCODING,
}


def _tokens(path: Path) -> list[tokenize.TokenInfo]:
    return list(tokenize.tokenize(io.BytesIO(path.read_bytes()).readline))


def code_names() -> set[str]:
    """Identifiers in the code, and strings that are one identifier (state keys, ...)."""
    names: set[str] = set()
    files = [p for s in SOURCES for p in ([s] if s.is_file() else s.rglob("*.py"))]
    for path in files:
        if path.resolve() == Path(__file__).resolve():
            continue  # this file quotes stale names on purpose
        for token in _tokens(path):
            if token.type == tokenize.NAME:
                names.add(token.string)
            elif token.type == tokenize.STRING:
                try:
                    inner = ast.literal_eval(token.string)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(inner, str) and re.fullmatch(r"[A-Za-z_][\w-]*", inner):
                    names.add(inner)
    return names


def package_classes() -> dict[str, type]:
    """Every class defined in ``tap_acumatica``, by name (the modules are imported)."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(tap_acumatica.__path__, "tap_acumatica."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                found[name] = value
    return found


def has_member(cls: type, member: str) -> bool:
    """``cls`` (or a base) has ``member``: a class attribute, or ``self.<member>`` set."""
    if hasattr(cls, member):
        return True
    for klass in cls.__mro__:
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if re.search(rf"self\.{re.escape(member)}\b\s*(?::[^=]*)?=", source):
            return True
    return False


def quoted(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def test_the_map_names_every_module_once() -> None:
    mapped = mapped_modules(DESIGN.read_text())
    assert len(mapped) == len(set(mapped)), "a module is named twice"
    assert sorted(set(mapped) - real_modules()) == [], "named but not in the code"
    assert sorted(real_modules() - set(mapped)) == [], "in the code but not on the map"


def test_every_quoted_code_name_exists() -> None:
    names = code_names()
    classes = package_classes()
    missing = []
    for token in quoted(DESIGN.read_text()):
        if FILE_NAME.match(token):
            if not list(ROOT.glob(f"**/{token}")) and not (ROOT / token).exists():
                missing.append(token)
            continue
        if not CODE_NAME.match(token):
            continue  # prose, literals, URLs, settings with dashes
        parts = token.removesuffix("()").split(".")
        if len(parts) == 2 and parts[0] in classes:
            if not has_member(classes[parts[0]], parts[1]):
                missing.append(token)
            continue
        missing += [token for part in parts if part not in names]
    assert sorted(set(missing)) == []


def test_the_checks_catch_a_stale_map() -> None:
    """A map naming a method that is gone, or missing a module, fails the checks."""
    classes = package_classes()
    assert has_member(classes["TapAcumatica"], "close")
    assert not has_member(classes["TapAcumatica"], "cleanup")  # the old map's name
    assert has_member(classes["AcumaticaClient"], "clock")  # set in __init__
    stale = "## Layout\n\n```\ntap_acumatica/\n  tap.py  x\n  gone.py  y\n```\n"
    assert "tap_acumatica/gone.py" in set(mapped_modules(stale)) - real_modules()
    assert "tap_acumatica/cli.py" in real_modules() - set(mapped_modules(stale))
