"""DAC-based OData: the service root of a run (URL family, ``$metadata``).

``v4``: ``<url>/t/<company>/api/odata/dac/``; ``legacy``: ``<url>/ODatav4/<company>/`` (the
tenant segment may be left out on single-tenant sites). The family is chosen or probed once
per run by :class:`~tap_acumatica.odata.ServiceRoot`; a pasted service URL gives the family
and the tenant as settings (:mod:`tap_acumatica.urls`).
"""

from __future__ import annotations

import typing as t

from tap_acumatica.dac.metadata import DacSpec, build_specs, parse_types
from tap_acumatica.errors import AcumaticaAPIError, body_detail
from tap_acumatica.odata import ServiceRoot

if t.TYPE_CHECKING:
    import requests

FAMILY_LABEL = {
    "v4": "DAC-based OData (t/<company>/api/odata/dac/)",
    "legacy": "DAC-based OData, legacy path (ODatav4/<company>/)",
}
#: What a user without DAC rights is told.
ROLE_HINT = (
    "The user needs the predefined role 'OData4 User' (User Roles, SM201005) and access "
    "rights to the screen that shows this DAC's data (Access Rights by Screen, SM201020)."
)


class DacService(ServiceRoot):
    """The DAC service root of this run (URL family resolved once)."""

    SERVICE = "DAC-based OData service"
    FAMILY_LABEL = FAMILY_LABEL
    V4_NEEDS_COMPANY = (
        "DAC OData v4 needs setting 'company' (the tenant's login name in "
        "t/<company>/api/odata/dac/)."
    )

    def path(self, family: str, tenant: str) -> str:
        if family == "v4":
            return f"t/{tenant}/api/odata/dac/"
        return f"ODatav4/{tenant}/" if tenant else "ODatav4/"

    def explain_refusal(self, url: str, response: requests.Response) -> str | None:
        if response.status_code == 403:
            return f"DAC OData service at {url}: HTTP 403 ({body_detail(response)}). " + ROLE_HINT
        return None

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
