"""RunContext: what one run of the tap shares with its services and streams.

The tap builds one per run, after the settings are settled (the settings a pasted ``url``
implies included): the run's :class:`~tap_acumatica.settings.Settings`, its one HTTP
client (built on first use, signed in lazily, signed out by :meth:`RunContext.close`), the
tap's logger, and the ``replication-method`` the input catalog asks for per stream.
Services, streams and discovery receive this context and never import the tap.
"""

from __future__ import annotations

import threading
import typing as t

from tap_acumatica.auth import build_authenticator
from tap_acumatica.http.client import AcumaticaClient
from tap_acumatica.logs import install_redaction

if t.TYPE_CHECKING:
    import logging

    from tap_acumatica.settings import Settings


class RunContext:
    """The run's settings, client and logger (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        logger: logging.Logger,
        *,
        requested_replication_methods: t.Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.logger = logger
        #: ``replication-method`` from each stream's root metadata in the input catalog
        #: (the SDK's parsed catalog drops it; see :mod:`tap_acumatica.sync.replication`).
        self.requested_replication_methods = dict(requested_replication_methods or {})
        self._client: AcumaticaClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> AcumaticaClient:
        """The run's one HTTP client, built on first use; from then on every log line is
        redacted with its secrets (configured ones, tokens, cookies)."""
        with self._lock:
            if self._client is None:
                self._client = AcumaticaClient(self.settings, build_authenticator(self.settings))
                install_redaction(self._client.redact)
            return self._client

    def close(self) -> None:
        """Sign out and release connections (idempotent; a later ``client`` is a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
