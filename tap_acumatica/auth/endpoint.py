"""Acumatica's OAuth 2 token endpoint (``identity/connect/token``): one call, one clear error.

An OAuth error answer (``invalid_grant``, ``invalid_client``, ``unauthorized_client``...)
becomes one :class:`TokenRefused` whose message names the setting or the Connected
Application (SM303010) option to fix. Used by the authenticators (:mod:`.oauth`) and by
``tap-acumatica-auth`` (:mod:`.cli`).
"""

from __future__ import annotations

import contextlib
import typing as t

from tap_acumatica.errors import AcumaticaAuthError, body_detail
from tap_acumatica.http.client import ensure_json_api

if t.TYPE_CHECKING:
    from tap_acumatica.http.client import AcumaticaClient

TOKEN_PATH = "identity/connect/token"  # noqa: S105 - a URL path
AUTHORIZE_PATH = "identity/connect/authorize"


class TokenResponse(t.NamedTuple):
    access_token: str
    expires_in: float
    refresh_token: str | None
    scope: str | None


class TokenRefused(AcumaticaAuthError):
    """The token endpoint answered an OAuth error; ``code`` is its ``error`` field."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


GRANT_NAMES = {
    "password": "resource-owner password",
    "refresh_token": "refresh token",
    "authorization_code": "authorization code",
}
FLOW_FOR_GRANT = {
    "password": "Resource Owner Password Credentials",
    "refresh_token": "Authorization Code (or Resource Owner Password) with offline_access",
    "authorization_code": "Authorization Code",
}


def explain_token_error(code: str, detail: str, grant: str, base_url: str) -> str:
    """One clear, secret-free sentence per OAuth error of the token endpoint."""
    name = GRANT_NAMES.get(grant, grant)
    if code == "invalid_client":
        return (
            f"OAuth: {base_url} rejected the client (invalid_client). Check "
            "'oauth_client_id' (GUID@Tenant, as shown on the Connected Applications screen "
            "SM303010) and 'oauth_client_secret', and that the Connected Application is active "
            "and the secret has not expired."
        )
    if code == "invalid_grant" and grant == "password":
        return (
            "OAuth: the password grant was refused (invalid_grant): check 'username' and "
            "'password', and that this user may sign in to the tenant named in "
            "'oauth_client_id'."
        )
    if code == "invalid_grant" and grant == "refresh_token":
        return (
            "OAuth: the refresh token was refused (invalid_grant): it has expired, was "
            "revoked, or was already used (refresh tokens rotate)."
        )
    if code == "invalid_grant" and grant == "authorization_code":
        return (
            "OAuth: the authorization code was refused (invalid_grant): it expired, was "
            "already used, or the redirect URI does not match the one of the authorize request."
        )
    if code in ("unsupported_grant_type", "unauthorized_client"):
        return (
            f"OAuth: the Connected Application does not allow the {name} grant ({code}). In "
            f"SM303010 set its OAuth 2.0 flow to {FLOW_FOR_GRANT.get(grant, 'a matching flow')}"
            ", or choose the 'auth_scheme' that matches the flow it is registered for."
        )
    if code == "invalid_scope":
        return (
            "OAuth: the server refused the requested scope (invalid_scope). Check "
            "'oauth_scope' (default 'api offline_access')."
        )
    return f"OAuth: the {name} grant failed: {detail}"


def request_token(client: AcumaticaClient, grant: str, form: t.Mapping[str, str]) -> TokenResponse:
    """POST the token endpoint; an OAuth error becomes one :class:`TokenRefused`."""
    data = {"grant_type": grant, **form}
    response = client.send_raw(
        "POST",
        client.url(TOKEN_PATH),
        data=data,
        what=f"OAuth token ({grant} grant)",
    )
    ensure_json_api(response, f"OAuth token ({grant} grant)", client.base_url)
    body: t.Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        try:
            expires_in = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            expires_in = 3600.0
        return TokenResponse(
            str(body["access_token"]),
            expires_in,
            str(body["refresh_token"]) if body.get("refresh_token") else None,
            str(body["scope"]) if body.get("scope") else None,
        )
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = body["error"]
        detail = client.redact(body_detail(response))
        raise TokenRefused(explain_token_error(code, detail, grant, client.base_url), code)
    client.raise_if_not_api(response, f"OAuth token ({grant} grant)")
    raise AcumaticaAuthError(
        f"OAuth: the {GRANT_NAMES.get(grant, grant)} grant failed (HTTP "
        f"{response.status_code}): {client.redact(body_detail(response))}"
    )
