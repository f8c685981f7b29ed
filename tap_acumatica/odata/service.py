"""The OData generic-inquiry service of this run: which URL family, probed once.

Two URL families serve the same inquiries:

* ``v4`` (2024 R2+): ``<base>/t/<company>/api/odata/gi/`` (OData v4, EDMX 4.0);
* ``legacy``: ``<base>/odata/<company>/`` (OData v3, EDMX 1.0; the tenant segment may be
  left out on single-tenant sites).

``odata_url_style: auto`` probes the v4 service document first, then the legacy one, and
logs which family it uses (once per run).
"""

from __future__ import annotations

import threading
import typing as t

from tap_acumatica.errors import AcumaticaAPIError, AcumaticaError, ConfigError, body_detail
from tap_acumatica.odata.metadata import InquirySpec, parse_metadata

if t.TYPE_CHECKING:
    import requests

    from tap_acumatica.client import AcumaticaClient, Run

URL_STYLES = ("auto", "v4", "legacy")
FAMILY_LABEL = {
    "v4": "OData v4 (t/<company>/api/odata/gi/)",
    "legacy": "legacy OData v3 (odata/<company>/)",
}


class ServiceRoot:
    """What the GI and the DAC service share: the URL style, the tenant, and the family
    resolved once per run (probed under a lock when the style is ``auto``, then logged)."""

    #: family -> how the log line names it
    FAMILY_LABEL: t.ClassVar[dict[str, str]]

    def __init__(self, run: Run) -> None:
        self._run = run
        settings = run.settings
        self.style = settings.odata_url_style
        if self.style not in URL_STYLES:
            raise ConfigError(
                f"Setting 'odata_url_style' must be one of {', '.join(URL_STYLES)}; "
                f"got {self.style!r}."
            )
        self.company = settings.company
        self._family: str | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> AcumaticaClient:
        return self._run.client

    def root_url(self, family: str) -> str:
        """Absolute service root URL of ``family`` (for the log line)."""
        raise NotImplementedError

    def _probe(self) -> str:
        raise NotImplementedError

    @property
    def family(self) -> str:
        """ "v4" or "legacy" (probing the instance when the style is ``auto``)."""
        with self._lock:
            if self._family is None:
                self._family = self._probe()
                self._run.logger.info(
                    "odata_url_style auto: using %s at %s.",
                    self.FAMILY_LABEL[self._family],
                    self.root_url(self._family),
                )
            return self._family


class ODataService(ServiceRoot):
    """The GI service root of this run: which URL family, resolved once (thread-safe)."""

    FAMILY_LABEL = FAMILY_LABEL

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        if self.style == "v4" and not self.company:
            raise ConfigError(
                "odata_url_style v4 needs setting 'company' (the tenant name in "
                "t/<company>/api/odata/gi/)."
            )
        self._family = None if self.style == "auto" else self.style

    def root(self, family: str) -> str:
        """Service root path (relative to the instance base, ending in '/')."""
        tenant = self.client.quote_segment(self.company) if self.company else ""
        if family == "v4":
            return f"t/{tenant}/api/odata/gi/"
        return f"odata/{tenant}/" if tenant else "odata/"

    def root_url(self, family: str) -> str:
        return self.client.url(self.root(family))

    def base_params(self, family: str | None = None) -> dict[str, str]:
        """v3 answers Atom XML unless asked for JSON."""
        return {"$format": "json"} if (family or self.family) == "legacy" else {}

    def _probe(self) -> str:
        tried: list[str] = []
        candidates = ["v4", "legacy"] if self.company else ["legacy"]
        if not self.company:
            self._run.logger.info(
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
