"""DAC-based OData: the service root of a run (URL family, tenant, ``$metadata``).

``v4``: ``<url>/t/<company>/api/odata/dac/``; ``legacy``: ``<url>/ODatav4/<company>/`` (the
tenant segment may be left out on single-tenant sites). ``auto`` probes v4, then legacy,
and logs which it uses; a pasted service URL gives the family and the tenant.
"""

from __future__ import annotations

import typing as t
from urllib.parse import unquote, urlsplit

from tap_acumatica.errors import AcumaticaAPIError, AcumaticaError, ConfigError, body_detail
from tap_acumatica.odata.dac.metadata import DacSpec, build_specs, parse_types
from tap_acumatica.odata.service import ServiceRoot

if t.TYPE_CHECKING:
    from tap_acumatica.client import Run

FAMILY_LABEL = {
    "v4": "DAC-based OData (t/<company>/api/odata/dac/)",
    "legacy": "DAC-based OData, legacy path (ODatav4/<company>/)",
}
#: Days Acumatica keeps deleted-record entries by default (SM207010 "Days to Keep Records").
ROLE_HINT = (
    "The user needs the predefined role 'OData4 User' (User Roles, SM201005) and access "
    "rights to the screen that shows this DAC's data (Access Rights by Screen, SM201020)."
)


# --- the service (URL family) --------------------------------------------------------------


class DacService(ServiceRoot):
    """The DAC service root of this run: URL family and tenant, resolved once."""

    FAMILY_LABEL = FAMILY_LABEL

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.instance, pasted_family, pasted_tenant = _split_service_url(run.client.base_url)
        if pasted_tenant:
            if self.company and self.company.lower() != pasted_tenant.lower():
                raise ConfigError(
                    f"'url' names tenant {pasted_tenant!r} but setting 'company' is "
                    f"{self.company!r}; leave one of them out."
                )
            self.company = pasted_tenant
        if pasted_family and self.style not in ("auto", pasted_family):
            raise ConfigError(
                f"'url' is a {pasted_family} DAC service URL but 'odata_url_style' is "
                f"{self.style!r}."
            )
        style = pasted_family or self.style
        if style == "v4" and not self.company:
            raise ConfigError(
                "DAC OData v4 needs setting 'company' (the tenant's login name in "
                "t/<company>/api/odata/dac/)."
            )
        self._family = None if style == "auto" else style

    def root(self, family: str | None = None) -> str:
        """Absolute service root URL, ending in '/'."""
        family = family or self.family
        tenant = self.client.quote_segment(self.company) if self.company else ""
        if family == "v4":
            return f"{self.instance}t/{tenant}/api/odata/dac/"
        return f"{self.instance}ODatav4/{tenant}/" if tenant else f"{self.instance}ODatav4/"

    def root_url(self, family: str) -> str:
        return self.root(family)

    def _probe(self) -> str:
        tried = []
        for family in ("v4", "legacy") if self.company else ("legacy",):
            url = self.root(family)
            response = self.client.request("GET", url, what=f"DAC OData service ({family})")
            if response.status_code == 403:
                raise AcumaticaAPIError(
                    f"DAC OData service at {url}: HTTP 403 ({body_detail(response)}). " + ROLE_HINT,
                    403,
                )
            if response.status_code == 200 and "json" in response.headers.get("Content-Type", ""):
                try:
                    body = self.client.parse_json(response, "DAC OData service document")
                except AcumaticaError:
                    body = None
                if isinstance(body, dict) and "value" in body:
                    return family
            tried.append(f"{url} (HTTP {response.status_code})")
        raise ConfigError(
            "No DAC-based OData service found; tried " + ", ".join(tried) + ". Check 'url' "
            "and 'company', or set 'odata_url_style'."
        )

    def specs(self, wanted: list[str] | None) -> list[DacSpec]:
        """``$metadata``, stream-parsed (about 20 MB on a real instance)."""
        url = self.root() + "$metadata"
        what = "DAC OData $metadata"
        response = self.client.request(
            "GET", url, what=what, headers={"Accept": "application/xml"}, stream=True
        )
        try:
            if response.status_code != 200:
                detail = body_detail(response)
                hint = f" {ROLE_HINT}" if response.status_code == 403 else ""
                raise AcumaticaAPIError(
                    f"{what}: HTTP {response.status_code} from {url} ({detail}).{hint}",
                    response.status_code,
                )
            response.raw.decode_content = True
            types, sets = parse_types(t.cast("t.IO[bytes]", response.raw))
        finally:
            response.close()
        return build_specs(types, sets, wanted)


def _split_service_url(base_url: str) -> tuple[str, str | None, str | None]:
    """(instance base, family, tenant) of a base URL that may be a pasted service URL."""
    parts = urlsplit(base_url)
    segments = parts.path.split("/")
    lowered = [s.lower() for s in segments]
    family = tenant = None
    cut = len(segments)
    for i, seg in enumerate(lowered):
        if seg == "t" and lowered[i + 2 : i + 5] == ["api", "odata", "dac"]:
            family, tenant, cut = "v4", unquote(segments[i + 1]), i
            break
        if seg == "odatav4":
            family, cut = "legacy", i
            nxt = segments[i + 1] if i + 1 < len(segments) else ""
            if nxt and not nxt.startswith("$"):
                tenant = unquote(nxt)
            break
    path = "/".join(segments[:cut]).rstrip("/") + "/"
    return f"{parts.scheme}://{parts.netloc}{path}", family, tenant or None
