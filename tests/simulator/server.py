"""The HTTP front: routing, the IIS-level quirks, fault injection and the control API.

One ThreadingHTTPServer speaking HTTP/1.1 with keep-alive (every answer has Content-Length),
a real ``Date`` header and ``Server: Microsoft-IIS/10.0``.  Paths outside the instance path
answer the login page with 200 text/html, as a misconfigured base URL does on a real site.
"""

from __future__ import annotations

import gzip
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from . import control, dacroute, oauth, rest
from .state import DATA_KINDS, Simulator, server_time
from .swagger import contract
from .wire import (
    LOGIN_PAGE,
    QUERY_TOO_LONG,
    Request,
    Response,
    html,
    http_error,
    json_response,
    not_found_resource,
    unauthorized,
)

LONG_OPERATION = (
    "A long operation is running for this screen in the current session. Please try again later."
)
GATEWAY_PAGE = (
    "<html><head><title>{status} - Service Unavailable</title></head><body>"
    "<h1>{status}</h1><p>The service is temporarily unavailable.</p></body></html>"
)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, sim: Simulator) -> None:
        super().__init__(address, Handler)
        self.sim = sim

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.sim.options['instance_path']}/"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls on keep-alive

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, on the ERP's clock (``clock_offset_seconds``)."""
        return super().date_time_string(server_time() if timestamp is None else timestamp)

    def log_message(self, format: str, *args) -> None:
        """Quiet: the tests read counters, not logs."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    # ---- plumbing -----------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        sim: Simulator = self.server.sim
        body = self._read_body()
        split = urlsplit(self.path)
        if len(split.query) > int(sim.options["max_query_string"]):
            self._send(html(404, QUERY_TOO_LONG))
            return
        instance = sim.options["instance_path"]
        path = unquote(split.path)
        if instance and not (path == instance or path.startswith(instance + "/")):
            self._send(html(200, LOGIN_PAGE))
            return
        sub = path[len(instance) :].lstrip("/")
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        req = Request(
            method,
            sub,
            dict(parse_qsl(split.query, keep_blank_values=True)),
            split.query,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            f"http://{host}{instance}",
            split.path[len(instance) :].lstrip("/"),
        )
        sim.commit_due()  # long transactions whose time has come become visible
        if sub.startswith("__control/") or sub == "__control":
            self._send(control.handle(sim, req))
            return
        kind = classify(method, sub)
        # One Counters for the whole request: a reset meanwhile swaps in new ones, and
        # leaving the new ones would count an in-flight request that never entered them.
        counters = sim.counters
        counters.incr("requests")
        counters.incr(f"requests_by_kind.{kind}")
        entry = {
            "kind": kind,
            "method": method,
            "path": sub,
            "query": req.query,
            "start": round(time.time(), 4),
        }
        sim.request_log.append(entry)
        data = kind in DATA_KINDS
        # Every API request counts against the licence (the one it started under, should a
        # reset swap it meanwhile); a refused one never reaches the ERP.
        licence = sim.licence
        if not licence.enter(counters):
            self._send(_licence_refused())
            entry["status"] = 429
            entry["end"] = round(time.time(), 4)
            return
        if data:
            counters.enter()
        try:
            response = self._faulted(sim, req, kind) or route(sim, req, kind)
        except Exception as exc:  # a simulator bug must still answer (and be visible)
            response = http_error(
                500, "An error has occurred.", f"Simulator error: {exc!r}", "System.Exception"
            )
        finally:
            if data:
                counters.leave()
            licence.leave()
        if response.after is not None:
            # The body is already rendered, so the change is not in this page; running it
            # before the send means whatever the client does next already sees it (run
            # after the send, a fast client raced it and saw the old data).
            response.after()
        # Counted as the body is written, not after: a client that reads the counters right
        # after the response would otherwise race the count.
        self._send(response, (lambda sent: counters.incr("bytes_served", sent)) if data else None)
        entry["status"] = response.status
        entry["end"] = round(time.time(), 4)  # a timeline of requests (for profiling runs)

    def _faulted(self, sim: Simulator, req: Request, kind: str) -> Response | None:
        faults = sim.faults
        config = faults.config
        if not config or not faults.applies(kind):
            return None
        latency = float(config.get("latency_ms") or 0)
        if latency:
            time.sleep(latency / 1000)
        with sim.lock:
            fault = faults.draw(kind)
        if fault is None:
            return None
        sim.counters.incr(f"faults_injected.{fault}")
        if fault == "drop":
            return Response(0, drop=True)
        if fault == "429":
            resp = _licence_refused()
            if config.get("retry_after") is not None:
                resp.headers.append(("Retry-After", str(config["retry_after"])))
            return resp
        if fault == "bad_body":
            return _bad_body(sim, req, kind, str(config.get("bad_body") or "truncated"))
        if fault == "409":
            return http_error(
                409, LONG_OPERATION, LONG_OPERATION, "PX.Data.PXLongOperationException"
            )
        status = int(config.get("status_5xx") or 500)
        if status == 500:
            return http_error(
                500,
                "An error has occurred.",
                "Timeout expired. The timeout period elapsed prior to "
                "completion of the operation or the server is not responding.",
                "System.Data.SqlClient.SqlException",
            )
        return html(status, GATEWAY_PAGE.format(status=status))

    def _send(self, response: Response, count: t.Callable[[int], None] | None = None) -> int:
        """Write the response; returns the body's bytes on the wire (0 when dropped), also
        given to ``count`` just before they are written."""
        if response.drop:
            self.close_connection = True
            return 0
        body = response.body
        headers = list(response.headers)
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        accept = self.headers.get("Accept-Encoding", "")
        if response.content_encoding:
            headers.append(("Content-Encoding", response.content_encoding))
            headers.append(("Vary", "Accept-Encoding"))
        elif len(body) > 512 and "gzip" in accept and response.content_type:
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
            headers.append(("Vary", "Accept-Encoding"))
        self.send_response(response.status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name == "Cache-Control" for name, _ in headers):
            self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(body)))
        # One write for headers and body (end_headers would write the headers separately).
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        if count is not None:
            count(len(body))
        self.wfile.write(head + body if self.command != "HEAD" else head)
        return len(body)


def _licence_refused() -> Response:
    """The 429 of a request the licence refuses (too many queued, or per-minute budget)."""
    return http_error(
        429,
        "API request limit exceeded.",
        "The request was rejected because the number of API requests "
        "per minute allowed by the license has been exceeded.",
        "PX.Api.ApiRequestLimitException",
    )


def _bad_body(sim: Simulator, req: Request, kind: str, style: str) -> Response:
    """A 200 that is not the JSON a client expects: the real answer cut in half
    (``truncated``: a proxy or a worker recycled mid-write, Content-Length matching the cut)
    or a plain-text page (``text``)."""
    if style == "text":
        return Response(200, b"Service is starting, please wait.", content_type="text/plain")
    real = route(sim, req, kind)
    if real.status != 200:
        return real
    body = gzip.decompress(real.body) if real.content_encoding == "gzip" else real.body
    return Response(
        200,
        body[: max(1, len(body) // 2)],
        content_type=real.content_type,
        headers=list(real.headers),
        after=real.after,
    )


def classify(method: str, sub: str) -> str:
    """The request kind counted in counters.requests_by_kind.

    IIS matches path segments case-insensitively (``/Entity/``, ``/OData/``), so the
    segments that choose the API are compared in lower case."""
    parts = sub.rstrip("/").split("/")
    parts[:5] = [p.lower() for p in parts[:5]]
    dac_kind = dacroute.kind_of(sub)  # DAC-based OData (tests/simulator/dac.py)
    if dac_kind:
        return dac_kind
    if parts[0] == "entity":
        if len(parts) == 1:
            return "entity_index"
        if parts[1:3] == ["auth", "login"]:
            return "login"
        if parts[1:3] == ["auth", "logout"]:
            return "logout"
        if len(parts) == 4 and parts[3] == "swagger.json":
            return "swagger"
        if len(parts) == 4:
            return "list"
        if len(parts) == 5 and parts[4] == "$adhocschema":
            return "adhoc"
        return "get"
    if parts[0] == "identity":
        return {"token": "token", "authorize": "authorize"}.get(parts[-1], "identity")
    if parts[0] in ("odata", "t"):
        return "odata_metadata" if parts[-1] == "$metadata" else "odata"
    return "other"


def route(sim: Simulator, req: Request, kind: str) -> Response:
    method, parts = req.method, req.path.rstrip("/").split("/") if req.path else [""]
    url = req.base_url + "/" + req.path
    if kind == "entity_index":
        return rest.endpoints(sim)
    if kind == "login":
        return rest.login(sim, req) if method == "POST" else _not_allowed(method)
    if kind == "logout":
        return rest.logout(sim, req) if method == "POST" else _not_allowed(method)
    if kind == "token":
        return oauth.token(sim, req) if method == "POST" else _not_allowed(method)
    if kind == "authorize":
        return oauth.authorize(sim, req)
    if req.path.rstrip("/") == "identity/.well-known/openid-configuration":
        return oauth.openid_configuration(sim, req)
    if kind in ("odata", "odata_metadata"):
        return odata(sim, req)
    if kind in ("dac", "dac_metadata"):
        return dacroute.route(sim, req)
    if parts[0].lower() != "entity" or len(parts) < 4:
        return not_found_resource(url)
    endpoint, version = parts[1], parts[2]
    if endpoint.lower() != "default" or version not in sim.options["versions"]:
        return not_found_resource(url)
    if kind == "swagger" and not sim.options["swagger_requires_auth"]:
        return rest.swagger(sim, version)
    who = rest.authenticate(sim, req)
    if who is None:
        return unauthorized(bearer=req.bearer() is not None)
    if kind == "swagger":
        return rest.swagger(sim, version)
    entity = sim.find_entity(version, parts[3])
    if entity is None:
        return not_found_resource(url)
    if method != "GET":
        return _not_allowed(method)
    if kind == "list":
        response = rest.list_records(sim, req, version, entity)
        if response.status == 200:
            response.after = lambda: _live_mutation(sim, entity)
        return response
    if kind == "adhoc":
        return rest.adhoc_schema(sim, version, entity)
    return rest.get_record(sim, req, version, entity, "/".join(parts[4:]))


def _not_allowed(method: str) -> Response:
    return json_response(
        405, {"message": f"The requested resource does not support http method '{method}'."}
    )


def _live_mutation(sim: Simulator, entity: str) -> None:
    """After every Nth list response of an entity, the ERP changes (a user is working)."""
    config = sim.faults.config.get("live_mutation")
    if not config or config.get("entity") != entity:
        return
    with sim.lock:
        counts = sim.faults.live_counts
        counts[entity] = counts.get(entity, 0) + 1
        if counts[entity] % max(1, int(config.get("every", 1))):
            return
    sim.mutate(entity, int(config.get("update", 0)), int(config.get("insert", 0)))
    sim.counters.incr("faults_injected.live_mutation")


# ---- OData ------------------------------------------------------------------------------------


def odata(sim: Simulator, req: Request) -> Response:
    parts = req.raw_path.split("/")
    if parts[0].lower() == "t":  # segments in any letter case, as IIS matches them
        if len(parts) < 5 or [p.lower() for p in parts[2:5]] != ["api", "odata", "gi"]:
            return not_found_resource(req.base_url + "/" + req.path)
        tenant = sim.tenant_named(unquote(parts[1]))
        if tenant is None:  # an unknown tenant in the URL: no such service
            return not_found_resource(req.base_url + "/" + req.path)
        family = "v4"
        subpath = "/".join(parts[5:])
        root = f"{req.base_url}/{'/'.join(parts[:5])}/"
    else:
        family = "v3"
        tenant = sim.tenant_named(unquote(parts[1])) if len(parts) > 1 and parts[1] else None
        subpath = "/".join(parts[2:] if tenant else parts[1:])
        root = f"{req.base_url}/{'/'.join(parts[:2] if tenant else parts[:1])}/"
    if not _odata_auth(sim, req, tenant):
        resp = json_response(401, {"message": "Authorization has been denied for this request."})
        resp.headers.append(("WWW-Authenticate", 'Basic realm="Acumatica OData"'))
        return resp
    status, out_headers, body = sim.odata.handle(
        req.method, family, tenant, subpath, req.query, dict(req.headers), service_root=root
    )
    ctype = None
    extra = []
    for name, value in out_headers.items():
        if name.lower() == "content-type":
            ctype = value
        else:
            extra.append((name, value))
    return Response(status, body, content_type=ctype, headers=extra)


def _odata_auth(sim: Simulator, req: Request, tenant: str | None) -> bool:
    """HTTP Basic (``user`` or ``user@tenant``), a Bearer token, or a cookie session."""
    if req.headers.get("authorization", "").lower().startswith("basic "):
        basic = req.basic()
        if basic is None:
            return False
        user, password = basic
        name, _, user_tenant = user.partition("@")
        if user_tenant and sim.tenant_named(user_tenant) is None:
            return False
        return name == sim.options["username"] and password == sim.options["password"]
    return rest.authenticate(sim, req) is not None


def serve(sim: Simulator, host: str, port: int) -> SimulatorServer:
    """Bind and start serving on a background thread; returns the server."""
    for version in sim.options["versions"]:
        contract(sim.contract_key(version))  # parse swaggers before READY, not on first use
    server = SimulatorServer((host, port), sim)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="simulator", daemon=True
    ).start()
    return server


__all__ = ["SimulatorServer", "serve"]
