"""Routing of the DAC-based OData service (tests/simulator/dac.py) and its control calls.

Kept apart from server.py so that the router only needs two one-line hooks.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from .wire import Request, Response, json_response, not_found_resource


def kind_of(sub: str) -> str | None:
    """The request kind of a DAC OData path (any letter case), or None for other paths."""
    from .dac import is_dac_path

    if not is_dac_path(sub):
        return None
    return "dac_metadata" if sub.rstrip("/").endswith("$metadata") else "dac"


def route(sim, req: Request) -> Response:
    from .server import _odata_auth

    parts = req.raw_path.split("/")
    service = sim.dac
    tenant = None
    if parts[0].lower() == "t":
        tenant = sim.tenant_named(unquote(parts[1]))
        if tenant is None:
            return not_found_resource(req.base_url + "/" + req.path)
    if not _odata_auth(sim, req, tenant):
        resp = json_response(401, {"message": "Authorization has been denied for this request."})
        resp.headers.append(("WWW-Authenticate", 'Basic realm="Acumatica OData"'))
        return resp
    legacy_tenant = _legacy_tenant(service, parts)
    if legacy_tenant is not None and sim.tenant_named(legacy_tenant) is None:
        return not_found_resource(req.base_url + "/" + req.path)
    status, headers, body, read = service.handle(
        req.method, req.raw_path, req.query, req.headers, req.base_url
    )
    ctype = headers.pop("Content-Type", None)
    response = Response(status, body, content_type=ctype, headers=list(headers.items()))
    if status == 200 and read is not None:
        response.after = lambda: service.after_read(read)
    return response


def _legacy_tenant(service, parts: list[str]) -> str | None:
    """The tenant segment of a legacy ``ODatav4/<tenant>/…`` path, if there is one."""
    if parts[0].lower() == "t" or len(parts) < 2 or not parts[1]:
        return None
    head = unquote(parts[1])
    if head.startswith("$") or "(" in head or head.lower() in service._by_name:
        return None
    return head


def control(sim, req: Request, args: list[str]) -> Response:
    """``__control/dac/{truth,deleted}/<DAC>``, ``POST __control/dac/{mutate,live}``."""
    service = sim.dac
    action = args[0] if args else ""
    body = json.loads(req.body.decode() or "{}") if req.body else {}
    if action == "truth" and len(args) > 1:
        show = req.query.get("deleted", "") in ("1", "true")
        archived = req.query.get("archived", "") in ("1", "true")
        return json_response(200, service.truth(args[1], show, archived))
    if action == "deleted" and len(args) > 1:
        return json_response(200, service.deleted(args[1]))
    if action == "mutate" and req.method == "POST":
        return json_response(
            200,
            service.mutate(
                body["dac"],
                int(body.get("update", 0)),
                int(body.get("insert", 0)),
                int(body.get("delete", 0)),
            ),
        )
    if action == "live" and req.method == "POST":
        service.live = dict(body)
        service._live_count = 0
        return json_response(200, {"live": service.live})
    if action == "metadata-size":
        return json_response(200, {"bytes": len(service.metadata())})
    return json_response(404, {"error": f"unknown DAC control call {req.method} {action}"})
