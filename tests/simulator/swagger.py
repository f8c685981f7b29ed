"""The bundled Default-endpoint swaggers and what the simulator needs from them.

The swagger is the contract: every top-level entity, its fields and value types, its detail
collections and linked entities come from the real file Acumatica serves, so the simulator
answers for exactly the entities a tap can discover.  Files are read from the gzipped fixtures
and served byte-exact (some start with a UTF-8 BOM; both Swagger 2.0 ``definitions`` and
OpenAPI 3 ``components.schemas`` occur). 25.200.001 and 26.200.001 are served from Acumatica's
real excerpts, completed (excerpts.py); 26.200.001 has two builds, so a contract is named by a
*key*: the version, or ``<version>@<build>`` for those (``26.200.001@d1a8f665``).
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import excerpts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "acumatica"
BUNDLED_VERSIONS = (
    "17.200.001",
    "18.200.001",
    "20.200.001",
    "22.200.001",
    "23.200.001",
    "24.200.001",
    "25.200.001",
    "26.200.001",
)
#: Served when the ``versions`` option names none: the versions with a full real document.
#: 25.200.001 and 26.200.001 are served on request (their excerpts hold only a few entities,
#: so control calls that default to the last served version would miss most entities).
DEFAULT_VERSIONS = BUNDLED_VERSIONS[:6]
# Value wrappers ({"value": x}); anything else referenced is an entity (linked/detail).
VALUE_TYPES = frozenset(
    {
        "StringValue",
        "DecimalValue",
        "DateTimeValue",
        "BooleanValue",
        "IntValue",
        "ShortValue",
        "LongValue",
        "ByteValue",
        "DoubleValue",
        "GuidValue",
        "DateOnlyValue",
        # Contract v5 drop-downs: {"value": {"id": .., "description": ..}} (multi: a list).
        "StringSingleSelectValue",
        "IntSingleSelectValue",
        "StringMultiSelectValue",
    }
)
SELECT_TYPES = frozenset(
    {"StringSingleSelectValue", "IntSingleSelectValue", "StringMultiSelectValue"}
)


@dataclass
class EntityDef:
    """One schema of the swagger: scalar fields plus its detail and linked entities."""

    name: str
    scalars: dict[str, str] = field(default_factory=dict)  # field -> value type
    collections: dict[str, str] = field(default_factory=dict)  # field -> item definition
    linked: dict[str, str] = field(default_factory=dict)  # field -> definition
    note_is_string: bool = False  # contract v3 (17.200.001): "note" is a bare string


@dataclass
class Contract:
    """What one endpoint version offers: top-level entity names and every definition."""

    version: str
    top_level: list[str]
    defs: dict[str, EntityDef]
    #: 25.200.001 and later: stamps in UTC, decimals with 4 places, ``_links``, no ``files``
    #: in lists (the recorded 25.200.001 traffic, ACUMATICA_CONTRACT_V5.md section 8).
    modern: bool = False
    #: Contract v5 (``info.version`` "5"): drop-downs as ``{"id", "description"}`` objects.
    v5: bool = False

    def stamp_field(self, entity: str) -> str | None:
        """The incremental stamp: LastModifiedDateTime, else LastModified (SalesOrder, old StockItem)."""
        scalars = self.defs[entity].scalars
        for name in ("LastModifiedDateTime", "LastModified"):
            if scalars.get(name) == "DateTimeValue":
                return name
        return None


_lock = threading.Lock()
_raw: dict[str, bytes] = {}
_contracts: dict[str, Contract] = {}


def contract_key(version: str, builds: dict | None = None, complete: bool = True) -> str:
    """The contract served for ``version``: the version, or ``<version>@<build>`` for the
    excerpt versions (``builds`` is the ``contract_builds`` option), ``…:excerpt`` when the
    excerpt is served with its paths only (option ``complete_excerpts`` false)."""
    if version not in excerpts.EXCERPTS:
        return version
    build = (builds or {}).get(version) or excerpts.DEFAULT_BUILDS[version]
    if build not in excerpts.EXCERPTS[version]:
        known = ", ".join(excerpts.EXCERPTS[version])
        raise ValueError(f"contract_builds: {version} has builds {known}, not {build!r}")
    return f"{version}@{build}" + ("" if complete else ":excerpt")


def swagger_bytes(key: str) -> bytes:
    """The swagger.json served for a contract key: the real file of a bundled version,
    gunzipped, or an excerpt completed (cached)."""
    version, _, build = key.partition("@")
    if build:
        build, _, raw = build.partition(":")
        return excerpts.completed(version, build, complete=not raw)
    with _lock:
        if version not in _raw:
            path = FIXTURES / f"swagger-Default-{version}.json.gz"
            _raw[version] = gzip.decompress(path.read_bytes())
        return _raw[version]


def contract(key: str) -> Contract:
    """Parse (once) the swagger of a contract key into a Contract."""
    raw = swagger_bytes(key)
    with _lock:
        if key not in _contracts:
            version = key.partition("@")[0]
            _contracts[key] = _parse(version, json.loads(raw.decode("utf-8-sig")))
        return _contracts[key]


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _parse(version: str, doc: dict) -> Contract:
    schemas = doc.get("definitions") or doc.get("components", {}).get("schemas", {})
    entity_base = schemas.get("Entity", {}).get("properties", {})
    note_is_string = entity_base.get("note", {}).get("type") == "string"
    defs: dict[str, EntityDef] = {}
    for name, schema in schemas.items():
        if name in VALUE_TYPES:
            continue
        parts = schema.get("allOf", [schema])
        if not any(p.get("$ref", "").endswith("/Entity") for p in parts):
            continue
        edef = EntityDef(name, note_is_string=note_is_string)
        for part in parts:
            for prop, spec in part.get("properties", {}).items():
                spec = _plain_ref(spec)
                if "$ref" in spec:
                    target = _ref_name(spec["$ref"])
                    if target in VALUE_TYPES:
                        edef.scalars[prop] = target
                    elif target in schemas:  # a dangling $ref (an uncompleted excerpt): none
                        edef.linked[prop] = target
                elif spec.get("type") == "array" and "$ref" in spec.get("items", {}):
                    target = _ref_name(spec["items"]["$ref"])
                    if target in schemas:
                        edef.collections[prop] = target
        defs[name] = edef
    top = []
    for path, ops in doc.get("paths", {}).items():
        name = path.strip("/")
        if "/" not in name and "get" in ops and name in defs:
            top.append(name)
    info = str(doc.get("info", {}).get("version", ""))
    modern = tuple(int(p) for p in version.split(".")[:1]) >= (25,)
    return Contract(version, sorted(top), defs, modern=modern, v5=info == "5")


def _plain_ref(spec: dict) -> dict:
    """``{"anyOf": [{"$ref": X}], "nullable": true}`` (released v5) read as ``{"$ref": X}``."""
    for key in ("anyOf", "oneOf", "allOf"):
        options = spec.get(key)
        if isinstance(options, list) and len(options) == 1 and "$ref" in options[0]:
            return {"$ref": options[0]["$ref"]}
    return spec
