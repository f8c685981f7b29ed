"""OData generic-inquiry streams: config checks, and streams from ``$metadata`` or the catalog.

A sync with ``--catalog`` rebuilds the streams from the catalog: no ``$metadata``.
"""

from __future__ import annotations

import typing as t

from tap_acumatica.errors import ConfigError
from tap_acumatica.inquiries.metadata import type_name_of
from tap_acumatica.inquiries.service import FAMILY_LABEL, InquiryService
from tap_acumatica.inquiries.stream import InquiryStream
from tap_acumatica.odata import DATETIME_TYPES

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.streams import Stream

    from tap_acumatica.run import RunContext


def _lookup(
    mapping: t.Mapping[str, t.Any], spec_name: str, aliases: t.Iterable[str | None] = ()
) -> tuple[bool, t.Any]:
    for name in (spec_name, *aliases):
        if name and name in mapping:
            return True, mapping[name]
    return False, None


def _settings(run: RunContext) -> tuple[list[str] | None, dict[str, t.Any], dict[str, str]]:
    settings = run.settings
    wanted = settings.inquiries
    if wanted is not None and (
        not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted)
    ):
        raise ConfigError("Setting 'inquiries' must be a list of inquiry (entity set) names.")
    params = settings.inquiry_parameters or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(
            "Setting 'inquiry_parameters' must map inquiry names to objects of "
            'parameter values, e.g. {"Item Availability Data": '
            '{"Warehouse": "MAIN"}}.'
        )
    stamps = settings.inquiry_replication_keys or {}
    if not isinstance(stamps, dict) or not all(isinstance(v, str) for v in stamps.values()):
        raise ConfigError(
            "Setting 'inquiry_replication_keys' must map inquiry names to a date-time column name."
        )
    return wanted, params, stamps


def discover(tap: Tap, run: RunContext) -> list[Stream]:
    """Streams of the GI service: from the input catalog if any, else from ``$metadata``."""
    service = InquiryService(run)
    if tap.input_catalog is not None:
        return _streams_from_catalog(tap, run, service)
    return _streams_from_metadata(tap, run, service)


def _streams_from_catalog(tap: Tap, run: RunContext, service: InquiryService) -> list[Stream]:
    _, params, stamps = _settings(run)
    assert tap.input_catalog is not None
    streams: list[Stream] = []
    for entry in tap.input_catalog.values():
        md = entry.metadata.root
        name = entry.tap_stream_id
        schema = entry.schema.to_dict()
        keys = list(entry.key_properties or getattr(md, "table_key_properties", None) or [])
        # The setting's key (if any); the catalog's choice is applied with the catalog.
        _, stamp = _lookup(stamps, name, [type_name_of(name)])
        has_params, values = _lookup(
            params, name, [type_name_of(name), f"{type_name_of(name)}_WithParameters"]
        )
        streams.append(
            InquiryStream(
                tap,
                run,
                service,
                name,
                schema,
                keys=keys,
                replication_key=stamp,
                parameters=values if has_params else None,
            )
        )
    return streams


def _streams_from_metadata(tap: Tap, run: RunContext, service: InquiryService) -> list[Stream]:
    wanted, params, stamps = _settings(run)
    specs = service.metadata()
    if wanted is not None:
        unknown = [w for w in wanted if w not in specs]
        if unknown:
            raise ConfigError(
                f"Unknown inquir{'y' if len(unknown) == 1 else 'ies'} in 'inquiries': "
                f"{', '.join(map(repr, unknown))}. The OData service exposes: "
                f"{', '.join(map(repr, sorted(specs))) or 'none'} (an inquiry appears only "
                "when 'Expose via OData' is ticked on SM208000)."
            )
        specs = {name: specs[name] for name in wanted}
    streams: list[Stream] = []
    skipped: list[str] = []
    for spec in specs.values():
        aliases = [spec.type_name, spec.function_import]
        has_params, values = _lookup(params, spec.name, aliases)
        if spec.parameterised and not has_params:
            skipped.append(spec.name)
            continue
        if has_params:
            if not spec.parameterised:
                raise ConfigError(
                    f"'inquiry_parameters' names {spec.name!r}, which takes no parameters."
                )
            extra = sorted(set(values) - set(spec.parameters))
            if extra:
                raise ConfigError(
                    f"'inquiry_parameters' of {spec.name!r}: unknown parameter(s) "
                    f"{', '.join(extra)}; it takes {', '.join(spec.parameters) or 'none'}."
                )
        found, stamp = _lookup(stamps, spec.name, [spec.type_name])
        if found:
            edm = spec.columns.get(stamp)
            if edm not in DATETIME_TYPES:
                raise ConfigError(
                    f"'inquiry_replication_keys' of {spec.name!r}: {stamp!r} is "
                    + ("not a column of the inquiry" if edm is None else f"of type {edm}")
                    + "; it must be a date-time column ("
                    + ", ".join(c for c, e in spec.columns.items() if e in DATETIME_TYPES)
                    + ")."
                )
        streams.append(
            InquiryStream(
                tap,
                run,
                service,
                spec.name,
                spec.json_schema(),
                keys=spec.keys,
                replication_key=stamp if found else None,
                parameters=values if has_params else None,
                function_import=spec.function_import,
            )
        )
    if skipped:
        run.logger.info(
            "Skipped parameterised inquir%s %s: set their values in "
            "'inquiry_parameters' to read them.",
            "y" if len(skipped) == 1 else "ies",
            ", ".join(map(repr, skipped)),
        )
    unknown_stamps = sorted(
        set(stamps) - {a for s in specs.values() for a in (s.name, s.type_name)}
    )
    if unknown_stamps and wanted is None:
        raise ConfigError(
            f"'inquiry_replication_keys' names unknown inquir"
            f"{'y' if len(unknown_stamps) == 1 else 'ies'}: "
            f"{', '.join(map(repr, unknown_stamps))}."
        )
    run.logger.info(
        "Discovered %d generic inquiries over %s.", len(streams), FAMILY_LABEL[service.family]
    )
    return streams
