"""``$filter`` expressions, in the literal syntax each Acumatica API expects.

The contract-based API takes OData v3 conventions with ``datetimeoffset'…'`` literals;
OData generic inquiries take ``datetime'…'`` (legacy v3 endpoint) or bare ISO literals
(v4). Every literal carries an explicit UTC offset (or is UTC by the v3 convention): a
literal without one is read in the instance's time zone, which is how other connectors
drift by hours. :func:`paging_params` adds ``$top``/``$skip`` for one request.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_acumatica.datetimes import UTC


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
