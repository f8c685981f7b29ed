"""Checking a config against the instance: sign in, reach the API ``schema`` names.

What ``source-acumatica check`` (Airbyte's connection check) runs. The SDK's ``--test``
discovers every stream and reads a record from each (a hundred requests on a REST
endpoint); a connection check only has to prove what every sync needs first: the
credentials sign in, and the configured API answers this user. Errors are the tap's own
(:class:`~tap_acumatica.errors.AcumaticaError`, one clear line), so a wrong password reads
the same here as in a Singer run. Signing out is the caller's ``RunContext.close()``.
"""

from __future__ import annotations

import typing as t

from tap_acumatica.errors import AcumaticaAPIError, raise_unless_ok
from tap_acumatica.odata import rows_of

if t.TYPE_CHECKING:
    from tap_acumatica.odata import ServiceRoot
    from tap_acumatica.run import RunContext


def check_connection(run: RunContext) -> str:
    """Sign in and reach the configured API; returns what was reached, in one line.

    REST: the endpoint list (``GET entity``: the endpoint and version are served) and the
    endpoint's swagger.json (it needs a signed-in session, so it also proves a given access
    token). OData and DAC: the service document of the configured (or probed) URL family,
    which needs the user's credentials and OData rights.
    """
    run.client.open()
    schema = run.settings.schema
    if schema == "OData":
        from tap_acumatica.inquiries.service import InquiryService

        return _service_document(InquiryService(run), "generic inquiries")
    if schema == "DAC":
        from tap_acumatica.dac.service import DacService

        return _service_document(DacService(run), "DACs")
    from tap_acumatica.rest.metadata import parse_entities
    from tap_acumatica.rest.service import RestService

    service = RestService(run)
    version = service.endpoint_version()
    entities = parse_entities(service.swagger())
    return (
        f"REST endpoint {service.endpoint_name}/{version} at {run.client.base_url} answers: "
        f"{len(entities)} entities."
    )


def _service_document(service: ServiceRoot, what: str) -> str:
    """GET the service document of the run's URL family (refusals explained as in a sync)."""
    family = service.family
    url = service.root(family)
    response = service.client.request(
        "GET", url, params=service.document_params(family), what=f"{service.SERVICE} document"
    )
    refusal = service.explain_refusal(url, response)
    if refusal is not None:
        raise AcumaticaAPIError(refusal, response.status_code)
    raise_unless_ok(response, f"{service.SERVICE} document at {url}", lambda _r, _d: None)
    rows, _ = rows_of(service.client.parse_json(response, f"{service.SERVICE} document"))
    return f"{service.SERVICE} at {url} answers: {len(rows)} {what} exposed."
