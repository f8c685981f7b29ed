"""Errors a user can cause or meet, each rendered as one clear, secret-free line.

The CLI prints ``str(error)`` for these and exits non-zero without a traceback: a nightly
load's log should say what to fix, not where in our code we noticed.
"""

from __future__ import annotations

import json
import re
import typing as t

if t.TYPE_CHECKING:
    import requests


class AcumaticaError(Exception):
    """Base of every expected failure; the message is shown to the user as is."""

    exit_code = 1


class ConfigError(AcumaticaError):
    """The config, catalog or state given to the tap cannot be used."""


class AcumaticaAuthError(AcumaticaError):
    """Signing in failed (credentials, tenant, seats, tokens)."""


class LoginLimitError(AcumaticaAuthError):
    """The licence's API seats (or the user's concurrent logins) are used up."""


class AcumaticaAPIError(AcumaticaError):
    """A request failed for good (after retries where retrying made sense)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OptimizationError(AcumaticaAPIError):
    """The server cannot serve a list with some fields ("Optimization cannot be performed")."""

    def __init__(self, message: str, fields: list[str]) -> None:
        super().__init__(message, 500)
        self.fields = fields


class AcumaticaResponseError(AcumaticaError):
    """The server answered something that is not the JSON Acumatica sends."""


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
OPTIMIZATION_MARK = "optimization cannot be performed"
LOGIN_LIMIT_MARK = "api login limit"


def _html_title(text: str) -> str:
    match = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if match:
        return _SPACE.sub(" ", match.group(1)).strip()
    return _SPACE.sub(" ", _TAG.sub(" ", text)).strip()[:160]


def body_detail(response: requests.Response) -> str:
    """The most useful sentence of an Acumatica, OAuth or OData error body.

    Acumatica puts the real reason in ``exceptionMessage`` (``message`` is the generic
    "An error has occurred."), model validation in ``modelState``, OAuth in
    ``error``/``error_description`` and OData in ``error.message``. Stack traces are never
    shown: they are long and say nothing to a data engineer.
    """
    text = response.text or ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        if body.get("exceptionMessage"):
            return str(body["exceptionMessage"]).strip()
        if isinstance(body.get("modelState"), dict):
            problems = [
                f"{k}: {'; '.join(map(str, v))}" if k else "; ".join(map(str, v))
                for k, v in body["modelState"].items()
            ]
            return f"{body.get('message', '')} {' '.join(problems)}".strip()
        if "error" in body and isinstance(body["error"], str):
            desc = body.get("error_description")
            return f"{body['error']}: {desc}" if desc else str(body["error"])
        odata_error = body.get("error") or body.get("odata.error")
        if isinstance(odata_error, dict):
            message = odata_error.get("message")
            if isinstance(message, dict):
                message = message.get("value")
            return str(message or odata_error)
        if body.get("message"):
            return str(body["message"]).strip()
    if "<html" in text[:500].lower() or "<!doctype" in text[:500].lower():
        return f"HTML page: {_html_title(text)}"
    return _SPACE.sub(" ", text).strip()[:200]


def raise_unless_ok(
    response: requests.Response,
    what: str,
    explain: t.Callable[[requests.Response, str], str | None],
) -> None:
    """200 passes; any other status raises one :class:`AcumaticaAPIError`.

    ``explain(response, detail)`` gives the message for a status the caller can say how to
    fix (a 403 names the role or the screen to open); any other status reads
    ``<what>: HTTP <status>: <detail>``.
    """
    status = response.status_code
    if status == 200:
        return
    detail = body_detail(response)
    raise AcumaticaAPIError(explain(response, detail) or f"{what}: HTTP {status}: {detail}", status)


def optimization_fields(detail: str) -> list[str]:
    """Field names an "Optimization cannot be performed" message blames.

    The message lists one ``Field: reason`` per line after "cause the error:";
    ``Details.OrderQty`` means the Details collection.
    """
    _, _, tail = detail.partition(":")
    fields = []
    for line in re.split(r"[\r\n]+", tail):
        name = line.split(":", 1)[0].strip()
        if name and " " not in name:
            fields.append(name)
    return fields
