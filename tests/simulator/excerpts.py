"""Endpoint versions 25.200.001 and 26.200.001: Acumatica's real OpenAPI excerpts, completed.

Acumatica's published documents for these versions are too large to keep, so the fixtures
hold EXCERPTS (``tests/fixtures/acumatica/openapi-Default-<version>[-<build>]-EXCERPT.json``):
``components.schemas`` with the value wrappers, ``Entity``, the custom-field types and a
handful of entities, each copied verbatim, and no ``paths``. Served as they are, they would
name definitions they do not hold (``Address``, ``Contact``, ``FileLink``, ...), and a
client could discover nothing. So the simulator serves each excerpt **completed**:

* every definition the excerpt refers to but does not hold, and every value wrapper and
  custom-field type of 24.200.001 it lacks, is copied from the real 24.200.001 document
  (``swagger-Default-24.200.001.json.gz``), transitively; for the released 2026 R2 build
  (``d1a8f665``, contract v5 in its final shape) the copies are rewritten in that build's
  own conventions (nullable wrappers and arrays, linked entities as
  ``{"anyOf": [{"$ref": X}], "nullable": true}``, as its real definitions are); the v4
  excerpts (25.200.001) and the early 2026 R2 build (``4cf7684``), whose real definitions
  still use plain ``$ref``s, get them unchanged;
* ``paths`` (``/<Entity>``, ``/<Entity>/$adHocSchema``, ``/<Entity>/{id}``,
  ``/<Entity>/{ids}``, copied from 24.200.001 with the ``responses`` and ``parameters``
  they name) for the top-level entities the excerpt holds: those the excerpt defines and
  ``entities-Default-24.200-to-26.200.txt`` names for that build;
* for the released build also ``Event``, completed from 24.200.001: its linked entity
  ``TimeActivity`` is the excerpt's real ``EventTimeActivity`` (four
  ``IntSingleSelectValue`` drop-downs), which nothing else in the excerpt reaches;
* ``tags``, ``servers`` and an ``x-simulator-completion`` block that lists, by name,
  every definition and path that is not Acumatica's own for this version.

What is real is what the excerpt holds; everything the ``x-simulator-completion`` block
lists was completed. The served document of 17.200.001-24.200.001 stays byte-exact.

With the simulator option ``complete_excerpts: false`` an excerpt is served with its paths
only (definitions left dangling, as stored): a document a client cannot fully type, for
testing how it reports that.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import threading
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "acumatica"
#: Builds of each excerpt version: build -> (fixture, commit of Acumatica's repository).
EXCERPTS: dict[str, dict[str, tuple[str, str]]] = {
    "25.200.001": {
        "d509b1cf": (
            "openapi-Default-25.200.001-EXCERPT.json",
            "d509b1cf2aff292a0cc279150ffdaa1f357b85c0",
        )
    },
    "26.200.001": {
        "4cf7684": (
            "openapi-Default-26.200.001-4cf7684-EXCERPT.json",
            "4cf7684c0e510e6d17d6c68109c1646a95af8622",
        ),
        "d1a8f665": (
            "openapi-Default-26.200.001-d1a8f665-EXCERPT.json",
            "d1a8f665b464556b44ef07057acbcedfd4fcde6c",
        ),
    },
}
#: The build served when the ``contract_builds`` option names none: the released one.
DEFAULT_BUILDS = {"25.200.001": "d509b1cf", "26.200.001": "d1a8f665"}
#: The column of each build in entities-Default-24.200-to-26.200.txt (24, 25, 26a, 26b).
ENTITY_COLUMNS = {"d509b1cf": 1, "4cf7684": 2, "d1a8f665": 3}
#: Builds whose own definitions follow contract v5's final conventions.
V5_CONVENTIONS = frozenset({"d1a8f665"})
#: Top-level entities completed from 24.200.001 although the excerpt does not define them,
#: because a real definition of the excerpt is reachable only through them.
EXTRA_TOP_LEVEL = {"d1a8f665": ("Event",)}
COMPLETED_FROM = "24.200.001"
_PATH_SUFFIXES = ("", "/$adHocSchema", "/{id}", "/{ids}")

_lock = threading.Lock()
_cache: dict[tuple[str, str], bytes] = {}


def builds(version: str) -> dict[str, tuple[str, str]]:
    return EXCERPTS[version]


def excerpt(version: str, build: str) -> dict:
    """The real excerpt, as stored."""
    name, _commit = EXCERPTS[version][build]
    return json.loads((FIXTURES / name).read_text(encoding="utf-8-sig"))


def _full_24() -> dict:
    raw = gzip.decompress((FIXTURES / "swagger-Default-24.200.001.json.gz").read_bytes())
    return json.loads(raw.decode("utf-8-sig"))


def entity_table() -> dict[str, tuple[str, str, tuple[bool, ...]]]:
    """name -> (description, screen, served by 24 / 25 / 26@4cf7684 / 26@d1a8f665)."""
    out: dict[str, tuple[str, str, tuple[bool, ...]]] = {}
    for line in (FIXTURES / "entities-Default-24.200-to-26.200.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.match(r"^[ +](\S+)\s+([y-]) ([y-]) ([y-]) ([y-])\s*(.*)$", line)
        if match is None:
            continue
        flags = tuple(flag == "y" for flag in match.groups()[1:5])
        description = match.group(6).strip()
        screen = re.search(r"\(([A-Z]{2}\d{6})\)\s*$", description)
        out[match.group(1)] = (description, screen.group(1) if screen else "", flags)
    return out


def _refs(node: object, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def is_wrapper(schema: dict) -> bool:
    """A value wrapper: an object of ``value`` (and ``error``), not an entity."""
    props = schema.get("properties")
    return "allOf" not in schema and isinstance(props, dict) and "value" in props


def _is_entity(schema: dict) -> bool:
    return any(p.get("$ref", "").endswith("/Entity") for p in schema.get("allOf", []))


def _nullable(node: dict) -> dict:
    return {**node, "nullable": True}


def v5_rewrite(name: str, schema: dict, wrappers: set[str]) -> dict:
    """A 24.200.001 definition in the released v5 build's conventions (see the module)."""
    schema = copy.deepcopy(schema)
    if is_wrapper(schema):
        props = schema["properties"]
        for key in props:
            props[key] = _nullable(props[key])
        return _nullable(schema)
    if name.startswith("Custom") and name.endswith("Field"):
        for part in schema.get("allOf", []):
            for key, prop in part.get("properties", {}).items():
                part["properties"][key] = _nullable(prop)
        return schema
    if not _is_entity(schema):
        return schema
    for part in schema["allOf"]:
        props = part.get("properties", {})
        for key, prop in props.items():
            ref = prop.get("$ref", "")
            if ref and ref.rsplit("/", 1)[-1] not in wrappers:
                props[key] = {"anyOf": [{"$ref": ref}], "nullable": True}
            elif prop.get("type") in ("array", "object"):
                props[key] = _nullable(prop)
    return schema


def completed(version: str, build: str, complete: bool = True) -> bytes:
    """The served swagger.json of ``version`` (build ``build``): the excerpt, completed
    (with ``complete`` false: with paths only)."""
    with _lock:
        key = (version, build, complete)
        if key not in _cache:
            doc = _complete(version, build, complete)
            _cache[key] = json.dumps(doc, ensure_ascii=False).encode()
        return _cache[key]


def _complete(version: str, build: str, complete: bool = True) -> dict:
    doc = excerpt(version, build)
    full = _full_24()
    base = full["components"]["schemas"]
    schemas = doc["components"]["schemas"]
    v5 = build in V5_CONVENTIONS
    wrappers = {n for n, s in {**base, **schemas}.items() if is_wrapper(s)}
    added: list[str] = []

    def add(name: str) -> None:
        source = base[name]
        schemas[name] = v5_rewrite(name, source, wrappers) if v5 else copy.deepcopy(source)
        added.append(name)

    table = entity_table()
    column = ENTITY_COLUMNS[build]
    top = sorted(
        n for n in schemas if n in table and table[n][2][column] and _is_entity(schemas[n])
    )
    for name in EXTRA_TOP_LEVEL.get(build, ()):
        if name not in schemas:
            add(name)
        top = sorted({*top, name})
    # Value wrappers and custom-field types the excerpt lacks (a document defines them all).
    for name, schema in base.items():
        custom_type = name.startswith("Custom") and name.endswith("Field")
        if complete and name not in schemas and (is_wrapper(schema) or custom_type):
            add(name)
    paths: dict[str, dict] = {}
    for entity in top:
        for suffix in _PATH_SUFFIXES:
            item = full["paths"].get(f"/{entity}{suffix}")
            if item is not None:
                paths[f"/{entity}{suffix}"] = copy.deepcopy(item)
    components = doc["components"]
    for section in ("parameters", "responses"):
        wanted: set[str] = set()
        _refs(paths, wanted)
        source = full["components"][section]
        held = components.setdefault(section, {})
        for name in sorted(wanted & set(source)):
            if name not in held:
                held[name] = copy.deepcopy(source[name])
                added.append(f"{section}/{name}")
    # Every definition referred to, transitively.
    while complete:
        found: set[str] = set()
        _refs({"paths": paths, "components": components}, found)
        missing = sorted(n for n in found - set(schemas) if n in base)
        if not missing:
            break
        for name in missing:
            add(name)
    unresolved: set[str] = set()
    _refs({"paths": paths, "components": components}, unresolved)
    unresolved -= set(schemas) | set(components.get("parameters", {}))
    unresolved -= set(components.get("responses", {}))
    _name, commit = EXCERPTS[version][build]
    return {
        "openapi": doc["openapi"],
        "info": doc["info"],
        "servers": [{"url": f"http://localhost/AcumaticaERP/entity/Default/{version}"}],
        "paths": paths,
        "components": components,
        "tags": [{"name": n, "description": table[n][0]} for n in top if n in table],
        "x-simulator-completion": {
            "excerpt": _name,
            "excerpt_commit": commit,
            "completed_from": COMPLETED_FROM,
            "rewritten_in_v5_conventions": v5,
            "definitions_completed": complete,
            "generated": ["paths", "servers", "tags"],
            "completed_definitions": sorted(added),
            "extra_top_level": list(EXTRA_TOP_LEVEL.get(build, ())),
            "unresolved": sorted(unresolved),
        },
    }
