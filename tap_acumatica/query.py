"""Query options of one request, in the literal syntax each Acumatica API expects.

* Date-time literals and stamp windows: the contract-based API takes OData v3 conventions
  with ``datetimeoffset'…'`` literals; OData generic inquiries take ``datetime'…'``
  (legacy v3 endpoint) or bare ISO literals (v4), as does DAC-based OData. Every literal
  carries an explicit UTC offset (or is UTC by the v3 convention): a literal without one
  is read in the instance's time zone, which is how other connectors drift by hours.
* OData literals of values: inquiry parameters, and the keyset comparisons DAC pages
  continue with (:func:`keyset_after`).
* :func:`paging_params`: ``$filter``/``$top``/``$skip`` of one request.
"""

from __future__ import annotations

import datetime as dt
import decimal
import typing as t

from tap_acumatica.datetimes import UTC
from tap_acumatica.schemas import has_type


def _iso_ms(moment: dt.datetime) -> str:
    """UTC, millisecond precision: Acumatica stores stamps to the millisecond."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def datetime_literal(moment: dt.datetime, dialect: str = "rest") -> str:
    """A date-time literal for ``dialect`` "rest", "odata3" or "odata4"."""
    if dialect == "rest":
        return f"datetimeoffset'{_iso_ms(moment)}+00:00'"
    if dialect == "odata3":
        return f"datetime'{_iso_ms(moment)}'"
    if dialect == "odata4":
        return f"{_iso_ms(moment)}Z"
    raise ValueError(f"unknown $filter dialect {dialect!r}")


def window_filter(
    field: str, start: dt.datetime | None, end: dt.datetime, dialect: str = "rest"
) -> str:
    """``field`` in the window ``(start, end]`` (no lower bound when ``start`` is None)."""
    upper = f"{field} le {datetime_literal(end, dialect)}"
    if start is None:
        return upper
    return f"{field} gt {datetime_literal(start, dialect)} and {upper}"


def paging_params(filter_expr: str | None, top: int | None, skip: int) -> dict[str, t.Any]:
    """``$filter``/``$top``/``$skip`` of one request (only those that apply)."""
    params: dict[str, t.Any] = {}
    if filter_expr:
        params["$filter"] = filter_expr
    if top is not None:
        params["$top"] = top
    if skip:
        params["$skip"] = skip
    return params


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
