"""What generic inquiries and DAC-based OData share: the OData protocol as Acumatica serves it.

* **The service root** (:class:`ServiceRoot`): both APIs come in two URL families (``v4``
  under ``t/<company>/api/odata/…``, and a legacy one), chosen by ``odata_url_style`` or
  probed once per run (``auto``: the v4 service document, then the legacy one) and logged.
* **EDM types** (:data:`EDM_SCHEMAS`): ``$metadata`` property types -> JSON schema.
* **Values** (:func:`compile_record`): Edm.Decimal stays exact (``Decimal``, whether it
  arrives as a JSON number or as a string as v3 writes it), Edm.Int64 strings become
  integers, Edm.DateTime/DateTimeOffset become the tap's fixed UTC format (a v3
  Edm.DateTime has no offset and is read as UTC), strings are passed on exactly as sent
  (CHAR key columns keep their space padding, because that is the value Acumatica filters
  and joins on).
* **Bodies** (:func:`rows_of`): v4 ``value``, v3 ``value`` or verbose ``d.results``.

Literals for ``$filter`` are in :mod:`tap_acumatica.query`.
"""

from __future__ import annotations

import decimal
import threading
import typing as t

from tap_acumatica.datetimes import normalize_datetime
from tap_acumatica.errors import (
    AcumaticaAPIError,
    AcumaticaError,
    AcumaticaResponseError,
    ConfigError,
)
from tap_acumatica.schemas import schema_types

if t.TYPE_CHECKING:
    import requests

    from tap_acumatica.http.client import AcumaticaClient
    from tap_acumatica.run import RunContext

Record = dict[str, t.Any]

DATETIME_TYPES = frozenset({"Edm.DateTime", "Edm.DateTimeOffset"})
#: EDM primitive type -> JSON schema (every column nullable: GIs return NULLs for outer
#: joins even where the DAC field is not nullable).
EDM_SCHEMAS: dict[str, dict[str, t.Any]] = {
    "Edm.String": {"type": ["string", "null"]},
    "Edm.Byte": {"type": ["integer", "null"]},
    "Edm.SByte": {"type": ["integer", "null"]},
    "Edm.Int16": {"type": ["integer", "null"]},
    "Edm.Int32": {"type": ["integer", "null"]},
    "Edm.Int64": {"type": ["integer", "null"]},
    "Edm.Decimal": {"type": ["number", "null"]},
    "Edm.Double": {"type": ["number", "null"]},
    "Edm.Single": {"type": ["number", "null"]},
    "Edm.Boolean": {"type": ["boolean", "null"]},
    "Edm.DateTime": {"type": ["string", "null"], "format": "date-time"},
    "Edm.DateTimeOffset": {"type": ["string", "null"], "format": "date-time"},
    "Edm.Date": {"type": ["string", "null"], "format": "date"},
    "Edm.TimeOfDay": {"type": ["string", "null"], "format": "time"},
    "Edm.Time": {"type": ["string", "null"]},
    "Edm.Duration": {"type": ["string", "null"]},
    "Edm.Guid": {"type": ["string", "null"], "format": "uuid"},
    "Edm.Binary": {"type": ["string", "null"], "contentEncoding": "base64"},
}
#: Types the map does not know are read as text.
FALLBACK_SCHEMA: dict[str, t.Any] = {"type": ["string", "null"]}


def edm_schema(edm_type: str) -> dict[str, t.Any]:
    """The JSON schema of a property of ``edm_type`` (a fresh copy)."""
    return dict(EDM_SCHEMAS.get(edm_type, FALLBACK_SCHEMA))


# --- the service root ------------------------------------------------------------------------


class ServiceRoot:
    """One OData service of the run (generic inquiries or DACs): its URL family, resolved
    once (probed under a lock when ``odata_url_style`` is ``auto``, then logged).

    Subclasses say where each family lives (:meth:`path`) and how to explain a refusal.
    """

    #: What the service is called in messages.
    SERVICE: t.ClassVar[str]
    #: family -> how the log line names it.
    FAMILY_LABEL: t.ClassVar[dict[str, str]]
    #: The error when ``v4`` is asked for without a tenant.
    V4_NEEDS_COMPANY: t.ClassVar[str]

    def __init__(self, run: RunContext) -> None:
        self._run = run
        settings = run.settings
        self.style = settings.odata_url_style
        self.company = settings.company
        if self.style == "v4" and not self.company:
            raise ConfigError(self.V4_NEEDS_COMPANY)
        self._family: str | None = None if self.style == "auto" else self.style
        self._lock = threading.Lock()

    @property
    def client(self) -> AcumaticaClient:
        return self._run.client

    def path(self, family: str, tenant: str) -> str:
        """The service root of ``family`` relative to the instance (ending in '/')."""
        raise NotImplementedError

    def root(self, family: str | None = None) -> str:
        """The absolute service root URL of ``family`` (default: this run's), ending in '/'."""
        tenant = self.client.quote_segment(self.company) if self.company else ""
        return self.client.url(self.path(family or self.family, tenant))

    def document_params(self, family: str | None = None) -> dict[str, str]:
        """Query options every request of ``family`` carries (none by default)."""
        return {}

    def explain_refusal(self, url: str, response: requests.Response) -> str | None:
        """The message for a service document the user may not read (None: not refused)."""
        return None

    @property
    def family(self) -> str:
        """ "v4" or "legacy" (probing the instance when the style is ``auto``)."""
        with self._lock:
            if self._family is None:
                self._family = self._probe()
                self._run.logger.info(
                    "odata_url_style auto: using %s at %s.",
                    self.FAMILY_LABEL[self._family],
                    self.root(self._family),
                )
            return self._family

    def _probe(self) -> str:
        """The first family whose service document answers as OData: v4 (it needs the
        tenant in its path), then legacy."""
        tried: list[str] = []
        if not self.company:
            self._run.logger.info(
                "odata_url_style auto: no 'company' set, so only the legacy URL applies."
            )
        for family in ("v4", "legacy") if self.company else ("legacy",):
            url = self.root(family)
            response = self.client.request(
                "GET",
                url,
                params=self.document_params(family),
                what=f"{self.SERVICE} document ({family})",
            )
            refusal = self.explain_refusal(url, response)
            if refusal is not None:
                raise AcumaticaAPIError(refusal, response.status_code)
            if response.status_code == 200 and _is_json(response):
                try:
                    body = self.client.parse_json(response, f"{self.SERVICE} document")
                except AcumaticaError:
                    body = None
                if isinstance(body, dict) and ("value" in body or "d" in body):
                    return family
            tried.append(f"{url} (HTTP {response.status_code})")
        raise ConfigError(
            f"No {self.SERVICE} found; tried " + ", ".join(tried) + ". Check 'url' and "
            "'company', or set 'odata_url_style'."
        )


def _is_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "").lower()


# --- records ---------------------------------------------------------------------------------


def _kind(prop: t.Mapping[str, t.Any]) -> str:
    kinds = schema_types(prop)
    if prop.get("format") == "date-time":
        return "date-time"
    for kind in ("integer", "number", "boolean", "string"):
        if kind in kinds:
            return kind
    return "any"


def _to_int(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return int(value)
    if isinstance(value, decimal.Decimal | float):
        return int(value)
    return value


def _to_number(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    return value


def _to_bool(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value


def _to_datetime(value: t.Any) -> t.Any:
    return normalize_datetime(value) if isinstance(value, str) else None


def _to_string(value: t.Any) -> t.Any:
    return value if value is None or isinstance(value, str) else str(value)


def _same(value: t.Any) -> t.Any:
    return value


_CONVERTERS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "integer": _to_int,
    "number": _to_number,
    "boolean": _to_bool,
    "date-time": _to_datetime,
    "string": _to_string,
    "any": _same,
}


def compile_record(schema: t.Mapping[str, t.Any]) -> t.Callable[[dict[str, t.Any]], Record]:
    """Raw OData row -> record of ``schema`` (columns not in the schema are dropped).

    Driven by the JSON schema only, so streams rebuilt from a catalog need no $metadata.
    """
    plan = {name: _CONVERTERS[_kind(prop)] for name, prop in schema.get("properties", {}).items()}

    def transform(raw: dict[str, t.Any]) -> Record:
        out: Record = {}
        for key, value in raw.items():
            convert = plan.get(key)
            if convert is not None:
                out[key] = None if value is None else convert(value)
        return out

    return transform


def rows_of(body: t.Any) -> tuple[list[dict[str, t.Any]], str | None]:
    """Rows and next link of a v3 or v4 JSON body (``value``; verbose v3 ``d.results``)."""
    if isinstance(body, dict):
        if "value" in body and isinstance(body["value"], list):
            link = body.get("@odata.nextLink") or body.get("odata.nextLink")
            return [r for r in body["value"] if isinstance(r, dict)], link
        inner = body.get("d")
        if isinstance(inner, dict) and isinstance(inner.get("results"), list):
            return [r for r in inner["results"] if isinstance(r, dict)], inner.get("__next")
        if isinstance(inner, list):
            return [r for r in inner if isinstance(r, dict)], None
    raise AcumaticaResponseError(
        f"expected an OData JSON body with a 'value' array, got {type(body).__name__}"
        + (f" with keys {sorted(body)[:6]}" if isinstance(body, dict) else "")
        + "."
    )
