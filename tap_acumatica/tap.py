"""TapAcumatica: settings, discovery from metadata, one client per run, clean exits.

Streams are generated from the instance's metadata (the endpoint's swagger.json, or the
OData ``$metadata``) at discovery, and rebuilt from the input catalog on sync so a
scheduled run never downloads a multi-megabyte swagger again. Every way out of a run
(normal end, error, Ctrl-C, SIGTERM) logs out, because a leaked Acumatica session holds a
licence seat for 10 minutes.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import signal
import sys
import threading
import typing as t

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_acumatica import __version__, urls
from tap_acumatica.auth import build_authenticator
from tap_acumatica.client import AcumaticaClient
from tap_acumatica.contract import (
    custom_fields_of,
    custom_property,
    custom_source,
    load_swagger,
    parse_entities,
)
from tap_acumatica.errors import AcumaticaError, ConfigError
from tap_acumatica.logs import install_redaction
from tap_acumatica.output import BufferedMsgSpecWriter
from tap_acumatica.replication import requested_methods
from tap_acumatica.rest import EntityStream
from tap_acumatica.settings import (
    CONFIG_SCHEMA,
    DEFAULT_ENDPOINT_NAME,
    DEFAULT_ENDPOINT_VERSION,
    SECRET_SETTINGS,
    validate_config,
)

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.streams import Stream

LOGGER = logging.getLogger("tap_acumatica")


class TapAcumatica(Tap):
    """Singer tap for Acumatica ERP."""

    name = "tap-acumatica"
    plugin_version = __version__
    dynamic_catalog = True
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = BufferedMsgSpecWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._client: AcumaticaClient | None = None
        self._client_lock = threading.Lock()
        self._endpoint_version: str | None = None
        #: ``replication-method`` the catalog's metadata asks for, by stream (the SDK's
        #: parsed catalog drops it; see :mod:`tap_acumatica.replication`).
        self.requested_replication_methods = requested_methods(kwargs.get("catalog"))
        try:
            super().__init__(*args, **kwargs)
        except ConfigValidationError as exc:
            # The SDK logs each error and exits (sync) or raises on (discovery); one line
            # naming every problem is what a scheduler's log needs.
            problems = "; ".join(_safe_schema_error(str(e)) for e in exc.errors) or str(exc)
            raise ConfigError(
                f"Invalid config: {problems}. See `tap-acumatica --about` for the settings."
            ) from None
        self._settle_config()

    def _settle_config(self) -> None:
        """Check the config and add the settings the pasted URL implies (once).

        Runs before any stream exists: streams copy the config when built, and a sync
        without a catalog builds them inside the SDK's constructor (``setup_mapper``).
        """
        if getattr(self, "url_resolution", None) is not None:
            return
        validate_config(self.config)
        # Settings the pasted URL implies (tenant, endpoint, OData URL family) join the
        # config once, here, so every module reads them as if the user had set them.
        resolution = urls.resolve(self.config)
        self._config.update(resolution.taken)  # the SDK's config dict (read-only view)
        self.logger.info(resolution.describe())
        #: What ``url`` said (API kind, resource after an OData service URL, ...).
        self.url_resolution: urls.Resolution | None = resolution

    def setup_mapper(self) -> None:
        self._settle_config()
        super().setup_mapper()

    # The run's client --------------------------------------------------------------------

    @property
    def client(self) -> AcumaticaClient:
        with self._client_lock:
            if self._client is None:
                self._client = AcumaticaClient(self.config, build_authenticator(self.config))
                install_redaction(self._client.redact)
                atexit.register(self.close)
            return self._client

    def close(self) -> None:
        """Log out and release connections (idempotent)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # Entry points: each ends with a logout -------------------------------------------------

    def sync_all(self) -> None:  # type: ignore[misc]  # final in the SDK; we only wrap it
        try:
            super().sync_all()
        finally:
            self.close()

    def run_discovery(self) -> str:
        try:
            return super().run_discovery()
        finally:
            self.close()

    @property
    def catalog_dict(self) -> dict:
        """DAC catalogs hold thousands of streams: written without the SDK's per-entry
        schema round trip (see :func:`tap_acumatica.dac_discovery.catalog_dict`)."""
        if self.config.get("schema") == "DAC":
            from tap_acumatica import dac_discovery

            return dac_discovery.catalog_dict(self.streams.values())
        return super().catalog_dict

    @property
    def catalog_json_text(self) -> str:
        """Compact JSON for DAC catalogs (tens of MB indented for ~2,500 DACs; the SDK's
        indenting encoder is pure Python)."""
        if self.config.get("schema") == "DAC":
            return json.dumps(self.catalog_dict, default=str)
        return super().catalog_json_text

    def run_connection_test(self) -> bool:  # type: ignore[misc]
        try:
            return super().run_connection_test()
        finally:
            self.close()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: write state, log out, and exit non-zero (the run did not finish).

        The reader of our stdout may have stopped reading (Meltano's ``config test`` sends
        SIGTERM after the first record and never drains the pipe): writing the state or
        flushing at exit would then block forever. So the state is written only if stdout
        can take it, a watchdog ends the process if logging out hangs, and when stdout is
        stuck the process leaves with ``os._exit`` instead of flushing it.
        """
        code = 128 + signum if signum in (signal.SIGTERM, signal.SIGINT) else 1
        watchdog = threading.Timer(15, os._exit, (code,))
        watchdog.daemon = True
        watchdog.start()
        writable = _stdout_writable()
        busy = getattr(self.message_writer, "busy", lambda: False)()
        try:
            # The last STATE already written is a safe place to resume from, so skipping
            # this one (stdout stuck, or a write interrupted mid-way) loses nothing.
            if writable and not busy:
                self._state_writer.write_state(self.state)
        finally:
            self.logger.warning("Interrupted by signal %d; logging out.", signum)
            self.close()
            if not writable:
                sys.stderr.flush()
                os._exit(code)
            sys.exit(code)

    # Endpoint -------------------------------------------------------------------------------

    @property
    def endpoint_name(self) -> str:
        return str(self.config.get("endpoint_name") or DEFAULT_ENDPOINT_NAME)

    def endpoint_version(self) -> str:
        """The endpoint version to use, checked once per run against ``GET entity``."""
        if self._endpoint_version is None:
            self._endpoint_version = self._resolve_endpoint_version()
        return self._endpoint_version

    def _resolve_endpoint_version(self) -> str:
        wanted = self.config.get("endpoint_version")
        client = self.client
        index = client.get_json(client.url("entity"), what="List of endpoints (GET entity)")
        endpoints = index.get("endpoints", []) if isinstance(index, dict) else []
        served = sorted(
            {
                str(e.get("version"))
                for e in endpoints
                if str(e.get("name", "")).lower() == self.endpoint_name.lower()
            },
            key=lambda v: tuple(int(p) if p.isdigit() else 0 for p in v.split(".")),
        )
        if not served:
            names = sorted({str(e.get("name")) for e in endpoints})
            raise ConfigError(
                f"The instance serves no endpoint named {self.endpoint_name!r}; it serves: "
                f"{', '.join(names) or 'none'}. Check 'endpoint_name'."
            )
        if wanted:
            if wanted not in served:
                raise ConfigError(
                    f"Endpoint {self.endpoint_name}/{wanted} is not served by this instance; "
                    f"it serves versions: {', '.join(served)}. Set 'endpoint_version' to one "
                    "of them."
                )
            return str(wanted)
        if DEFAULT_ENDPOINT_VERSION in served:
            return DEFAULT_ENDPOINT_VERSION
        chosen = served[-1]
        self.logger.warning(
            "endpoint_version not set and the instance does not serve the default %s; "
            "using the highest version it serves: %s/%s.",
            DEFAULT_ENDPOINT_VERSION,
            self.endpoint_name,
            chosen,
        )
        return chosen

    def entity_path(self, entity: str) -> str:
        return f"entity/{self.endpoint_name}/{self.endpoint_version()}/{entity}"

    # Discovery --------------------------------------------------------------------------------

    def discover_streams(self) -> list[Stream]:
        if (self.config.get("schema") or "REST") == "OData":
            from tap_acumatica import odata

            return odata.discover(self)
        if self.config.get("schema") == "DAC":
            from tap_acumatica import dac_discovery

            return dac_discovery.discover(self)
        if self.input_catalog is not None:
            return self._streams_from_catalog()
        return self._streams_from_swagger()

    def _streams_from_catalog(self) -> list[Stream]:
        """Rebuild streams from the catalog: no swagger download on a scheduled sync."""
        assert self.input_catalog is not None
        streams: list[Stream] = []
        for entry in self.input_catalog.values():
            md = entry.metadata.root
            # The entity's stamp, as discovery listed it; the catalog then chooses.
            keys = getattr(md, "valid_replication_keys", None) or []
            streams.append(
                EntityStream(
                    self, entry.tap_stream_id, entry.schema.to_dict(), keys[0] if keys else None
                )
            )
        return streams

    def _streams_from_swagger(self) -> list[Stream]:
        client = self.client
        version = self.endpoint_version()
        url = client.url(f"entity/{self.endpoint_name}/{version}/swagger.json")
        response = client.request(
            "GET", url, what=f"swagger.json of {self.endpoint_name}/{version}"
        )
        client.raise_if_not_api(response, "swagger.json")
        try:
            doc = load_swagger(response.content)
        except ValueError as exc:
            raise AcumaticaError(
                f"swagger.json of {self.endpoint_name}/{version} is not valid JSON: {exc}"
            ) from None
        wanted = self.config.get("entities")
        specs = parse_entities(doc, only=set(wanted) if wanted else None)
        if wanted:
            unknown = sorted(set(wanted) - set(specs))
            if unknown:
                known = sorted(parse_entities(doc))
                raise ConfigError(
                    f"Unknown entit{'y' if len(unknown) == 1 else 'ies'} in 'entities': "
                    f"{', '.join(unknown)}. Endpoint {self.endpoint_name}/{version} has "
                    f"{len(known)} entities, e.g. {', '.join(known[:8])}."
                )
        self.logger.info(
            "Discovered %d entities in %s/%s.", len(specs), self.endpoint_name, version
        )
        streams: list[Stream] = []
        for spec in specs.values():
            schema = spec.json_schema()
            off = self._add_custom_fields(spec.name, schema)
            streams.append(
                EntityStream(self, spec.name, schema, spec.stamp, deselected_by_default=off)
            )
        return streams

    def _add_custom_fields(self, entity: str, schema: dict[str, t.Any]) -> set[str]:
        """Add custom fields from ``$adHocSchema``; returns those not selected by default.

        Fields named in ``custom_fields`` are selected by default (the user asked for
        them); fields found by ``discover_custom_fields`` are offered but deselected,
        since an instance can have hundreds and each widens every request.
        """
        wanted = (self.config.get("custom_fields") or {}).get(entity) or []
        if not wanted and not self.config.get("discover_custom_fields"):
            return set()
        adhoc = self.client.get_json(
            self.client.url(f"{self.entity_path(entity)}/$adHocSchema"),
            what=f"{entity} custom fields ($adHocSchema)",
        )
        found = custom_fields_of(adhoc if isinstance(adhoc, dict) else {})
        named = {custom_property(*item.split(".", 1)): item for item in wanted if "." in item}
        bad = [item for item in wanted if "." not in item]
        unknown = sorted(item for prop, item in named.items() if prop not in found)
        if bad or unknown:
            raise ConfigError(
                f"custom_fields for {entity}: {', '.join(bad + unknown)} not found; use "
                f"View.Field as listed by {entity}/$adHocSchema, e.g. "
                f"{', '.join(sorted('.'.join(custom_source(p) or ()) for p in found)[:5])}."
            )
        if not self.config.get("discover_custom_fields"):
            found = {prop: found[prop] for prop in named}
        schema["properties"].update(found)
        return set(found) - set(named)


def _safe_schema_error(error: str) -> str:
    """A schema error about a secret setting, without the (quoted) value."""
    for name in SECRET_SETTINGS:
        if f"config['{name}']" in error:
            return f"setting {name!r} has the wrong type (value not shown)"
    return error


def _stdout_writable() -> bool:
    """Whether stdout can take a message now without blocking."""
    try:
        return bool(select.select([], [sys.stdout.fileno()], [], 0)[1])
    except (OSError, ValueError, AttributeError):  # not a real file (tests' StringIO)
        return True
