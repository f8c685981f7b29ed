"""The contract-based REST API's metadata: swagger.json -> entities -> JSON schema.

Acumatica wraps every field as ``{"value": x}`` (``{}`` when empty), nests detail
collections and linked entities, and renders date-times with the instance's UTC offset.
This module turns the endpoint's swagger (Swagger 2.0 up to 23.200.001, OpenAPI 3 from
24.200.001) into :class:`EntitySpec` objects and their JSON schemas, and reads custom fields from
``$adHocSchema``. The record transform compiled from a schema is in
:mod:`tap_acumatica.rest.records`; contract v5 drop-downs (26.200.001) in
:mod:`tap_acumatica.rest.selects`.

The released 26.200.001 contract declares linked entities and wrapped values as
``{"anyOf": [{"$ref": X}], "nullable": true}`` and marks wrappers, objects and arrays
``nullable``: read exactly as a plain ``$ref``. A property the reader cannot type (an
unknown wrapper, a ``$ref`` to a definition the document lacks, another shape) is kept as a
permissive property (any JSON; its value unwrapped when it is ``{"value": …}``) and listed
in :attr:`EntitySpec.untyped`, which discovery logs: never dropped silently.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

from tap_acumatica.rest import selects

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
    # 25.200.001 on (used from 26.200.001): {"value": "2026-03-20"}, kept as sent.
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
SYSTEM_FIELDS = (
    "id",
    "rowNumber",
    "note",
    "custom",
    "files",
    "error",
    "_links",
    "_workflowActions",
)
#: The system fields a record keeps as properties of its own: ``custom`` becomes flat
#: ``custom__<View>__<Field>`` properties; ``error``, ``_links`` (URLs of the record, 25.200.001
#: on) and ``_workflowActions`` (the actions a PUT may invoke, 25.200.001 on) are not data
#: and are dropped. ``note`` is wrapped like a field in most endpoint versions but a bare
#: string in 17.200.001; the others are never wrapped.
SYSTEM_PROPERTIES = frozenset(SYSTEM_FIELDS) - {"custom", "error", "_links", "_workflowActions"}
#: The schema of a property the reader cannot type: any JSON value.
PERMISSIVE: dict[str, t.Any] = {}
MAX_DEPTH = 4  # nested detail/linked levels kept in schemas (Details/Allocations is 2)


@dataclass
class FieldSpec:
    """One property of an entity: a wrapped value, a detail collection or a linked entity."""

    name: str
    kind: str  # "value" | "select" | "detail" | "linked" | "plain" | "untyped"
    value_type: str | None = None  # e.g. "DecimalValue" for kind "value" or "select"
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
    #: Properties the reader could not type: (path like ``Details/Foo``, why).
    untyped: list[tuple[str, str]] = field(default_factory=list)

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


def plain_ref(prop: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """``{"anyOf": [{"$ref": X}], "nullable": true}`` (the released 26.200.001) as
    ``{"$ref": X}``; any other property as it is."""
    for key in ("anyOf", "oneOf", "allOf"):
        options = prop.get(key)
        if isinstance(options, list) and len(options) == 1:
            only = options[0]
            if isinstance(only, dict) and "$ref" in only:
                return {"$ref": only["$ref"]}
    return prop


class _ShapeBuilder:
    def __init__(self, definitions: dict[str, t.Any]) -> None:
        self.definitions = definitions
        #: (path, why) of the properties not typed while building one entity.
        self.untyped: list[tuple[str, str]] = []

    def _is_wrapper(self, definition: str) -> bool:
        node = self.definitions.get(definition, {})
        return "allOf" not in node and "value" in node.get("properties", {})

    def _untyped(self, trail: tuple[str, ...], name: str, why: str) -> FieldSpec:
        # The top-level entity's own property, or "<definition>.<property>" deeper down.
        path = f"{trail[-1]}.{name}" if len(trail) > 1 else name
        self.untyped.append((path, why))
        return FieldSpec(name, "untyped", plain_schema=dict(PERMISSIVE))

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
        note = plain_ref(props.get("note", {}))
        shape = Shape(definition=definition, note_wrapped="$ref" in note)
        crumbs = (*trail, definition)
        for name, prop in props.items():
            if name in SYSTEM_FIELDS:
                continue
            spec = self._field(name, prop, depth, crumbs)
            if spec is not None:
                shape.fields[name] = spec
        return shape

    def _field(
        self, name: str, prop: t.Mapping[str, t.Any], depth: int, trail: tuple[str, ...]
    ) -> FieldSpec | None:
        """The field of one property. None only for the nesting limits (a detail or linked
        entity deeper than MAX_DEPTH, or one that contains itself): those are left out by
        design; anything the reader cannot type is kept untyped and reported."""
        prop = plain_ref(prop)
        if "$ref" in prop:
            target = _ref_name(prop["$ref"])
            if target in VALUE_TYPES:
                return FieldSpec(name, "value", value_type=target)
            if target in selects.SELECT_VALUE_TYPES:
                return FieldSpec(name, "select", value_type=target)
            if target not in self.definitions:
                return self._untyped(trail, name, f"its $ref {target} is not in the document")
            if self._is_wrapper(target):
                return self._untyped(trail, name, f"unknown value type {target}")
            if depth >= MAX_DEPTH or target in trail:
                return None
            return FieldSpec(name, "linked", shape=self.build(target, depth + 1, trail))
        if prop.get("type") == "array":
            items = plain_ref(prop.get("items", {}))
            if "$ref" not in items:
                return self._untyped(trail, name, "an array whose items are not an entity")
            target = _ref_name(items["$ref"])
            if target not in self.definitions:
                return self._untyped(
                    trail, name, f"its items' $ref {target} is not in the document"
                )
            if depth >= MAX_DEPTH or target in trail:
                return None
            return FieldSpec(name, "detail", shape=self.build(target, depth + 1, trail))
        if prop.get("type") in ("string", "integer", "number", "boolean"):
            schema: dict[str, t.Any] = {"type": [prop["type"], "null"]}
            if prop.get("format") in ("date-time", "date", "uuid"):
                schema["format"] = prop["format"]
            return FieldSpec(name, "plain", plain_schema=schema)
        shape = json.dumps(prop, sort_keys=True)
        return self._untyped(trail, name, f"unexpected declaration {shape[:120]}")


def parse_entities(
    doc: t.Mapping[str, t.Any], only: t.Collection[str] | None = None
) -> dict[str, EntitySpec]:
    """Every top-level entity of a swagger document (optionally only the named ones)."""
    builder = _ShapeBuilder(_definitions(doc))
    specs: dict[str, EntitySpec] = {}
    for name, definition in sorted(entity_names(doc).items()):
        if only is not None and name not in only:
            continue
        builder.untyped = []
        shape = builder.build(definition)
        stamp = next(
            (
                f
                for f in STAMP_FIELDS
                if f in shape.fields and shape.fields[f].value_type == "DateTimeValue"
            ),
            None,
        )
        specs[name] = EntitySpec(name=name, shape=shape, stamp=stamp, untyped=builder.untyped)
    return specs


# --- JSON schema ---------------------------------------------------------------------------


def _field_schema(spec: FieldSpec) -> dict[str, t.Any]:
    if spec.kind == "value":
        return dict(VALUE_TYPES[spec.value_type or "StringValue"])
    if spec.kind == "untyped":
        return dict(PERMISSIVE)
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
        if spec.kind == "select":
            props[name], props[selects.id_property(name)] = selects.schemas(str(spec.value_type))
            continue
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
    """Properties for the custom fields an ``$adHocSchema`` body describes (a drop-down
    gives two: ``custom__View__Field`` and ``custom__View__Field__id``)."""
    found: dict[str, dict[str, t.Any]] = {}
    custom = adhoc.get("custom") if isinstance(adhoc, dict) else None
    for view, fields in (custom or {}).items():
        for field_name, desc in (fields or {}).items():
            kind = str(desc.get("type") if isinstance(desc, dict) else None)
            prop = custom_property(view, field_name)
            if kind in selects.CUSTOM_SELECT_TYPES:
                found[prop], found[selects.id_property(prop)] = selects.schemas(
                    selects.CUSTOM_SELECT_TYPES[kind]
                )
                continue
            found[prop] = dict(CUSTOM_TYPES.get(kind, {"type": ["string", "null"]}))
    return found
