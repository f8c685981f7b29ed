"""Small HTTP value types shared by the handlers (request, response, error bodies)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from email.utils import formatdate


@dataclass
class Request:
    method: str
    path: str  # below the instance path, no leading slash
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # http://host:port/<instance>
    raw_path: str = ""  # like path, still percent-encoded (OData wants it raw)

    def basic(self) -> tuple[str, str] | None:
        """(user, password) of an ``Authorization: Basic`` header; None if absent or bad."""
        authz = self.headers.get("authorization", "")
        if not authz.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(authz[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password

    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header, if any."""
        authz = self.headers.get("authorization", "")
        return authz[7:].strip() if authz.lower().startswith("bearer ") else None

    @property
    def cookies(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in self.headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                out[name] = value
        return out


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False  # close the connection without answering
    content_encoding: str | None = None  # body already encoded (gzip) by a render worker
    after: object = None  # callable run once the body is rendered, before it is sent


def json_response(status: int, payload: object, headers=None) -> Response:
    return Response(
        status, json.dumps(payload, ensure_ascii=False).encode(), headers=list(headers or [])
    )


def http_error(
    status: int,
    message: str,
    exception_message: str | None = None,
    exception_type: str = "PX.Data.PXException",
    stack: str = "",
) -> Response:
    """Acumatica's HttpError body (Web API): message, exceptionMessage, exceptionType, stackTrace."""
    payload: dict = {"message": message}
    if exception_message is not None:
        payload.update(
            exceptionMessage=exception_message,
            exceptionType=exception_type,
            stackTrace=stack or "   at PX.Api.ContractBased.WebApi (simulated)",
        )
    return json_response(status, payload)


def invalid_request(detail: str) -> Response:
    """400 like the real sample-error-400-put-Customer body (message + modelState)."""
    return json_response(400, {"message": "The request is invalid.", "modelState": {"": [detail]}})


def not_found_resource(url: str) -> Response:
    return json_response(
        404, {"message": f"No HTTP resource was found that matches the request URI '{url}'."}
    )


def unauthorized(bearer: bool = False) -> Response:
    """A data call without a valid session or token (message: Web API's [Authorize] default)."""
    resp = json_response(401, {"message": "Authorization has been denied for this request."})
    if bearer:
        resp.headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
    return resp


def html(status: int, text: str) -> Response:
    return Response(status, text.encode(), content_type="text/html; charset=utf-8")


def http_date(offset_seconds: float = 0) -> str:
    """A cookie-style date: ``Sun, 17-Dec-2023 02:13:54 GMT``."""
    import time

    text = formatdate(time.time() + offset_seconds, usegmt=True)  # Sun, 17 Dec 2023 02:13:54 GMT
    day, d, mon, year, rest = text.split(" ", 4)
    return f"{day} {d}-{mon}-{year} {rest}"


LOGIN_PAGE = """<!DOCTYPE html>
<html><head><title>Sign In</title></head>
<body><form method="post" action="./Frames/Login.aspx" id="form1">
<div class="login_page">Acumatica <input name="txtUser" /><input name="txtPass" type="password" />
<input type="submit" name="btnLogin" value="Sign In" /></div></form></body></html>
"""

QUERY_TOO_LONG = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>IIS 10.0 Detailed Error - 404.15 - Not Found</title></head>
<body><div id="content"><div class="content-container"><h3>HTTP Error 404.15 - Not Found</h3>
<h4>The request filtering module is configured to deny a request where the query string is too long.</h4>
</div><div class="content-container"><fieldset><h4>Most likely causes:</h4>
<ul><li>Request filtering is configured on the Web server to deny the request because the query string is too long.</li></ul>
</fieldset></div></div></body></html>
"""
