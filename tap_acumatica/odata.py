"""OData generic inquiries: ``$metadata`` (EDMX v3/v4) -> streams, and reading them.

Acumatica exposes a generic inquiry (GI) over OData when "Expose via OData" is ticked on
the Generic Inquiry screen (SM208000). Two URL families serve the same inquiries:

* ``v4`` (2024 R2+): ``<base>/t/<company>/api/odata/gi/`` (OData v4, EDMX 4.0);
* ``legacy``: ``<base>/odata/<company>/`` (OData v3, EDMX 1.0; the tenant segment may be
  left out on single-tenant sites).

``odata_url_style: auto`` probes the v4 service document first, then the legacy one, and
logs which family it uses (once per run). Streams are named as the entity sets; their JSON
schema comes from the EDM types, their keys from ``<Key>`` (an inquiry with grouping has
none). A sync with ``--catalog`` rebuilds the streams from the catalog: no ``$metadata``.

Reading: ``$top/$skip`` with a stable ``$orderby`` (the keys, or every column when there
are none; a column the server refuses to sort is dropped from the ordering) through the
shared :class:`~tap_acumatica.streams.AcumaticaStream` machinery (overlapping pages with an
anchor check; windowed incremental reads when ``inquiry_replication_keys`` names a
date-time column).

Values: Edm.Decimal stays exact (``Decimal``, whether it arrives as a JSON number or as a
string as v3 writes it), Edm.Int64 strings become integers, Edm.DateTime/DateTimeOffset
become the tap's fixed UTC format (a v3 Edm.DateTime has no offset and is read as UTC),
strings are passed on exactly as sent (CHAR key columns keep their space padding, because
that is the value Acumatica filters and joins on).
"""

from __future__ import annotations

import decimal
import re
import threading
import typing as t
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import quote

from tap_acumatica.datetimes import normalize_datetime
from tap_acumatica.errors import (
    AcumaticaAPIError,
    AcumaticaError,
    AcumaticaResponseError,
    ConfigError,
    body_detail,
)
from tap_acumatica.schemas import schema_types
from tap_acumatica.streams import AcumaticaStream, Record

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.streams import Stream

    from tap_acumatica.client import AcumaticaClient
    from tap_acumatica.tap import TapAcumatica

URL_STYLES = ("auto", "v4", "legacy")
FAMILY_LABEL = {
    "v4": "OData v4 (t/<company>/api/odata/gi/)",
    "legacy": "legacy OData v3 (odata/<company>/)",
}
DATETIME_TYPES = frozenset({"Edm.DateTime", "Edm.DateTimeOffset"})
MAX_NEXT_LINKS = 100

# EDM primitive type -> JSON schema (every column nullable: GIs return NULLs for outer joins
# even where the DAC field is not nullable).
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
_FALLBACK_SCHEMA = {"type": ["string", "null"]}


def type_name_of(entity_set: str) -> str:
    """Acumatica's identifier for an inquiry title: non-identifier characters stripped."""
    return re.sub(r"[^A-Za-z0-9_]", "", entity_set)


# --- $metadata -----------------------------------------------------------------------------


@dataclass
class InquirySpec:
    """One entity set of the GI service."""

    name: str
    type_name: str
    columns: dict[str, str]  # column -> EDM type, in document order
    keys: list[str]
    function_import: str | None = None
    parameters: list[str] = field(default_factory=list)

    @property
    def parameterised(self) -> bool:
        return self.function_import is not None

    def json_schema(self) -> dict[str, t.Any]:
        return {
            "type": "object",
            "properties": {
                name: dict(EDM_SCHEMAS.get(edm, _FALLBACK_SCHEMA))
                for name, edm in self.columns.items()
            },
        }


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def parse_metadata(document: bytes | str) -> dict[str, InquirySpec]:
    """EDMX (v3 ``Version="1.0"`` or v4 ``Version="4.0"``) -> entity set name -> spec."""
    try:
        root = ET.fromstring(document)  # noqa: S314 - the instance's own metadata, no DTDs
    except ET.ParseError as exc:
        raise AcumaticaResponseError(f"OData $metadata is not valid XML: {exc}.") from None
    if _local(root.tag) != "Edmx":
        raise AcumaticaResponseError(
            f"OData $metadata is not an EDMX document (root element <{_local(root.tag)}>)."
        )
    types: dict[str, tuple[dict[str, str], list[str]]] = {}
    functions: dict[str, list[str]] = {}  # v4 Function name (qualified and bare) -> parameters
    sets: list[tuple[str, str]] = []
    imports: list[ET.Element] = []
    for schema in root.iter():
        if _local(schema.tag) != "Schema":
            continue
        namespace = schema.get("Namespace", "")
        for element in schema:
            kind = _local(element.tag)
            if kind == "EntityType":
                columns = {
                    p.get("Name", ""): p.get("Type", "Edm.String")
                    for p in _children(element, "Property")
                    if p.get("Name")
                }
                keys = [
                    ref.get("Name", "")
                    for key in _children(element, "Key")
                    for ref in _children(key, "PropertyRef")
                    if ref.get("Name")
                ]
                name = element.get("Name", "")
                types[name] = types[f"{namespace}.{name}"] = (columns, keys)
            elif kind == "Function":
                params = [p.get("Name", "") for p in _children(element, "Parameter")]
                name = element.get("Name", "")
                functions[name] = functions[f"{namespace}.{name}"] = params
            elif kind == "EntityContainer":
                for item in element:
                    item_kind = _local(item.tag)
                    if item_kind == "EntitySet" and item.get("Name"):
                        sets.append((item.get("Name", ""), item.get("EntityType", "")))
                    elif item_kind == "FunctionImport":
                        imports.append(item)
    specs: dict[str, InquirySpec] = {}
    for name, type_ref in sets:
        columns, keys = types.get(type_ref) or types.get(type_ref.rsplit(".", 1)[-1]) or ({}, [])
        specs[name] = InquirySpec(
            name=name, type_name=type_ref.rsplit(".", 1)[-1], columns=dict(columns), keys=list(keys)
        )
    for item in imports:
        target = item.get("EntitySet", "")
        spec = specs.get(target)
        if spec is None:
            continue
        function = item.get("Function")
        if function is not None:  # v4: parameters live on the Function
            params = functions.get(function, [])
        else:  # v3: parameters live on the FunctionImport
            params = [p.get("Name", "") for p in _children(item, "Parameter")]
        spec.function_import = item.get("Name")
        spec.parameters = [p for p in params if p]
    return specs


# --- the service (URL family) --------------------------------------------------------------


class ODataService:
    """The GI service root of this run: which URL family, resolved once (thread-safe)."""

    def __init__(self, tap: TapAcumatica) -> None:
        self._tap = tap
        config = tap.config
        self.style = str(config.get("odata_url_style") or "auto")
        if self.style not in URL_STYLES:
            raise ConfigError(
                f"Setting 'odata_url_style' must be one of {', '.join(URL_STYLES)}; "
                f"got {self.style!r}."
            )
        self.company = str(config.get("company") or "")
        if self.style == "v4" and not self.company:
            raise ConfigError(
                "odata_url_style v4 needs setting 'company' (the tenant name in "
                "t/<company>/api/odata/gi/)."
            )
        self._family: str | None = None if self.style == "auto" else self.style
        self._lock = threading.Lock()

    @property
    def client(self) -> AcumaticaClient:
        return self._tap.client

    def root(self, family: str) -> str:
        """Service root path (relative to the instance base, ending in '/')."""
        tenant = self.client.quote_segment(self.company) if self.company else ""
        if family == "v4":
            return f"t/{tenant}/api/odata/gi/"
        return f"odata/{tenant}/" if tenant else "odata/"

    @property
    def family(self) -> str:
        """ "v4" or "legacy" (probing the instance when the style is ``auto``)."""
        with self._lock:
            if self._family is None:
                self._family = self._probe()
                self._tap.logger.info(
                    "odata_url_style auto: using %s at %s.",
                    FAMILY_LABEL[self._family],
                    self.client.url(self.root(self._family)),
                )
            return self._family

    def base_params(self, family: str | None = None) -> dict[str, str]:
        """v3 answers Atom XML unless asked for JSON."""
        return {"$format": "json"} if (family or self.family) == "legacy" else {}

    def _probe(self) -> str:
        tried: list[str] = []
        candidates = ["v4", "legacy"] if self.company else ["legacy"]
        if not self.company:
            self._tap.logger.info(
                "odata_url_style auto: no 'company' set, so only the legacy URL (odata/) applies."
            )
        for family in candidates:
            url = self.client.url(self.root(family))
            response = self.client.request(
                "GET",
                url,
                params=self.base_params(family),
                what=f"OData service document ({family})",
            )
            if response.status_code in (401, 403):
                raise AcumaticaAPIError(
                    f"OData service document at {url}: HTTP {response.status_code} "
                    f"({body_detail(response)}). Check 'username'/'password' (or the OAuth "
                    "settings) and that the user may use OData.",
                    response.status_code,
                )
            if response.status_code == 200 and _is_json(response):
                try:
                    body = self.client.parse_json(response, "OData service document")
                except AcumaticaError:
                    body = None
                if isinstance(body, dict) and ("value" in body or "d" in body):
                    return family
            tried.append(f"{url} (HTTP {response.status_code})")
        raise ConfigError(
            "No OData generic-inquiry service found; tried " + ", ".join(tried) + ". Check "
            "'url' and 'company', or set 'odata_url_style'."
        )

    def metadata(self) -> dict[str, InquirySpec]:
        family = self.family
        url = self.client.url(self.root(family) + "$metadata")
        what = f"OData $metadata ({family})"
        response = self.client.request("GET", url, what=what, headers={"Accept": "application/xml"})
        if response.status_code != 200:
            raise AcumaticaAPIError(
                f"{what}: HTTP {response.status_code} from {url} ({body_detail(response)}).",
                response.status_code,
            )
        return parse_metadata(response.content)


def _is_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "").lower()


# --- literals --------------------------------------------------------------------------------


def odata_literal(value: t.Any) -> str:
    """A parameter value as an OData literal (strings quoted, quotes doubled)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


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


def _rows_of(body: t.Any) -> tuple[list[dict[str, t.Any]], str | None]:
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


# --- the stream ------------------------------------------------------------------------------


def datetime_columns(schema: t.Mapping[str, t.Any]) -> list[str]:
    """An inquiry's date-time columns: each can be its replication key."""
    return [
        name
        for name, prop in schema.get("properties", {}).items()
        if prop.get("format") == "date-time"
    ]


class InquiryStream(AcumaticaStream):
    """One generic inquiry (entity set) of the OData GI service.

    Read in full unless a date-time column is chosen as its replication key, in the
    catalog (``replication-key``; Meltano's ``metadata:``) or by the
    ``inquiry_replication_keys`` shortcut."""

    kind = "inquiry"

    def __init__(
        self,
        tap: TapAcumatica,
        service: ODataService,
        name: str,
        schema: dict[str, t.Any],
        *,
        keys: list[str],
        replication_key: str | None = None,
        parameters: t.Mapping[str, t.Any] | None = None,
        function_import: str | None = None,
    ) -> None:
        super().__init__(
            tap,
            name,
            schema,
            replication_key=replication_key,
            primary_keys=list(keys),
            valid_replication_keys=datetime_columns(schema),
            setting_replication_key=replication_key,
        )
        self.service = service
        self.keys = list(keys)
        self.parameters = dict(parameters) if parameters is not None else None
        self.function_import = function_import or f"{type_name_of(name)}_WithParameters"
        self._transform = compile_record(schema)
        self._order_lock = threading.Lock()
        columns = list(schema.get("properties", {}))
        self._order: list[str] = list(keys) if keys else columns
        self._unsortable: set[str] = set()

    # URL family ------------------------------------------------------------------------------

    @property
    def family(self) -> str:
        return self.service.family

    @property
    def filter_dialect(self) -> str:  # type: ignore[override]
        return "odata4" if self.family == "v4" else "odata3"

    @property
    def path(self) -> str:  # type: ignore[override]
        return self.service.root(self.family) + self._resource()

    def _resource(self) -> str:
        """The entity set, or ``<Type>_WithParameters(...)`` with the configured values."""
        if self.parameters is None:
            return self.client.quote_segment(self.name)
        fname = self.client.quote_segment(self.function_import)
        if self.family == "legacy":  # v3 service operation: parameters in the query string
            return fname
        args = ",".join(
            f"{quote(str(k), safe='')}={quote(odata_literal(v), safe=chr(39))}"
            for k, v in self.parameters.items()
        )
        return f"{fname}({args})"

    def describe(self) -> str:
        return f"inquiry {self.name!r}"

    def read_server_clock(self) -> None:
        """GET the service document: one row of the inquiry would cost a server-side sort.
        Only its ``Date`` header is used; a refusal shows up, explained, on the next read."""
        self.client.request(
            "GET",
            self.client.url(self.service.root(self.family)),
            params=self.service.base_params(self.family),
            what="OData service document",
        )

    # Query options ------------------------------------------------------------------------------

    def _selected_columns(self) -> list[str] | None:
        """Selected columns, or None when every column is selected."""
        props = list(self.schema.get("properties", {}))
        chosen = [
            n
            for n in props
            if self.mask.get(("properties", n), True) or n == self.replication_key or n in self.keys
        ]
        return None if len(chosen) == len(props) else chosen

    def _params(
        self, *, filter_expr: str | None, top: int | None, skip: int, census: bool, order: list[str]
    ) -> dict[str, t.Any]:
        params: dict[str, t.Any] = dict(self.service.base_params(self.family))
        if self.parameters is not None and self.family == "legacy":
            for k, v in self.parameters.items():
                params[str(k)] = odata_literal(v)
        if census:
            params["$select"] = str(self.replication_key)
        else:
            chosen = self._selected_columns()
            if chosen:
                params["$select"] = ",".join(chosen)
        if order:
            params["$orderby"] = ",".join(order)
        params.update(self.paging_params(filter_expr, top, skip))
        return params

    # Requests -------------------------------------------------------------------------------------

    def fetch(
        self, *, filter_expr: str | None, top: int | None, skip: int, census: bool = False
    ) -> list[Record]:
        what = (
            f"{self.describe()}"
            + (f" ({filter_expr})" if filter_expr else "")
            + (f" $skip={skip}" if skip else "")
        )
        url = self.client.url(self.path)
        while True:
            with self._order_lock:
                order = list(self._order)
            params = self._params(
                filter_expr=filter_expr, top=top, skip=skip, census=census, order=order
            )
            response = self.client.request("GET", url, params=params, what=what)
            if response.status_code == 400 and self._drop_unsortable(response, order):
                continue
            break
        rows = self._rows(response, what, top)
        if census:
            key = str(self.replication_key)
            return [{key: r.get(key)} for r in rows]
        self.note_response(len(response.content), len(rows))
        transform = self._transform
        return [transform(r) for r in rows]

    def _rows(
        self, response: requests.Response, what: str, top: int | None
    ) -> list[dict[str, t.Any]]:
        self._raise_for_status(response, what)
        rows, link = self._parse(response, what)
        # Server-driven paging: a page cut short by the server must not look like the end.
        follows = 0
        while link and (top is None or len(rows) < top) and follows < MAX_NEXT_LINKS:
            follows += 1
            response = self.client.request("GET", link, what=f"{what} (next link)")
            self._raise_for_status(response, what)
            more, link = self._parse(response, what)
            rows.extend(more)
        return rows if top is None else rows[:top]

    def _parse(
        self, response: requests.Response, what: str
    ) -> tuple[list[dict[str, t.Any]], str | None]:
        body = self.client.parse_json(response, what)
        try:
            return _rows_of(body)
        except AcumaticaResponseError as exc:
            raise AcumaticaResponseError(f"{what}: {exc}") from None

    def _raise_for_status(self, response: requests.Response, what: str) -> None:
        status = response.status_code
        if status == 200:
            return
        detail = body_detail(response)
        if status == 403:
            raise AcumaticaAPIError(
                f"Generic inquiry {self.name!r}: Acumatica answered 403 Forbidden ({detail}). "
                "Open the inquiry on the Generic Inquiry screen (SM208000) and tick "
                "'Expose via OData', and check that user "
                f"{self.config.get('username') or '(token user)'!r} has access rights to "
                "the inquiry.",
                403,
            )
        if status == 404:
            raise AcumaticaAPIError(
                f"Generic inquiry {self.name!r} was not found at {response.url} (HTTP 404: "
                f"{detail}). It may have been renamed or is no longer exposed via OData; run "
                "discovery again.",
                404,
            )
        raise AcumaticaAPIError(f"{what}: HTTP {status}: {detail}", status)

    def _drop_unsortable(self, response: requests.Response, order: list[str]) -> bool:
        """A 400 naming an ordering column (e.g. a calculated one): order without it."""
        detail = body_detail(response)
        lowered = detail.lower()
        if "sort" not in lowered and "order" not in lowered:
            return False
        named = [c for c in order if f"'{c}'" in detail or f'"{c}"' in detail]
        if not named or any(c in self.keys for c in named):
            return False
        with self._order_lock:
            for column in named:
                if column in self._order:
                    self._order.remove(column)
                    self._unsortable.add(column)
        self.logger.warning(
            "%s: the server cannot sort by %s (%s); ordering by the other columns.",
            self.describe(),
            ", ".join(named),
            detail,
        )
        return bool(self._order)

    def record_identity(self, record: Record) -> t.Any:
        if self.keys:
            return tuple(record.get(k) for k in self.keys)
        return tuple(sorted((k, str(v)) for k, v in record.items()))


# --- discovery --------------------------------------------------------------------------------


def _lookup(
    mapping: t.Mapping[str, t.Any], spec_name: str, aliases: t.Iterable[str | None] = ()
) -> tuple[bool, t.Any]:
    for name in (spec_name, *aliases):
        if name and name in mapping:
            return True, mapping[name]
    return False, None


def _settings(tap: TapAcumatica) -> tuple[list[str] | None, dict[str, t.Any], dict[str, str]]:
    config = tap.config
    wanted = config.get("inquiries")
    if wanted is not None and (
        not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted)
    ):
        raise ConfigError("Setting 'inquiries' must be a list of inquiry (entity set) names.")
    params = config.get("inquiry_parameters") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(
            "Setting 'inquiry_parameters' must map inquiry names to objects of "
            'parameter values, e.g. {"Item Availability Data": '
            '{"Warehouse": "MAIN"}}.'
        )
    stamps = config.get("inquiry_replication_keys") or {}
    if not isinstance(stamps, dict) or not all(isinstance(v, str) for v in stamps.values()):
        raise ConfigError(
            "Setting 'inquiry_replication_keys' must map inquiry names to a date-time column name."
        )
    return wanted, params, stamps


def discover(tap: TapAcumatica) -> list[Stream]:
    """Streams of the GI service: from the input catalog if any, else from ``$metadata``."""
    service = ODataService(tap)
    if tap.input_catalog is not None:
        return _streams_from_catalog(tap, service)
    return _streams_from_metadata(tap, service)


def _streams_from_catalog(tap: TapAcumatica, service: ODataService) -> list[Stream]:
    _, params, stamps = _settings(tap)
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
                service,
                name,
                schema,
                keys=keys,
                replication_key=stamp,
                parameters=values if has_params else None,
            )
        )
    return streams


def _streams_from_metadata(tap: TapAcumatica, service: ODataService) -> list[Stream]:
    wanted, params, stamps = _settings(tap)
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
        tap.logger.info(
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
    tap.logger.info(
        "Discovered %d generic inquiries over %s.", len(streams), FAMILY_LABEL[service.family]
    )
    return streams
