"""The OData generic-inquiry service of this run: its URL family and its ``$metadata``.

Two URL families serve the same inquiries:

* ``v4`` (2024 R2+): ``<base>/t/<company>/api/odata/gi/`` (OData v4, EDMX 4.0);
* ``legacy``: ``<base>/odata/<company>/`` (OData v3, EDMX 1.0; the tenant segment may be
  left out on single-tenant sites).

The family is chosen or probed once per run by :class:`~tap_acumatica.odata.ServiceRoot`.
"""

from __future__ import annotations

import typing as t

from tap_acumatica.errors import AcumaticaAPIError, body_detail
from tap_acumatica.inquiries.metadata import InquirySpec, parse_metadata
from tap_acumatica.odata import ServiceRoot

if t.TYPE_CHECKING:
    import requests

FAMILY_LABEL = {
    "v4": "OData v4 (t/<company>/api/odata/gi/)",
    "legacy": "legacy OData v3 (odata/<company>/)",
}


class InquiryService(ServiceRoot):
    """The generic-inquiry service root of this run (URL family resolved once)."""

    SERVICE = "OData generic-inquiry service"
    FAMILY_LABEL = FAMILY_LABEL
    V4_NEEDS_COMPANY = (
        "odata_url_style v4 needs setting 'company' (the tenant name in t/<company>/api/odata/gi/)."
    )

    def path(self, family: str, tenant: str) -> str:
        if family == "v4":
            return f"t/{tenant}/api/odata/gi/"
        return f"odata/{tenant}/" if tenant else "odata/"

    def document_params(self, family: str | None = None) -> dict[str, str]:
        """v3 answers Atom XML unless asked for JSON."""
        return {"$format": "json"} if (family or self.family) == "legacy" else {}

    def explain_refusal(self, url: str, response: requests.Response) -> str | None:
        if response.status_code in (401, 403):
            return (
                f"OData service document at {url}: HTTP {response.status_code} "
                f"({body_detail(response)}). Check 'username'/'password' (or the OAuth "
                "settings) and that the user may use OData."
            )
        return None

    def metadata(self) -> dict[str, InquirySpec]:
        family = self.family
        url = self.root(family) + "$metadata"
        what = f"OData $metadata ({family})"
        response = self.client.request("GET", url, what=what, headers={"Accept": "application/xml"})
        if response.status_code != 200:
            raise AcumaticaAPIError(
                f"{what}: HTTP {response.status_code} from {url} ({body_detail(response)}).",
                response.status_code,
            )
        return parse_metadata(response.content)
