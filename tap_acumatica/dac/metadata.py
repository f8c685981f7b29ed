"""DAC-based OData ``$metadata`` (EDMX 4.0) -> one spec per DAC (EntityType).

A real 2026 R2 document is about 20 MB with over 2,000 entity types, so it is parsed as a
stream (``xml.etree.ElementTree.iterparse``): each ``EntityType`` is reduced to a few
tuples as soon as it ends and its element is cleared, so memory holds the specs, not the
tree. The service lists each DAC under several entity sets (qualified
``PX_Objects_SO_SOOrder``, display name, short ``SOOrder``); streams are per EntityType,
so those aliases collapse into one stream. Properties and keys are inherited through
``BaseType`` (Customer : BAccount lists only its own fields and no ``<Key>``).
Navigation properties are not fields (reading them is out of scope).
"""

from __future__ import annotations

import io
import typing as t
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tap_acumatica.errors import AcumaticaResponseError
from tap_acumatica.odata import EDM_SCHEMAS, FALLBACK_SCHEMA

#: The stamp Acumatica sets on every save (audit fields; most DACs have it).
STAMP = "LastModifiedDateTime"
#: Set on rows a soft-deleting table keeps after a delete (hidden unless asked for).
SOFT_DELETE_FLAG = "DeletedDatabaseRecord"
#: Singer's (and the SDK targets') marker of a deleted record.
DELETED_AT = "_sdc_deleted_at"
_SHARED = {edm: dict(schema) for edm, schema in EDM_SCHEMAS.items()}


@dataclass
class DacType:
    """One EntityType as declared (own properties only)."""

    namespace: str
    name: str
    base: str | None
    keys: list[str]
    properties: list[tuple[str, str]]  # (name, EDM type), document order

    @property
    def qualified(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass
class DacSpec:
    """One DAC with inherited properties and keys resolved, ready to become a stream."""

    type_name: str  # qualified: PX.Objects.SO.SOOrder
    short_name: str  # SOOrder
    entity_set: str  # the set read (qualified name form when the service lists it)
    properties: dict[str, str]  # name -> EDM type, base properties first
    keys: list[str]
    stream_name: str = ""
    aliases: list[str] = field(default_factory=list)

    @property
    def stamp(self) -> str | None:
        return STAMP if self.properties.get(STAMP) == "Edm.DateTimeOffset" else None

    def json_schema(self) -> dict[str, t.Any]:
        # One shared (read-only) dict per EDM type: ~2,500 DACs of ~80 columns each would
        # otherwise hold 200,000 copies of a dozen small dicts.
        props = {name: _SHARED.get(edm, FALLBACK_SCHEMA) for name, edm in self.properties.items()}
        props[DELETED_AT] = _SHARED["Edm.DateTimeOffset"]
        return {"type": "object", "properties": props}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_types(source: bytes | t.IO[bytes]) -> tuple[dict[str, DacType], dict[str, list[str]]]:
    """Stream-parse ``$metadata``: (qualified type name -> DacType, type -> entity sets)."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    types: dict[str, DacType] = {}
    sets: dict[str, list[str]] = {}
    namespaces: list[str] = []
    current: DacType | None = None
    in_key = False
    depth_root = True
    try:
        for event, element in ET.iterparse(stream, events=("start", "end")):  # noqa: S314 - the instance's own metadata
            kind = _local(element.tag)
            if depth_root:
                depth_root = False
                if kind != "Edmx":
                    raise AcumaticaResponseError(
                        f"DAC OData $metadata is not an EDMX document (root element <{kind}>)."
                    )
            if event == "start":
                if kind == "Schema":
                    namespaces.append(element.get("Namespace", ""))
                elif kind == "EntityType":
                    current = DacType(
                        namespaces[-1] if namespaces else "",
                        element.get("Name", ""),
                        element.get("BaseType"),
                        [],
                        [],
                    )
                elif kind == "Key":
                    in_key = True
                elif current is not None and kind == "PropertyRef" and in_key:
                    current.keys.append(element.get("Name", ""))
                elif current is not None and kind == "Property":
                    current.properties.append(
                        (element.get("Name", ""), element.get("Type", "Edm.String"))
                    )
                elif kind == "EntitySet":
                    sets.setdefault(element.get("EntityType", ""), []).append(
                        element.get("Name", "")
                    )
                continue
            # end events: drop what was read, so the tree never grows.
            if kind == "Key":
                in_key = False
            elif kind == "EntityType" and current is not None:
                types[current.qualified] = current
                current = None
                element.clear()
            elif kind == "Schema":
                namespaces.pop()
                element.clear()
            elif kind in ("EntitySet", "EntityContainer"):
                element.clear()
    except ET.ParseError as exc:
        raise AcumaticaResponseError(f"DAC OData $metadata is not valid XML: {exc}.") from None
    return types, sets


def resolve(type_name: str, types: t.Mapping[str, DacType]) -> tuple[dict[str, str], list[str]]:
    """Properties (base first) and keys (own, else the nearest base's) of one type."""
    chain: list[DacType] = []
    seen: set[str] = set()
    name: str | None = type_name
    while name and name in types and name not in seen:
        seen.add(name)
        chain.append(types[name])
        name = types[name].base
    properties: dict[str, str] = {}
    for declared in reversed(chain):
        properties.update(declared.properties)
    keys = next((d.keys for d in chain if d.keys), [])
    return properties, list(keys)


def build_specs(
    types: t.Mapping[str, DacType],
    sets: t.Mapping[str, list[str]],
    wanted: t.Collection[str] | None = None,
) -> list[DacSpec]:
    """One spec per entity type that has an entity set; named by the short name where that
    is unique, else the qualified one with ``_`` (``PX_Objects_SO_SOOrder``).

    ``wanted`` (short, qualified or entity-set names, any case) limits which are built.
    """
    exposed = [name for name in types if sets.get(name)]
    shorts: dict[str, int] = {}
    for name in exposed:
        shorts[types[name].name] = shorts.get(types[name].name, 0) + 1
    wanted_lower = {w.lower() for w in wanted} if wanted is not None else None
    specs: list[DacSpec] = []
    for name in exposed:
        declared = types[name]
        qualified_set = name.replace(".", "_")
        aliases = list(dict.fromkeys([declared.name, qualified_set, *sets[name]]))
        if wanted_lower is not None and not wanted_lower & {a.lower() for a in aliases}:
            continue
        properties, keys = resolve(name, types)
        listed = sets[name]
        entity_set = qualified_set if qualified_set in listed else listed[0]
        stream = declared.name if shorts[declared.name] == 1 else qualified_set
        specs.append(DacSpec(name, declared.name, entity_set, properties, keys, stream, aliases))
    return specs
