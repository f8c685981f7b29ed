"""Deterministic field values, pre-rendered.

Speed matters (the tap is benchmarked against the simulator), so each field gets a small
*pool* of candidate values, each stored both typed (for ``$filter``) and as its finished JSON
fragment; a row picks pool entries with bits of its own hash, so rendering a record is mostly
a ``join`` of ready strings.  Values are chosen to catch client bugs: 18-digit decimals that a
float cannot hold, longs above 2**53, strings with quotes/backslashes/non-ASCII, empty ``{}``
fields, and date-times of one instant written with different UTC offsets.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
POOL = 64
MASK64 = (1 << 64) - 1

WORDS = (
    "National Power",
    "Acme Supplies",
    "Café Müller",
    'The "Quoted" Co',
    "Back\\Slash Ltd",
    "Zürich Trading",
    "東京 Imports",
    "O'Brien & Sons",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Wide World",
    "Adventure Works",
    "Litware",
    "Proseware",
    "Blue Yonder",
    "Inverter Blower",
    "Battery Replacement",
    "Line\nBreak Inc",
    "Tab\tSeparated",
    "Ωmega",
)
BIG_DECIMALS = (
    Decimal("12345678901234.5678"),
    Decimal("123456789012.3456"),
    Decimal("-98765432109876.5432"),
    Decimal("0.0001"),
)


def stable_hash(*parts: object) -> int:
    """64-bit hash independent of PYTHONHASHSEED (runs must be reproducible)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def mix(x: int) -> int:
    """splitmix64 finaliser: cheap, good enough to decorrelate consecutive rows."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def row_bits(base: int, row: int, version: int) -> int:
    """256 bits of per-(row, version) randomness; field i uses bits at 6*i."""
    h = mix(base ^ (row * 0x9E3779B97F4A7C15 & MASK64) ^ (version * 0xD1B54A32D192ED03 & MASK64))
    return h | mix(h) << 64 | mix(h ^ 1) << 128 | mix(h ^ 2) << 192


def make_uuid(*parts: object) -> str:
    return str(
        uuid.UUID(
            bytes=hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest(),
            version=4,
        )
    )


def ms_to_datetime(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(value: datetime) -> int:
    return (value - EPOCH) // timedelta(milliseconds=1)


_DAY_TEXT: dict[int, str] = {}


def format_datetime(ms: int, offset_minutes: int) -> str:
    """Acumatica style: ``2020-03-20T17:41:27.34+00:00`` (fraction's trailing zeros trimmed).

    Hot path (two per record), hence integer arithmetic and a cache of day strings.
    """
    local_ms = ms + offset_minutes * 60000
    days, rem = divmod(local_ms, 86_400_000)
    day = _DAY_TEXT.get(days)
    if day is None:
        day = _DAY_TEXT[days] = (EPOCH + timedelta(days=days)).strftime("%Y-%m-%d")
    secs, frac = divmod(rem, 1000)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    text = f"{day}T{hours:02d}:{minutes:02d}:{secs:02d}"
    if frac:
        text += f".{frac:03d}".rstrip("0")
    oh, om = divmod(abs(offset_minutes), 60)
    return f"{text}{'+' if offset_minutes >= 0 else '-'}{oh:02d}:{om:02d}"


def format_utc_padded(ms: int, digits: int) -> str:
    """UTC with ``+00:00`` and at least ``digits`` (0-7) fraction digits, the instant kept:
    trailing zeros are trimmed to ``digits`` but never past a significant one
    (``…58.983+00:00``, ``…58.9830000+00:00``, ``…00+00:00``)."""
    text = format_datetime(ms, 0)[:-6]
    whole, _, frac = text.partition(".")
    frac = frac.ljust(digits, "0")
    return f"{whole}.{frac}+00:00" if frac else f"{whole}+00:00"


def format_decimal(value: Decimal, four_places: bool) -> str:
    """JSON number text: ``7000.0000`` (most fields, as on the wire) or ``7000.0``/``12.3456``."""
    if four_places:
        return f"{value:.4f}"
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def legacy_date_string(ms: int) -> str:
    """SalesOrderDetail.LastModifiedDate is a StringValue like ``12/14/2023 19:57:08``."""
    return ms_to_datetime(ms).strftime("%m/%d/%Y %H:%M:%S")


def wrap(name: str, rendered_value: str | None) -> str:
    """``"Name":{"value":x}`` or ``"Name":{}`` for a field without a value."""
    key = json.dumps(name)
    if rendered_value is None:
        return f"{key}:{{}}"
    return f'{key}:{{"value":{rendered_value}}}'


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def pool_for(
    value_type: str,
    field_name: str,
    salt: object,
    offsets: list[int],
    lo_ms: int,
    hi_ms: int,
    *,
    modern: bool = False,
) -> list[tuple[object, str | None]]:
    """POOL (typed value, rendered JSON value or None) pairs for one field.

    The values drawn do not depend on the version (one database serves every endpoint);
    ``modern`` (25.200.001 on) only changes how they are written: decimals always with 4
    places and date-times in UTC with 0 to 7 fraction digits, as recorded from 25.200.001.
    """
    rng = random.Random(stable_hash("pool", salt, field_name))
    empty = rng.choice((0.0, 0.0, 0.1, 0.3, 1.0))
    four_places = rng.random() < 0.8 or modern
    out: list[tuple[object, str | None]] = []
    for i in range(POOL):
        if rng.random() < empty:
            out.append((None, None))
            continue
        value: object
        if value_type == "DecimalValue":
            r = rng.random()
            if r < 0.1:
                value = BIG_DECIMALS[i % len(BIG_DECIMALS)]
            elif r < 0.3:
                value = Decimal(rng.choice((0, 1, 7000, 100, 30)))
            else:
                value = Decimal(rng.randint(-(10**8), 10**9)) / 10000
            out.append((value, format_decimal(value, four_places)))
            continue
        if value_type in ("DateTimeValue", "DateOnlyValue"):
            ms = rng.randint(lo_ms, hi_ms)
            if "Time" not in field_name:
                ms -= ms % 86_400_000
            if value_type == "DateOnlyValue":  # contract v5: {"value": "2026-03-20"}
                text = ms_to_datetime(ms).date().isoformat()
            elif modern:
                text = format_utc_padded(ms, i % 8)
            else:
                text = format_datetime(ms, offsets[i % len(offsets)])
            out.append((ms_to_datetime(ms), dumps(text)))
            continue
        if value_type == "BooleanValue":
            value = rng.random() < 0.5
        elif value_type == "IntValue":
            value = rng.choice((0, 1, -1, 2147483647, rng.randint(-(10**6), 10**6)))
        elif value_type == "ShortValue":
            value = rng.choice((0, 1, -32768, 32767, rng.randint(0, 500)))
        elif value_type == "LongValue":
            value = rng.choice((0, 9007199254740993, -9223372036854775808, rng.randint(0, 10**12)))
        elif value_type == "ByteValue":
            value = rng.choice((0, 1, 255, rng.randint(0, 255)))
        elif value_type == "DoubleValue":
            value = rng.choice((0.0, 0.1, 1e-7, 123.456, 1.5e300, rng.uniform(-1e6, 1e6)))
        elif value_type == "GuidValue":
            value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        else:  # StringValue and unknown future string-like types
            value = _string(rng, field_name, i)
        out.append((value, dumps(value)))
    return out


def _string(rng: random.Random, field_name: str, i: int) -> str:
    lowered = field_name.lower()
    if lowered.endswith(("id", "class", "code", "type", "uom")):
        return rng.choice(("DEFAULT", "USD", "EA", "TRUCK", "NET30", "MAIN", "01", "SO", "")) + (
            str(i % 5) if i % 3 == 0 else ""
        )
    if "status" in lowered:
        return rng.choice(("Active", "On Hold", "Completed", "Open", "Inactive"))
    if "email" in lowered:
        return f"user{i}@example.com"
    if "phone" in lowered:
        return f"+1 (555) 01{i:02d}"
    return f"{rng.choice(WORDS)} {i}" if i % 4 else rng.choice(WORDS)
