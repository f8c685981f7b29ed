"""Contract-based REST streams: from the endpoint's swagger.json, or from the input catalog.

A sync with ``--catalog`` rebuilds the streams from the catalog, so a scheduled run never
downloads a multi-megabyte swagger again.
"""

from __future__ import annotations

import typing as t

from tap_acumatica.errors import ConfigError
from tap_acumatica.rest import selects
from tap_acumatica.rest.metadata import (
    custom_fields_of,
    custom_property,
    custom_source,
    parse_entities,
)
from tap_acumatica.rest.service import RestService
from tap_acumatica.rest.stream import EntityStream

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.streams import Stream

    from tap_acumatica.run import RunContext


def discover(tap: Tap, run: RunContext) -> list[Stream]:
    """Entity streams: from the input catalog if any (no swagger), else from swagger.json."""
    service = RestService(run)
    if tap.input_catalog is not None:
        return _streams_from_catalog(tap, run, service)
    return _streams_from_swagger(tap, run, service)


def _streams_from_catalog(tap: Tap, run: RunContext, service: RestService) -> list[Stream]:
    """Rebuild streams from the catalog: no swagger download on a scheduled sync."""
    assert tap.input_catalog is not None
    streams: list[Stream] = []
    for entry in tap.input_catalog.values():
        md = entry.metadata.root
        # The entity's stamp, as discovery listed it; the catalog then chooses.
        keys = getattr(md, "valid_replication_keys", None) or []
        streams.append(
            EntityStream(
                tap,
                run,
                service,
                entry.tap_stream_id,
                entry.schema.to_dict(),
                replication_key=keys[0] if keys else None,
            )
        )
    return streams


def _streams_from_swagger(tap: Tap, run: RunContext, service: RestService) -> list[Stream]:
    doc = service.swagger()
    name, version = service.endpoint_name, service.endpoint_version()
    wanted = run.settings.entities
    specs = parse_entities(doc, only=set(wanted) if wanted else None)
    if wanted:
        unknown = sorted(set(wanted) - set(specs))
        if unknown:
            known = sorted(parse_entities(doc))
            raise ConfigError(
                f"Unknown entit{'y' if len(unknown) == 1 else 'ies'} in 'entities': "
                f"{', '.join(unknown)}. Endpoint {name}/{version} has "
                f"{len(known)} entities, e.g. {', '.join(known[:8])}."
            )
    run.logger.info("Discovered %d entities in %s/%s.", len(specs), name, version)
    streams: list[Stream] = []
    for spec in specs.values():
        for path, why in spec.untyped:
            # Never dropped silently: kept as any JSON, and said once at discovery.
            run.logger.warning(
                "%s: swagger.json property %s cannot be typed (%s); it is kept as a "
                'property of any JSON type, its value unwrapped when it is {"value": ...}.',
                spec.name,
                path,
                why,
            )
        schema = spec.json_schema()
        off = _add_custom_fields(run, service, spec.name, schema)
        streams.append(
            EntityStream(
                tap,
                run,
                service,
                spec.name,
                schema,
                replication_key=spec.stamp,
                deselected_by_default=off,
            )
        )
    return streams


def _add_custom_fields(
    run: RunContext, service: RestService, entity: str, schema: dict[str, t.Any]
) -> set[str]:
    """Add custom fields from ``$adHocSchema``; returns those not selected by default.

    Fields named in ``custom_fields`` are selected by default (the user asked for
    them); fields found by ``discover_custom_fields`` are offered but deselected,
    since an instance can have hundreds and each widens every request.
    """
    settings = run.settings
    wanted = (settings.custom_fields or {}).get(entity) or []
    if not wanted and not settings.discover_custom_fields:
        return set()
    found = custom_fields_of(service.adhoc_schema(entity))
    named = {custom_property(*item.split(".", 1)): item for item in wanted if "." in item}
    bad = [item for item in wanted if "." not in item]
    unknown = sorted(item for prop, item in named.items() if prop not in found)
    if bad or unknown:
        listed = sorted(
            ".".join(custom_source(p) or ()) for p in found if not selects.label_of_id(p)
        )
        raise ConfigError(
            f"custom_fields for {entity}: {', '.join(bad + unknown)} not found; use "
            f"View.Field as listed by {entity}/$adHocSchema, e.g. {', '.join(listed[:5])}."
        )

    def field_of(prop: str) -> str:  # a drop-down's __id column comes with its field
        return selects.label_of_id(prop) or prop

    if not settings.discover_custom_fields:
        found = {prop: kind for prop, kind in found.items() if field_of(prop) in named}
    schema["properties"].update(found)
    return {prop for prop in found if field_of(prop) not in named}
