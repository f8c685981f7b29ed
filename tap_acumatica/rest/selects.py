"""Contract v5 drop-downs (select values) as plain columns.

26.200.001 (contract v5) sends a drop-down as an object: ``StringSingleSelectValue`` and
``IntSingleSelectValue`` are ``{"value": {"id": "A", "description": "Active"}}``,
``StringMultiSelectValue`` is ``{"value": [{"id": …, "description": …}, …]}``; custom
fields have the same three kinds (``CustomStringSingleSelectField``, …). Up to 25.200.001
every one of these fields was a ``StringValue`` holding the label (``"Status": "Active"``).

Rule, the same at every level (top level, detail lines, linked entities, custom fields):

* ``X`` is the **description** (the label): a string, as the column always was, so a
  connection moved from 24.200.001 to 26.200.001 keeps its column, type and meaning; null
  when the ERP sends no description;
* ``X__id`` is the **id**: a string, or an integer for ``Int*Select`` types;
* a multi-select gives arrays of both (``X``: labels, ``X__id``: ids).

The pair is recognised in a JSON schema by its names (``X`` beside ``X__id``), so streams
rebuilt from a catalog read it without the swagger. When a catalog deselects one of the
two, the other still comes from the same raw field: :func:`mark_label` notes it in the
(internal, never emitted) selected schema the record transform is compiled from.
"""

from __future__ import annotations

import typing as t

#: Suffix of the id column of a drop-down ``X``: ``X__id`` (double underscore, as custom
#: fields' ``custom__View__Field``: Acumatica's field names never hold one).
ID_SUFFIX = "__id"
#: Internal key of a selected schema's property: "this is a drop-down's label even though
#: its ``__id`` column was deselected". Never in a schema the tap emits.
LABEL_MARK = "x-tap-acumatica-select-label"

#: Value types (``{"value": …}`` wrappers) of drop-downs: type of the id, multi-select.
SELECT_VALUE_TYPES: dict[str, tuple[str, bool]] = {
    "StringSingleSelectValue": ("string", False),
    "IntSingleSelectValue": ("integer", False),
    "StringMultiSelectValue": ("string", True),
}
#: Custom-field types of drop-downs (``$adHocSchema``'s ``type``), as their value types.
CUSTOM_SELECT_TYPES = {
    "CustomStringSingleSelectField": "StringSingleSelectValue",
    "CustomIntSingleSelectField": "IntSingleSelectValue",
    "CustomStringMultiSelectField": "StringMultiSelectValue",
}


def id_property(name: str) -> str:
    return name + ID_SUFFIX


def label_of_id(name: str) -> str | None:
    """``X__id`` -> ``X``; None for any other name."""
    if name.endswith(ID_SUFFIX) and len(name) > len(ID_SUFFIX):
        return name[: -len(ID_SUFFIX)]
    return None


def schemas(value_type: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """JSON schemas of ``X`` (labels) and ``X__id`` (ids) for a drop-down value type."""
    id_type, multi = SELECT_VALUE_TYPES[value_type]
    if multi:
        return (
            {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
            {"type": ["array", "null"], "items": {"type": [id_type, "null"]}},
        )
    return {"type": ["string", "null"]}, {"type": [id_type, "null"]}


def is_label(name: str, prop: t.Mapping[str, t.Any], props: t.Mapping[str, t.Any]) -> bool:
    """Whether property ``name`` of a schema is a drop-down's label column."""
    return id_property(name) in props or bool(prop.get(LABEL_MARK))


def mark_label(prop: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {**prop, LABEL_MARK: True}


# --- values (the inner value of ``{"value": …}``) ---------------------------------------


def label(inner: t.Any) -> t.Any:
    """The description(s) of a drop-down value; a bare string (a v4 label) as it is."""
    if isinstance(inner, dict):
        description = inner.get("description")
        return (
            description if description is None or isinstance(description, str) else str(description)
        )
    if isinstance(inner, list):
        return [label(item) for item in inner]
    return inner


def _string_id(inner: t.Any) -> t.Any:
    if isinstance(inner, dict):
        ident = inner.get("id")
        return ident if ident is None else str(ident)
    if isinstance(inner, list):
        return [_string_id(item) for item in inner]
    return None


def _int_id(inner: t.Any) -> t.Any:
    if isinstance(inner, dict):
        ident = inner.get("id")
        if isinstance(ident, str):
            try:
                return int(ident)
            except ValueError:
                return None  # not an integer: the schema says integer, never a string
        return ident if isinstance(ident, int) and not isinstance(ident, bool) else None
    if isinstance(inner, list):
        return [_int_id(item) for item in inner]
    return None


def id_reader(prop: t.Mapping[str, t.Any]) -> t.Callable[[t.Any], t.Any]:
    """The id(s) of a drop-down value, typed as the ``X__id`` property says."""
    types = prop.get("items", {}).get("type") if "items" in prop else prop.get("type")
    kinds = [types] if isinstance(types, str) else list(types or [])
    return _int_id if "integer" in kinds else _string_id
