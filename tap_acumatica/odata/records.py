"""OData values: literals, value converters and the record transform (GI and DAC).

Values: Edm.Decimal stays exact (``Decimal``, whether it arrives as a JSON number or as a
string as v3 writes it), Edm.Int64 strings become integers, Edm.DateTime/DateTimeOffset
become the tap's fixed UTC format (a v3 Edm.DateTime has no offset and is read as UTC),
strings are passed on exactly as sent (CHAR key columns keep their space padding, because
that is the value Acumatica filters and joins on).
"""

from __future__ import annotations

import decimal
import typing as t

from tap_acumatica.datetimes import normalize_datetime
from tap_acumatica.errors import AcumaticaResponseError
from tap_acumatica.schemas import has_type, schema_types

Record = dict[str, t.Any]

# --- literals --------------------------------------------------------------------------------


def odata_literal(value: t.Any) -> str:
    """A parameter value as an OData literal (strings quoted, quotes doubled)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def v4_literal(value: t.Any, kind: str) -> str:
    """A record value as an OData v4 literal for a key or stamp comparison (DAC keysets)."""
    if value is None:
        return "null"
    if kind == "string":
        return "'" + str(value).replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # numbers, Guid, date-times (fixed-width UTC with offset)


def literal_kind(prop: t.Mapping[str, t.Any]) -> str:
    """How :func:`v4_literal` writes a value of this property schema."""
    if prop.get("format") == "date-time":
        return "date-time"
    if prop.get("format") == "uuid":
        return "guid"
    return "string" if has_type(prop, "string") else "other"


def keyset_after(order: list[tuple[str, str]], last: t.Mapping[str, t.Any]) -> str:
    """``(a gt A) or (a eq A and ((b gt B) or (b eq B and c gt C)))`` for order (a, b, c)."""
    expr = ""
    for name, kind in reversed(order):
        literal = v4_literal(last.get(name), kind)
        strictly = f"{name} gt {literal}"
        expr = strictly if not expr else f"{strictly} or ({name} eq {literal} and ({expr}))"
    return f"({expr})"


# --- records ---------------------------------------------------------------------------------


def _kind(prop: t.Mapping[str, t.Any]) -> str:
    kinds = schema_types(prop)
    if prop.get("format") == "date-time":
        return "date-time"
    for kind in ("integer", "number", "boolean", "string"):
        if kind in kinds:
            return kind
    return "any"


def _to_int(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return int(value)
    if isinstance(value, decimal.Decimal | float):
        return int(value)
    return value


def _to_number(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    return value


def _to_bool(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value


def _to_datetime(value: t.Any) -> t.Any:
    return normalize_datetime(value) if isinstance(value, str) else None


def _to_string(value: t.Any) -> t.Any:
    return value if value is None or isinstance(value, str) else str(value)


def _same(value: t.Any) -> t.Any:
    return value


_CONVERTERS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "integer": _to_int,
    "number": _to_number,
    "boolean": _to_bool,
    "date-time": _to_datetime,
    "string": _to_string,
    "any": _same,
}


def compile_record(schema: t.Mapping[str, t.Any]) -> t.Callable[[dict[str, t.Any]], Record]:
    """Raw OData row -> record of ``schema`` (columns not in the schema are dropped).

    Driven by the JSON schema only, so streams rebuilt from a catalog need no $metadata.
    """
    plan = {name: _CONVERTERS[_kind(prop)] for name, prop in schema.get("properties", {}).items()}

    def transform(raw: dict[str, t.Any]) -> Record:
        out: Record = {}
        for key, value in raw.items():
            convert = plan.get(key)
            if convert is not None:
                out[key] = None if value is None else convert(value)
        return out

    return transform


def rows_of(body: t.Any) -> tuple[list[dict[str, t.Any]], str | None]:
    """Rows and next link of a v3 or v4 JSON body (``value``; verbose v3 ``d.results``)."""
    if isinstance(body, dict):
        if "value" in body and isinstance(body["value"], list):
            link = body.get("@odata.nextLink") or body.get("odata.nextLink")
            return [r for r in body["value"] if isinstance(r, dict)], link
        inner = body.get("d")
        if isinstance(inner, dict) and isinstance(inner.get("results"), list):
            return [r for r in inner["results"] if isinstance(r, dict)], inner.get("__next")
        if isinstance(inner, list):
            return [r for r in inner if isinstance(r, dict)], None
    raise AcumaticaResponseError(
        f"expected an OData JSON body with a 'value' array, got {type(body).__name__}"
        + (f" with keys {sorted(body)[:6]}" if isinstance(body, dict) else "")
        + "."
    )
