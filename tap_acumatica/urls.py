"""What a pasted ``url`` means: the instance root, and the settings the URL implies.

Users paste whatever their browser, Power BI or the API docs show them: the instance root,
a REST endpoint URL (``…/entity/Default/24.200.001/``), the OData URL Acumatica shows for
a tenant (``…/t/MyCompany/api/odata/gi/``, legacy ``…/odata/MyCompany/``, DAC-based
``…/t/MyCompany/api/odata/dac/`` or ``…/ODatav4/MyCompany/``), sometimes with
``$metadata`` or an inquiry after it, or a page of the web UI
(``…/Main?CompanyID=MyCompany&ScreenId=AR303000``, ``…/Frames/Login.aspx``,
``…/(W(3))/Main``, ``…/Pages/AR/AR303000.aspx``). Each names the same instance root; many
also name the endpoint, the tenant or the OData URL family. IIS matches path segments
case-insensitively, so ``/OData/`` and ``/Entity/`` are the same as ``/odata/`` and
``/entity/``.

Pure: no I/O, no logging. :func:`parse_url` reads a URL; :func:`resolve` checks it against
the settings and returns the settings to add, raising one :class:`ConfigError` when the URL
and a setting contradict each other.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from tap_acumatica.errors import ConfigError

#: The API a URL points at (None: the instance itself, or a page of the web UI).
REST, GI, DAC = "rest", "gi", "dac"
#: The ``schema`` setting that reads each API.
SCHEMA_OF_API = {REST: "REST", GI: "OData", DAC: "DAC"}
API_LABEL = {
    REST: "contract-based REST endpoint URL",
    GI: "OData generic-inquiry URL",
    DAC: "DAC-based OData URL",
}
SERVICE_OF_API = {
    REST: "contract-based REST API",
    GI: "OData generic-inquiry service",
    DAC: "DAC-based OData service",
}
#: Implied settings whose values compare case-insensitively (Acumatica matches tenant and
#: endpoint names so; versions and URL families are exact).
_CASELESS = frozenset({"endpoint_name", "company"})

# Path segments that start something under the instance root (compared in lower case).
_WEB_PAGES = frozenset({"main", "main.aspx", "frames", "pages", "default.aspx", "scripts"})
_COOKIELESS = re.compile(r"^\(\w\(.*\)\)$")  # ASP.NET cookieless session: (W(3)), (S(abc))


@dataclass(frozen=True)
class ParsedURL:
    """What one ``url`` says: the instance root and the settings it implies."""

    given: str
    base: str  # the instance root, ending in '/', no query
    api: str | None = None  # REST, GI, DAC, or None (instance root / web page)
    form: str = "instance root"  # a user's words for what was recognised
    settings: dict[str, str] = field(default_factory=dict)  # implied settings


def _base(parts: t.Any, segments: list[str]) -> str:
    path = "/" + "/".join(segments) + "/" if segments else "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def parse_url(url: str) -> ParsedURL:
    """Read a pasted URL; raises ConfigError for a URL that cannot name an instance."""
    text = str(url).strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"Setting 'url' must be an http(s) URL of the Acumatica instance, got {url!r}."
        )
    if "@" in parts.netloc:
        raise ConfigError(
            "Setting 'url' must not contain credentials; use 'username' and 'password'."
        )
    raw = [s for s in parts.path.split("/") if s]  # the base keeps them as written
    segments = [unquote(s) for s in raw]
    lowered = [s.lower() for s in segments]
    for i, low in enumerate(lowered):
        rest, rest_low = segments[i + 1 :], lowered[i + 1 :]
        if low == "entity":
            return _rest(text, parts, raw[:i], rest, rest_low)
        if low == "t" and rest_low[1:3] == ["api", "odata"]:
            return _odata_v4(text, parts, raw[:i], rest, rest_low)
        if low in ("odata", "odatav4"):
            return _odata_legacy(text, parts, raw[:i], low, rest)
        if low == "identity":  # OAuth endpoints live under the instance root too
            return ParsedURL(text, _base(parts, raw[:i]), form="OAuth endpoint URL")
        if low in _WEB_PAGES or _COOKIELESS.match(low) or low.endswith(".aspx"):
            return _web_page(text, parts, raw[:i])
    return ParsedURL(text, _base(parts, raw))


def _rest(text: str, parts: t.Any, root: list[str], rest: list[str], low: list[str]) -> ParsedURL:
    settings: dict[str, str] = {}
    if rest and low[0] != "auth":  # entity/auth/login: the login URL, no endpoint
        settings["endpoint_name"] = rest[0]
        if len(rest) > 1 and low[1] != "swagger.json":
            settings["endpoint_version"] = rest[1]
    return ParsedURL(text, _base(parts, root), REST, API_LABEL[REST], settings)


def _odata_v4(
    text: str, parts: t.Any, root: list[str], rest: list[str], low: list[str]
) -> ParsedURL:
    # rest = [<Tenant>, api, odata, gi|dac, (resource ...)]
    kind = low[3] if len(low) > 3 else ""
    if kind not in (GI, DAC):
        raise ConfigError(
            f"Setting 'url' ({text}) is an OData URL without a known service "
            f"({'/'.join(rest[3:4]) or 'none'}): "
            "expected …/t/<Tenant>/api/odata/gi/ (generic inquiries) or …/api/odata/dac/."
        )
    # What follows the service root (an inquiry, a DAC, $metadata) names no setting.
    settings = {"company": rest[0], "odata_url_style": "v4"}
    return ParsedURL(text, _base(parts, root), kind, API_LABEL[kind], settings)


def _odata_legacy(
    text: str, parts: t.Any, root: list[str], marker: str, rest: list[str]
) -> ParsedURL:
    # odata/<Tenant>/… (generic inquiries, OData v3) or ODatav4/<Tenant>/… (DACs); the
    # tenant segment is left out on single-tenant sites: then $metadata may follow at once.
    kind = GI if marker == "odata" else DAC
    settings = {"odata_url_style": "legacy"}
    if rest and not rest[0].startswith("$"):
        settings["company"] = rest[0]
    return ParsedURL(text, _base(parts, root), kind, API_LABEL[kind], settings)


def _web_page(text: str, parts: t.Any, root: list[str]) -> ParsedURL:
    query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=False)}
    settings = {"company": query["companyid"]} if query.get("companyid") else {}
    return ParsedURL(text, _base(parts, root), None, "page of the web UI", settings)


def normalize_base_url(url: str) -> str:
    """The instance root of any URL form, ending in '/' (see :func:`parse_url`)."""
    return parse_url(url).base


@dataclass(frozen=True)
class Resolution:
    """The URL read against the settings: what to add to the config, and the log line."""

    parsed: ParsedURL
    taken: dict[str, str]  # settings taken from the URL (not set by the user)

    def describe(self) -> str:
        """One line for the log: the base URL, and any setting taken from the URL."""
        line = f"Acumatica instance {self.parsed.base}"
        if self.parsed.form != "instance root":
            line += f" (url recognised as: {self.parsed.form})"
        if self.taken:
            line += "; from the url: " + ", ".join(f"{k}={v!r}" for k, v in self.taken.items())
        return line + "."


def resolve(config: t.Mapping[str, t.Any]) -> Resolution:
    """Check ``url`` against ``schema`` and the settings it implies.

    A setting the URL implies is taken from it when not set; a set one must agree. A URL
    of another API than ``schema`` reads is one error naming the fix.
    """
    parsed = parse_url(str(config.get("url") or ""))
    schema = str(config.get("schema") or "REST")
    wanted = SCHEMA_OF_API.get(parsed.api or "")
    if wanted is not None and parsed.api != REST and wanted != schema:
        raise ConfigError(
            f"Setting 'url' ({parsed.given}) is a URL of the {SERVICE_OF_API[parsed.api or '']}"
            f", but 'schema' is {schema}: "
            f"set 'schema' to {wanted} to read it"
            + (
                f", or set 'url' to the instance root {parsed.base} to read "
                + ("contract-based REST entities" if schema == "REST" else "generic inquiries")
                if schema in ("REST", "OData")
                else ""
            )
            + "."
        )
    taken: dict[str, str] = {}
    for name, value in parsed.settings.items():
        if schema != "REST" and name in ("endpoint_name", "endpoint_version"):
            continue
        if schema == "REST" and name == "odata_url_style":
            continue
        current = config.get(name)
        if current in (None, "") or (name == "odata_url_style" and current == "auto"):
            taken[name] = value
            continue
        same = str(current).lower() == value.lower() if name in _CASELESS else str(current) == value
        if not same:
            raise ConfigError(
                f"Setting {name!r} is {current!r} but 'url' ({parsed.given}) says {value!r}; "
                f"remove {name!r} or change 'url' so they agree."
            )
    return Resolution(parsed, taken)
