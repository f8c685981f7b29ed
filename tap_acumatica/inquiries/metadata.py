"""OData generic inquiries: ``$metadata`` (EDMX v3/v4) -> inquiry specs -> JSON schema.

Streams are named as the entity sets; their JSON schema comes from the EDM types, their
keys from ``<Key>`` (an inquiry with grouping has none). The EDM type map is shared with
the DAC-based OData service (:mod:`tap_acumatica.odata`).
"""

from __future__ import annotations

import re
import typing as t
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tap_acumatica.errors import AcumaticaResponseError
from tap_acumatica.odata import edm_schema


def type_name_of(entity_set: str) -> str:
    """Acumatica's identifier for an inquiry title: non-identifier characters stripped."""
    return re.sub(r"[^A-Za-z0-9_]", "", entity_set)


@dataclass
class InquirySpec:
    """One entity set of the GI service."""

    name: str
    type_name: str
    columns: dict[str, str]  # column -> EDM type, in document order
    keys: list[str]
    function_import: str | None = None
    parameters: list[str] = field(default_factory=list)

    @property
    def parameterised(self) -> bool:
        return self.function_import is not None

    def json_schema(self) -> dict[str, t.Any]:
        return {
            "type": "object",
            "properties": {name: edm_schema(edm) for name, edm in self.columns.items()},
        }


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def parse_metadata(document: bytes | str) -> dict[str, InquirySpec]:
    """EDMX (v3 ``Version="1.0"`` or v4 ``Version="4.0"``) -> entity set name -> spec."""
    try:
        root = ET.fromstring(document)  # noqa: S314 - the instance's own metadata, no DTDs
    except ET.ParseError as exc:
        raise AcumaticaResponseError(f"OData $metadata is not valid XML: {exc}.") from None
    if _local(root.tag) != "Edmx":
        raise AcumaticaResponseError(
            f"OData $metadata is not an EDMX document (root element <{_local(root.tag)}>)."
        )
    types: dict[str, tuple[dict[str, str], list[str]]] = {}
    functions: dict[str, list[str]] = {}  # v4 Function name (qualified and bare) -> parameters
    sets: list[tuple[str, str]] = []
    imports: list[ET.Element] = []
    for schema in root.iter():
        if _local(schema.tag) != "Schema":
            continue
        namespace = schema.get("Namespace", "")
        for element in schema:
            kind = _local(element.tag)
            if kind == "EntityType":
                columns = {
                    p.get("Name", ""): p.get("Type", "Edm.String")
                    for p in _children(element, "Property")
                    if p.get("Name")
                }
                keys = [
                    ref.get("Name", "")
                    for key in _children(element, "Key")
                    for ref in _children(key, "PropertyRef")
                    if ref.get("Name")
                ]
                name = element.get("Name", "")
                types[name] = types[f"{namespace}.{name}"] = (columns, keys)
            elif kind == "Function":
                params = [p.get("Name", "") for p in _children(element, "Parameter")]
                name = element.get("Name", "")
                functions[name] = functions[f"{namespace}.{name}"] = params
            elif kind == "EntityContainer":
                for item in element:
                    item_kind = _local(item.tag)
                    if item_kind == "EntitySet" and item.get("Name"):
                        sets.append((item.get("Name", ""), item.get("EntityType", "")))
                    elif item_kind == "FunctionImport":
                        imports.append(item)
    specs: dict[str, InquirySpec] = {}
    for name, type_ref in sets:
        columns, keys = types.get(type_ref) or types.get(type_ref.rsplit(".", 1)[-1]) or ({}, [])
        specs[name] = InquirySpec(
            name=name, type_name=type_ref.rsplit(".", 1)[-1], columns=dict(columns), keys=list(keys)
        )
    for item in imports:
        target = item.get("EntitySet", "")
        spec = specs.get(target)
        if spec is None:
            continue
        function = item.get("Function")
        if function is not None:  # v4: parameters live on the Function
            params = functions.get(function, [])
        else:  # v3: parameters live on the FunctionImport
            params = [p.get("Name", "") for p in _children(item, "Parameter")]
        spec.function_import = item.get("Name")
        spec.parameters = [p for p in params if p]
    return specs


def datetime_columns(schema: t.Mapping[str, t.Any]) -> list[str]:
    """An inquiry's date-time columns: each can be its replication key."""
    return [
        name
        for name, prop in schema.get("properties", {}).items()
        if prop.get("format") == "date-time"
    ]
