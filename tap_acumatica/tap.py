"""TapAcumatica: settings, discovery from metadata, one client per run, clean exits.

Streams are generated from the instance's metadata (the endpoint's swagger.json, or the
OData ``$metadata``) at discovery, and rebuilt from the input catalog on sync so a
scheduled run never downloads a multi-megabyte swagger again. Every way out of a run
(normal end, error, Ctrl-C, SIGTERM) logs out, because a leaked Acumatica session holds a
licence seat for 10 minutes.
"""

from __future__ import annotations

import atexit
import copy
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
from tap_acumatica.config_schema import CONFIG_SCHEMA
from tap_acumatica.connection import check_connection
from tap_acumatica.errors import ConfigError
from tap_acumatica.messages import BufferedMsgSpecWriter
from tap_acumatica.run import RunContext
from tap_acumatica.settings import SECRET_SETTINGS, Settings, validate_config
from tap_acumatica.sync.replication import requested_methods

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.streams import Stream

    from tap_acumatica.http.client import AcumaticaClient

LOGGER = logging.getLogger("tap_acumatica")


class TapAcumatica(Tap):
    """Singer tap for Acumatica ERP."""

    name = "tap-acumatica"
    plugin_version = __version__
    dynamic_catalog = True
    # A copy: the SDK appends its built-in settings (stream maps, flattening, batch) to the
    # tap class's schema in place, which must not leak into CONFIG_SCHEMA, the schema of
    # this tap's own settings.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    message_writer_class = BufferedMsgSpecWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: ``replication-method`` the catalog's metadata asks for, by stream (the SDK's
        #: parsed catalog drops it; see :mod:`tap_acumatica.sync.replication`).
        self._requested_methods = requested_methods(kwargs.get("catalog"))
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
        # Settings the pasted URL implies (tenant, endpoint, OData URL family) join the
        # config once, here, so every module reads them as if the user had set them.
        resolution = validate_config(self.config)
        self._config.update(resolution.taken)  # the SDK's config dict (read-only view)
        self.logger.info(resolution.describe())
        #: The run's settings, built once, after the URL-implied settings joined the config.
        self.settings = Settings.from_config(self.config)
        #: What ``url`` said (the API it points at, the settings it implies).
        self.url_resolution: urls.Resolution | None = resolution
        #: What services and streams share: settings, the one client, the logger.
        self.run = RunContext(
            self.settings, self.logger, requested_replication_methods=self._requested_methods
        )
        atexit.register(self.close)

    def setup_mapper(self) -> None:
        self._settle_config()
        super().setup_mapper()

    # The run's client --------------------------------------------------------------------

    @property
    def client(self) -> AcumaticaClient:
        """The run's one client (see :class:`~tap_acumatica.run.RunContext`)."""
        return self.run.client

    def close(self) -> None:
        """Log out and release connections (idempotent)."""
        run = getattr(self, "run", None)
        if run is not None:
            run.close()

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
        schema round trip (see :func:`tap_acumatica.dac.discovery.catalog_dict`)."""
        if self.settings.schema == "DAC":
            from tap_acumatica.dac import discovery as dac_discovery

            return dac_discovery.catalog_dict(self.streams.values())
        return super().catalog_dict

    @property
    def catalog_json_text(self) -> str:
        """Compact JSON for DAC catalogs (tens of MB indented for ~2,500 DACs; the SDK's
        indenting encoder is pure Python)."""
        if self.settings.schema == "DAC":
            return json.dumps(self.catalog_dict, default=str)
        return super().catalog_json_text

    def check_connection(self) -> str:
        """Sign in, reach the configured API and sign out; what was reached, in one line
        (see :mod:`tap_acumatica.connection`; an error is the tap's usual one line)."""
        try:
            return check_connection(self.run)
        finally:
            self.close()

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

    # Discovery: the config's ``schema`` picks the API ------------------------------------

    def discover_streams(self) -> list[Stream]:
        schema = self.settings.schema
        if schema == "OData":
            from tap_acumatica.inquiries import discovery as inquiry_discovery

            return inquiry_discovery.discover(self, self.run)
        if schema == "DAC":
            from tap_acumatica.dac import discovery as dac_discovery

            return dac_discovery.discover(self, self.run)
        from tap_acumatica.rest import discovery as rest_discovery

        return rest_discovery.discover(self, self.run)


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
