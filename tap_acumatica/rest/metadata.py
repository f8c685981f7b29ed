"""The contract-based REST API's metadata: swagger.json -> entities -> JSON schema.

Acumatica wraps every field as ``{"value": x}`` (``{}`` when empty), nests detail
collections and linked entities, and renders date-times with the instance's UTC offset.
This module turns the endpoint's swagger (Swagger 2.0 up to 23.200.001, OpenAPI 3 from
24.200.001) into :class:`EntitySpec` objects and their JSON schemas, and reads custom fields from
``$adHocSchema``. The record transform compiled from a schema is in
:mod:`tap_acumatica.rest.records`.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

VALUE_TYPES: dict[str, dict[str, t.Any]] = {
    "StringValue": {"type": ["string", "null"]},
    "DecimalValue": {"type": ["number", "null"]},
    "DoubleValue": {"type": ["number", "null"]},
    "IntValue": {"type": ["integer", "null"]},
    "ShortValue": {"type": ["integer", "null"]},
    "LongValue": {"type": ["integer", "null"]},
    "ByteValue": {"type": ["integer", "null"]},
    "BooleanValue": {"type": ["boolean", "null"]},
    "DateTimeValue": {"type": ["string", "null"], "format": "date-time"},
    "GuidValue": {"type": ["string", "null"], "format": "uuid"},
    # Contract v5 (26.200.001) additions.
    "StringSingleSelectValue": {"type": ["string", "null"]},
    "DateOnlyValue": {"type": ["string", "null"], "format": "date"},
}
CUSTOM_TYPES: dict[str, dict[str, t.Any]] = {
    "CustomStringField": {"type": ["string", "null"]},
    "CustomDecimalField": {"type": ["number", "null"]},
    "CustomDoubleField": {"type": ["number", "null"]},
    "CustomIntField": {"type": ["integer", "null"]},
    "CustomShortField": {"type": ["integer", "null"]},
    "CustomLongField": {"type": ["integer", "null"]},
    "CustomByteField": {"type": ["integer", "null"]},
    "CustomBooleanField": {"type": ["boolean", "null"]},
    "CustomDateTimeField": {"type": ["string", "null"], "format": "date-time"},
    "CustomGuidField": {"type": ["string", "null"], "format": "uuid"},
}
#: Custom fields become flat top-level properties ``custom__<View>__<Field>``: flat so that
#: warehouses get plain columns, and double underscores so the name maps back to the
#: ``$custom=View.Field`` it came from without ambiguity.
CUSTOM_PREFIX = "custom__"
STAMP_FIELDS = ("LastModifiedDateTime", "LastModified")
#: Properties the contract-based API puts beside the fields of every entity, detail line and
#: linked entity (not fields of the entity itself).
SYSTEM_FIELDS = ("id", "rowNumber", "note", "custom", "files", "error", "_links")
#: The system fields a record keeps as properties of its own: ``custom`` becomes flat
#: ``custom__<View>__<Field>`` properties, ``error`` and ``_links`` are dropped. ``note`` is
#: wrapped like a field in most endpoint versions but a bare string in 17.200.001; the
#: others are never wrapped.
SYSTEM_PROPERTIES = frozenset(SYSTEM_FIELDS) - {"custom", "error", "_links"}
MAX_DEPTH = 4  # nested detail/linked levels kept in schemas (Details/Allocations is 2)


@dataclass
class FieldSpec:
    """One property of an entity: a wrapped value, a detail collection or a linked entity."""

    name: str
    kind: str  # "value" | "detail" | "linked" | "plain"
    value_type: str | None = None  # e.g. "DecimalValue" for kind "value"
    plain_schema: dict[str, t.Any] | None = None  # kind "plain": schema as given
    shape: Shape | None = None  # detail / linked


@dataclass
class Shape:
    """The fields of one swagger definition (top-level entity, detail line, linked entity)."""

    definition: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    note_wrapped: bool = True  # 17.200.001 sends `note` as a plain string


@dataclass
class EntitySpec:
    """A top-level entity of the endpoint: one Singer stream."""

    name: str
    shape: Shape
    stamp: str | None  # replication key: LastModifiedDateTime, else LastModified, else None

    def json_schema(self) -> dict[str, t.Any]:
        return shape_schema(self.shape, top_level=True)


# --- swagger parsing ---------------------------------------------------------------------


def load_swagger(raw: bytes | str) -> dict[str, t.Any]:
    """Parse swagger.json; some Acumatica versions start the file with a UTF-8 BOM."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8-sig")
    return t.cast("dict[str, t.Any]", json.loads(raw.lstrip("\ufeff")))


def _definitions(doc: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    if "definitions" in doc:
        return t.cast("dict[str, t.Any]", doc["definitions"])
    return t.cast("dict[str, t.Any]", doc.get("components", {}).get("schemas", {}))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _list_response_ref(operation: t.Mapping[str, t.Any]) -> str | None:
    ok = operation.get("responses", {}).get("200", {})
    schema = ok.get("schema")
    if schema is None:  # OpenAPI 3
        content = ok.get("content", {})
        media: dict[str, t.Any] = content.get("application/json") or next(
            iter(content.values()), {}
        )
        schema = media.get("schema")
    if isinstance(schema, dict):
        items = schema.get("items", {})
        if "$ref" in items:
            return _ref_name(items["$ref"])
    return None


def entity_names(doc: t.Mapping[str, t.Any]) -> dict[str, str]:
    """Top-level entities: paths ``/<Entity>`` with a GET, mapped to their definition."""
    found: dict[str, str] = {}
    for path, item in doc.get("paths", {}).items():
        segments = path.strip("/").split("/")
        if len(segments) != 1 or not segments[0] or "get" not in item:
            continue
        name = segments[0]
        found[name] = _list_response_ref(item["get"]) or name
    return found


class _ShapeBuilder:
    def __init__(self, definitions: dict[str, t.Any]) -> None:
        self.definitions = definitions

    def properties(self, definition: str) -> dict[str, t.Any]:
        node = self.definitions.get(definition, {})
        merged: dict[str, t.Any] = {}
        for part in node.get("allOf", [node]):
            if "$ref" in part:
                merged.update(self.properties(_ref_name(part["$ref"])))
            merged.update(part.get("properties", {}))
        return merged

    def build(self, definition: str, depth: int = 0, trail: tuple[str, ...] = ()) -> Shape:
        props = self.properties(definition)
        note = props.get("note", {})
        shape = Shape(definition=definition, note_wrapped="$ref" in note)
        for name, prop in props.items():
            if name in SYSTEM_FIELDS:
                continue
            spec = self._field(name, prop, depth, (*trail, definition))
            if spec is not None:
                shape.fields[name] = spec
        return shape

    def _field(
        self, name: str, prop: t.Mapping[str, t.Any], depth: int, trail: tuple[str, ...]
    ) -> FieldSpec | None:
        if "$ref" in prop:
            target = _ref_name(prop["$ref"])
            if target in VALUE_TYPES:
                return FieldSpec(name, "value", value_type=target)
            if depth >= MAX_DEPTH or target in trail:
                return None
            return FieldSpec(name, "linked", shape=self.build(target, depth + 1, trail))
        if prop.get("type") == "array":
            items = prop.get("items", {})
            if "$ref" not in items:
                return None
            target = _ref_name(items["$ref"])
            if depth >= MAX_DEPTH or target in trail:
                return None
            return FieldSpec(name, "detail", shape=self.build(target, depth + 1, trail))
        if prop.get("type") in ("string", "integer", "number", "boolean"):
            schema: dict[str, t.Any] = {"type": [prop["type"], "null"]}
            if prop.get("format") in ("date-time", "uuid"):
                schema["format"] = prop["format"]
            return FieldSpec(name, "plain", plain_schema=schema)
        return None


def parse_entities(
    doc: t.Mapping[str, t.Any], only: t.Collection[str] | None = None
) -> dict[str, EntitySpec]:
    """Every top-level entity of a swagger document (optionally only the named ones)."""
    builder = _ShapeBuilder(_definitions(doc))
    specs: dict[str, EntitySpec] = {}
    for name, definition in sorted(entity_names(doc).items()):
        if only is not None and name not in only:
            continue
        shape = builder.build(definition)
        stamp = next(
            (
                f
                for f in STAMP_FIELDS
                if f in shape.fields and shape.fields[f].value_type == "DateTimeValue"
            ),
            None,
        )
        specs[name] = EntitySpec(name=name, shape=shape, stamp=stamp)
    return specs


# --- JSON schema ---------------------------------------------------------------------------


def _field_schema(spec: FieldSpec) -> dict[str, t.Any]:
    if spec.kind == "value":
        return dict(VALUE_TYPES[spec.value_type or "StringValue"])
    if spec.kind == "plain":
        return dict(spec.plain_schema or {"type": ["string", "null"]})
    assert spec.shape is not None
    inner = shape_schema(spec.shape, top_level=False)
    if spec.kind == "detail":
        return {"type": ["array", "null"], "items": inner}
    inner["type"] = ["object", "null"]
    return inner


def shape_schema(shape: Shape, *, top_level: bool) -> dict[str, t.Any]:
    """JSON schema of unwrapped records of ``shape`` (all fields nullable)."""
    props: dict[str, t.Any] = {
        "id": {"type": ["string"], "format": "uuid"}
        if top_level
        else {"type": ["string", "null"], "format": "uuid"},
        "rowNumber": {"type": ["integer", "null"]},
        "note": {"type": ["string", "null"]},
    }
    for name, spec in shape.fields.items():
        props[name] = _field_schema(spec)
    if top_level:
        props["files"] = {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": ["string", "null"]},
                    "filename": {"type": ["string", "null"]},
                    "href": {"type": ["string", "null"]},
                },
            },
        }
    return {"type": "object", "properties": props}


def custom_property(view: str, field_name: str) -> str:
    return f"{CUSTOM_PREFIX}{view}__{field_name}"


def custom_source(prop: str) -> tuple[str, str] | None:
    """``custom__View__Field`` -> ("View", "Field"); None for other properties."""
    if not prop.startswith(CUSTOM_PREFIX):
        return None
    view, sep, field_name = prop[len(CUSTOM_PREFIX) :].partition("__")
    return (view, field_name) if sep and view and field_name else None


def custom_fields_of(adhoc: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """Properties for the custom fields an ``$adHocSchema`` body describes."""
    found: dict[str, dict[str, t.Any]] = {}
    custom = adhoc.get("custom") if isinstance(adhoc, dict) else None
    for view, fields in (custom or {}).items():
        for field_name, desc in (fields or {}).items():
            kind = desc.get("type") if isinstance(desc, dict) else None
            found[custom_property(view, field_name)] = dict(
                CUSTOM_TYPES.get(str(kind), {"type": ["string", "null"]})
            )
    return found
