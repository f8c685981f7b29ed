"""The bundled Default-endpoint swaggers and what the simulator needs from them.

The swagger is the contract: every top-level entity, its fields and value types, its detail
collections and linked entities come from the real file Acumatica serves, so the simulator
answers for exactly the entities a tap can discover.  Files are read from the gzipped fixtures
and served byte-exact (some start with a UTF-8 BOM; both Swagger 2.0 ``definitions`` and
OpenAPI 3 ``components.schemas`` occur).
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "acumatica"
BUNDLED_VERSIONS = (
    "17.200.001",
    "18.200.001",
    "20.200.001",
    "22.200.001",
    "23.200.001",
    "24.200.001",
)
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
        "StringSingleSelectValue",
        "DateOnlyValue",
    }
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


def swagger_bytes(version: str) -> bytes:
    """The real swagger.json of a bundled version, gunzipped (cached)."""
    with _lock:
        if version not in _raw:
            path = FIXTURES / f"swagger-Default-{version}.json.gz"
            _raw[version] = gzip.decompress(path.read_bytes())
        return _raw[version]


def contract(version: str) -> Contract:
    """Parse (once) the swagger of ``version`` into a Contract."""
    raw = swagger_bytes(version)
    with _lock:
        if version not in _contracts:
            _contracts[version] = _parse(version, json.loads(raw.decode("utf-8-sig")))
        return _contracts[version]


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
                if "$ref" in spec:
                    target = _ref_name(spec["$ref"])
                    if target in VALUE_TYPES:
                        edef.scalars[prop] = target
                    else:
                        edef.linked[prop] = target
                elif spec.get("type") == "array" and "$ref" in spec.get("items", {}):
                    edef.collections[prop] = _ref_name(spec["items"]["$ref"])
        defs[name] = edef
    top = []
    for path, ops in doc.get("paths", {}).items():
        name = path.strip("/")
        if "/" not in name and "get" in ops and name in defs:
            top.append(name)
    return Contract(version, sorted(top), defs)
