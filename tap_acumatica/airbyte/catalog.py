"""Singer catalog <-> Airbyte catalog: what ``discover`` shows and what ``read`` runs.

``discover`` turns each entry of the Singer tap's own catalog into an ``AirbyteStream``:

- ``json_schema``: the entry's schema;
- ``supported_sync_modes``: ``full_refresh``, and ``incremental`` where the entry lists a
  ``valid-replication-keys`` (and does not force FULL_TABLE);
- ``source_defined_cursor``: true when the stream can be read incrementally by one key
  only, the one discovery names (an entity's or a DAC's modification stamp); a generic
  inquiry's date-time columns are the user's to choose, as in Singer;
- ``default_cursor_field``: the key discovery names (the stamp, or the inquiry's key from
  ``inquiry_replication_keys``); ``source_defined_primary_key``: the entry's key properties.

Airbyte reads what a stream's schema holds (its field selection only removes top-level
properties), so the schema keeps one level of nesting: a detail collection or a linked
entity (``Details``, ``MainContact``) with its own fields, without the collections and
entities nested in it (``Details/Allocations``, ``MainContact/Address``,
``MainContact/Activities``...). Every entity links to others: with every level, a Customer
would be read with 70 expansions, past the length a URL may have. The Singer tap reads the
deeper levels when its catalog selects them.

What a Singer entry holds and an ``AirbyteStream`` has no field for (a DAC's entity set,
the valid replication keys, any other root metadata) travels in the schema under
:data:`ANNOTATION`, an annotation keyword JSON Schema validators ignore. Airbyte keeps a
stream's schema as it was discovered (field selection only drops ``properties``), so
``read`` rebuilds the Singer entry from the configured catalog alone, without downloading
swagger.json or ``$metadata`` again: the Singer tap's own rule for scheduled runs.

``read`` turns the configured catalog into a Singer catalog the tap runs unchanged: the
configured streams selected, with every property left in their schema (Airbyte's field
selection) selected at every depth, so detail lines and linked entities the schema holds
are expanded; ``full_refresh`` -> FULL_TABLE; ``incremental`` -> INCREMENTAL by
``cursor_field`` (else the default cursor). A cursor the stream cannot be read by is
refused by the tap with the same message a Singer catalog gets. ``incremental`` on a
stream with no cursor at all (PyAirbyte asks every stream for it) reads the full table,
with a warning.
"""

from __future__ import annotations

import dataclasses
import typing as t

from airbyte_protocol.models import ConfiguredAirbyteCatalog, SyncMode
from pydantic import ValidationError
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL

from tap_acumatica.errors import ConfigError

#: The schema keyword that carries the rest of the Singer entry (see the module docstring).
ANNOTATION = "x-singer"
#: Root metadata ``read`` writes itself (selection, method, key, primary key).
_REBUILT = (
    "selected",
    "selected-by-default",
    "inclusion",
    "replication-method",
    "replication-key",
    "table-key-properties",
)


def _root_metadata(entry: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    for item in entry.get("metadata") or ():
        if item.get("breadcrumb") == []:
            return dict(item.get("metadata") or {})
    return {}


def _is_nested(prop: t.Any) -> bool:
    """An object with fields, or a list of them (a linked entity, a detail collection)."""
    if not isinstance(prop, dict):
        return False
    items = prop.get("items")
    return isinstance(prop.get("properties"), dict) or (
        isinstance(items, dict) and isinstance(items.get("properties"), dict)
    )


def _one_level(prop: dict[str, t.Any]) -> dict[str, t.Any]:
    """A top-level property without the objects and lists of objects nested in it."""
    if isinstance(prop.get("properties"), dict):
        fields = {n: p for n, p in prop["properties"].items() if not _is_nested(p)}
        return {**prop, "properties": fields}
    items = prop.get("items")
    if isinstance(items, dict) and isinstance(items.get("properties"), dict):
        return {**prop, "items": _one_level(items)}
    return prop


def airbyte_stream(entry: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The ``AirbyteStream`` (as a dict) of one Singer catalog entry."""
    root = _root_metadata(entry)
    valid = list(root.get("valid-replication-keys") or [])
    key = entry.get("replication_key") or root.get("replication-key")
    incremental = bool(valid) and root.get("forced-replication-method") != REPLICATION_FULL_TABLE
    annotation: dict[str, t.Any] = {
        "metadata": {k: v for k, v in root.items() if k not in _REBUILT and v is not None}
    }
    if entry.get("table_name"):
        annotation["table_name"] = entry["table_name"]
    schema = dict(entry["schema"])  # copies: DAC streams share their property dicts
    properties = schema.get("properties") or {}
    if any(_is_nested(p) for p in properties.values()):
        schema["properties"] = {
            n: _one_level(p) if _is_nested(p) else p for n, p in properties.items()
        }
    schema[ANNOTATION] = annotation
    stream: dict[str, t.Any] = {
        "name": entry["tap_stream_id"],
        "json_schema": schema,
        "supported_sync_modes": ["full_refresh", *(["incremental"] if incremental else [])],
        "source_defined_cursor": bool(incremental and key and valid == [key]),
    }
    if incremental and key:
        stream["default_cursor_field"] = [key]
    keys = entry.get("key_properties") or root.get("table-key-properties") or []
    if keys:
        stream["source_defined_primary_key"] = [[k] for k in keys]
    return stream


@dataclasses.dataclass
class ReadPlan:
    """What ``read`` hands the Singer tap."""

    #: The Singer catalog (configured streams only, selected).
    catalog: dict[str, t.Any]
    #: The configured streams, in the catalog's order.
    streams: list[str]
    #: Streams read as full tables: a state given for them is not used.
    full_table: set[str]
    #: Warnings for the log (an incremental request read as a full table).
    notes: list[str]


def _one_field(path: t.Sequence[str] | None, what: str, stream: str) -> str | None:
    if not path:
        return None
    if len(path) != 1:
        raise ConfigError(
            f"The catalog's {what} for stream {stream!r} is {list(path)}: tap-acumatica reads "
            "by a top-level field only."
        )
    return str(path[0])


def _breadcrumbs(
    schema: t.Mapping[str, t.Any], prefix: tuple[str, ...] = ()
) -> t.Iterator[tuple[str, ...]]:
    """Every property of ``schema`` at every depth, as Singer breadcrumbs."""
    for name, prop in (schema.get("properties") or {}).items():
        crumb = (*prefix, "properties", name)
        yield crumb
        if not isinstance(prop, dict):
            continue
        if isinstance(prop.get("properties"), dict):
            yield from _breadcrumbs(prop, crumb)
        items = prop.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            yield from _breadcrumbs(items, (*crumb, "items"))


def parse_configured(raw: t.Any, path: str) -> ConfiguredAirbyteCatalog:
    """The configured catalog in a ``--catalog`` file, or one clear ConfigError."""
    try:
        return ConfiguredAirbyteCatalog.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "top level"
        raise ConfigError(
            f"The catalog file {path} is not an Airbyte configured catalog "
            f"({error.get('msg', 'invalid')} at {where}); configure the streams of the "
            "catalog `source-acumatica discover` writes."
        ) from None


def read_plan(configured: ConfiguredAirbyteCatalog) -> ReadPlan:
    """The Singer catalog of a configured catalog (see the module docstring)."""
    entries: list[dict[str, t.Any]] = []
    names: list[str] = []
    full_table: set[str] = set()
    notes: list[str] = []
    for configured_stream in configured.streams:
        stream = configured_stream.stream
        name = stream.name
        schema = dict(stream.json_schema)
        annotation = schema.pop(ANNOTATION, None)
        if not isinstance(annotation, dict):
            annotation = {}
        root = dict(annotation.get("metadata") or {})
        keys = [
            _one_field(path, "primary key", name) or ""
            for path in stream.source_defined_primary_key or []
        ]
        if stream.default_cursor_field and "valid-replication-keys" not in root:
            root["valid-replication-keys"] = list(stream.default_cursor_field)
        method, key = REPLICATION_FULL_TABLE, None
        if configured_stream.sync_mode == SyncMode.incremental:
            key = _one_field(configured_stream.cursor_field, "cursor_field", name) or _one_field(
                stream.default_cursor_field, "default_cursor_field", name
            )
            if key is None:
                notes.append(
                    f"Stream {name!r}: incremental sync asked for, but the stream has no "
                    "cursor (choose a cursor_field where the stream offers one); reading "
                    "it as a full table."
                )
            else:
                method = REPLICATION_INCREMENTAL
        if method == REPLICATION_FULL_TABLE:
            full_table.add(name)
        root.update({"selected": True, "table-key-properties": keys, "replication-method": method})
        if key is not None:
            root["replication-key"] = key
        entry: dict[str, t.Any] = {
            "tap_stream_id": name,
            "stream": name,
            "schema": schema,
            "key_properties": keys,
            "replication_method": method,
            "metadata": [
                {"breadcrumb": [], "metadata": root},
                *(
                    {"breadcrumb": list(crumb), "metadata": {"selected": True}}
                    for crumb in _breadcrumbs(schema)
                ),
            ],
        }
        if key is not None:
            entry["replication_key"] = key
        if annotation.get("table_name"):
            entry["table_name"] = annotation["table_name"]
        entries.append(entry)
        names.append(name)
    return ReadPlan({"streams": entries}, names, full_table, notes)
