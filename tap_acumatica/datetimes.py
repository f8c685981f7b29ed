"""Date-times as Acumatica sends them and as the tap emits them: the one place for both.

Acumatica renders a date-time with the instance's UTC offset (or none, for OData v3) and
1 to 7 fraction digits; its stamps (``LastModifiedDateTime``) have millisecond resolution.
The tap emits every date-time in one fixed UTC format, so a bookmark compared as a string
orders like time, and counts stamps in whole milliseconds since the Unix epoch when it
plans windows.
"""

from __future__ import annotations

import datetime as dt
import re

import pendulum

from tap_acumatica.errors import ConfigError

UTC = dt.timezone.utc
#: The resolution of Acumatica's stamps.
MILLISECOND = dt.timedelta(milliseconds=1)
#: The origin of stamps counted in milliseconds (:func:`stamp_ms`, :func:`from_ms`).
UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
#: Where a first run starts when neither a bookmark nor ``start_date`` is given: earlier
#: than any stamp an ERP holds.
BEFORE_ANY_STAMP = dt.datetime(1900, 1, 1, tzinfo=UTC)

_OFFSET_DT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(text: str) -> dt.datetime:
    """Parse Acumatica's date-times: 1-7 fraction digits, with or without an offset.

    Python 3.10's ``fromisoformat`` only takes 3 or 6 fraction digits, and Acumatica trims
    trailing zeros (``.34``). A value without an offset is taken as UTC.
    """
    if len(text) >= 19 and text[10] == "T":
        # Fast path (every value on Python 3.11+, most on 3.10): fromisoformat keeps the
        # first six fraction digits, exactly as the pattern below does.
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    match = _OFFSET_DT.match(text)
    if not match:
        raise ValueError(f"not an Acumatica date-time: {text!r}")
    day, clock, fraction, offset = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    if offset is None or offset == "Z":
        tz_text = "+00:00"
    else:
        tz_text = offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    return dt.datetime.fromisoformat(f"{day}T{clock}.{micro}{tz_text}")


def format_utc(moment: dt.datetime) -> str:
    """The one fixed format of every date-time the tap emits (string order = time order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def normalize_datetime(text: str | None) -> str | None:
    """An Acumatica date-time in the tap's format; empty is None."""
    if text is None or text == "":
        return None
    return format_utc(parse_datetime(text))


def to_ms(moment: dt.datetime) -> int:
    """Whole milliseconds since :data:`UNIX_EPOCH` (rounded down)."""
    return (moment - UNIX_EPOCH) // MILLISECOND


def from_ms(value: int) -> dt.datetime:
    """The moment ``value`` milliseconds after :data:`UNIX_EPOCH` (inverse of :func:`to_ms`)."""
    return UNIX_EPOCH + dt.timedelta(milliseconds=value)


def stamp_ms(text: str) -> int:
    """An Acumatica date-time as whole epoch milliseconds (a census stamp)."""
    return to_ms(parse_datetime(text))


def truncate_ms(moment: dt.datetime) -> dt.datetime:
    """``moment`` cut to the millisecond, the resolution of Acumatica's stamps."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_start_date(value: str | None) -> pendulum.DateTime | None:
    """Parse ``start_date`` strictly; a naive value is UTC."""
    if not value:
        return None
    try:
        parsed = pendulum.parse(value, tz="UTC")
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise ConfigError(f"Setting 'start_date' is not an ISO 8601 date-time: {value!r}.") from exc
    if not isinstance(parsed, pendulum.DateTime):
        if isinstance(parsed, pendulum.Date):
            return pendulum.datetime(parsed.year, parsed.month, parsed.day, tz="UTC")
        raise ConfigError(f"Setting 'start_date' is not an ISO 8601 date-time: {value!r}.")
    return parsed.in_timezone("UTC")
