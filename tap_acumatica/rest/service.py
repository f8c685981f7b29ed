"""The contract-based endpoint of this run: its name and version, and the entity paths.

The version is checked once per run against ``GET entity`` (the list of endpoints the
instance serves), so a wrong ``endpoint_version`` fails with the versions that would work
instead of a 404 per stream.
"""

from __future__ import annotations

import threading
import typing as t

from tap_acumatica.errors import AcumaticaError, ConfigError
from tap_acumatica.rest.metadata import load_swagger
from tap_acumatica.settings import DEFAULT_ENDPOINT_VERSION

if t.TYPE_CHECKING:
    from tap_acumatica.http.client import AcumaticaClient
    from tap_acumatica.run import RunContext


class RestService:
    """``entity/<endpoint_name>/<endpoint_version>/`` of this run (version resolved once)."""

    def __init__(self, run: RunContext) -> None:
        self._run = run
        self.endpoint_name = run.settings.endpoint_name
        self._wanted_version = run.settings.endpoint_version
        self._version: str | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> AcumaticaClient:
        return self._run.client

    def endpoint_version(self) -> str:
        """The endpoint version to use, checked once per run against ``GET entity``."""
        with self._lock:
            if self._version is None:
                self._version = self._resolve_version()
            return self._version

    def entity_path(self, entity: str) -> str:
        return f"entity/{self.endpoint_name}/{self.endpoint_version()}/{entity}"

    def _resolve_version(self) -> str:
        wanted = self._wanted_version
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
        self._run.logger.warning(
            "endpoint_version not set and the instance does not serve the default %s; "
            "using the highest version it serves: %s/%s.",
            DEFAULT_ENDPOINT_VERSION,
            self.endpoint_name,
            chosen,
        )
        return chosen

    def swagger(self) -> dict[str, t.Any]:
        """The endpoint's swagger.json, parsed."""
        client = self.client
        version = self.endpoint_version()
        url = client.url(f"entity/{self.endpoint_name}/{version}/swagger.json")
        response = client.request(
            "GET", url, what=f"swagger.json of {self.endpoint_name}/{version}"
        )
        client.raise_if_not_api(response, "swagger.json")
        try:
            return load_swagger(response.content)
        except ValueError as exc:
            raise AcumaticaError(
                f"swagger.json of {self.endpoint_name}/{version} is not valid JSON: {exc}"
            ) from None

    def adhoc_schema(self, entity: str) -> dict[str, t.Any]:
        """``<Entity>/$adHocSchema``: where the entity's custom fields are described."""
        adhoc = self.client.get_json(
            self.client.url(f"{self.entity_path(entity)}/$adHocSchema"),
            what=f"{entity} custom fields ($adHocSchema)",
        )
        return adhoc if isinstance(adhoc, dict) else {}
