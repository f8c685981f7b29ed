"""OAuth 2.0 / OpenID Connect endpoints of the instance (``identity/...``).

Grants: password, refresh_token (rotating by default: each use returns a new refresh token and
kills the old one), authorization_code (one use, bound to its redirect_uri) and the implicit
flow from the authorize endpoint; no client_credentials (Acumatica has none).  The authorize
endpoint acts as if a user were already signed in and consented, so flows run without a human.
Errors are OAuth JSON (``{"error": "invalid_client"}``) with status 400.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from .auth import Grant
from .state import Simulator
from .wire import Request, Response, json_response

SCOPES = frozenset({"api", "offline_access", "api:concurrent_access", "openid", "profile", "email"})


def _error(code: str, description: str | None = None) -> Response:
    payload = {"error": code}
    if description:
        payload["error_description"] = description
    return json_response(400, payload, headers=[("Cache-Control", "no-store")])


def _client(sim: Simulator, form: dict, req: Request) -> tuple[str, str] | None:
    """(client_id, tenant) when the client authenticates (body or HTTP Basic)."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if req.headers.get("authorization", "").lower().startswith("basic "):
        basic = req.basic()
        if basic is None:
            return None
        client_id, secret = basic
    clients = sim.options["oauth_clients"]
    if not client_id or client_id not in clients or clients[client_id] != secret:
        return None
    tenant = sim.tenant_named(client_id.partition("@")[2] or sim.tenants[0])
    return (client_id, tenant) if tenant else None


def _scope(text: str | None) -> str | None:
    scope = " ".join((text or "api").split())
    return scope if set(scope.split()) <= SCOPES else None


def token(sim: Simulator, req: Request) -> Response:
    form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    grant = form.get("grant_type")
    counters = sim.counters
    if not grant:
        counters.incr("token_failures")
        return _error("invalid_request", "grant_type is missing")
    client = _client(sim, form, req)
    if client is None:
        counters.incr("token_failures")
        return _error("invalid_client")
    client_id, tenant = client
    opts = sim.options
    with sim.lock:
        auth = sim.auth
        if grant == "password":
            if not form.get("username") or "password" not in form:
                counters.incr("token_failures")
                return _error("invalid_request", "username and password are required")
            user = form["username"].partition("@")[0]
            if user != opts["username"] or form["password"] != opts["password"]:
                counters.incr("token_failures")
                return _error("invalid_grant", "invalid_username_or_password")
            scope = _scope(form.get("scope"))
            if scope is None:
                counters.incr("token_failures")
                return _error("invalid_scope")
            body = auth.issue(client_id, user, tenant, scope)
        elif grant == "refresh_token":
            old = form.get("refresh_token", "")
            stored = auth.refresh_tokens.get(old)
            if not old:
                counters.incr("token_failures")
                return _error("invalid_request", "refresh_token is missing")
            if stored is None or stored.client_id != client_id:
                counters.incr("token_failures")
                return _error("invalid_grant")
            body = auth.issue(client_id, stored.user, tenant, stored.scope)
            if opts["rotate_refresh_tokens"]:
                del auth.refresh_tokens[old]
            else:
                auth.refresh_tokens.pop(body.get("refresh_token", ""), None)
                body["refresh_token"] = old
        elif grant == "authorization_code":
            code = auth.codes.pop(form.get("code", ""), None)
            if (
                code is None
                or code.client_id != client_id
                or (code.redirect_uri != form.get("redirect_uri", ""))
            ):
                counters.incr("token_failures")
                return _error("invalid_grant")
            body = auth.issue(client_id, code.user, tenant, code.scope)
        else:
            counters.incr("token_failures")
            return _error("unsupported_grant_type")
    counters.incr(f"tokens_issued.{grant}")
    return json_response(200, body, headers=[("Cache-Control", "no-store")])


def authorize(sim: Simulator, req: Request) -> Response:
    q = req.query
    clients = sim.options["oauth_clients"]
    client_id, redirect = q.get("client_id", ""), q.get("redirect_uri", "")
    if client_id not in clients or not redirect:
        sim.counters.incr("token_failures")
        return _error("invalid_client" if client_id not in clients else "invalid_request")
    scope = _scope(q.get("scope"))
    kind = q.get("response_type", "")
    state = {"state": q["state"]} if "state" in q else {}
    if scope is None:
        return _redirect(redirect, "?", {"error": "invalid_scope", **state})
    user = sim.options["username"]
    with sim.lock:
        if kind == "code":
            code = sim.auth.new_code(Grant(client_id, user, scope, redirect))
            return _redirect(redirect, "?", {"code": code, "scope": scope, **state})
        if kind == "token":
            tenant = sim.tenant_named(client_id.partition("@")[2] or sim.tenants[0])
            body = sim.auth.issue(
                client_id,
                user,
                tenant or sim.tenants[0],
                scope.replace("offline_access", "").strip() or "api",
            )
            body.pop("refresh_token", None)
            sim.counters.incr("tokens_issued.implicit")
            return _redirect(
                redirect,
                "#",
                {
                    "access_token": body["access_token"],
                    "token_type": "Bearer",
                    "expires_in": body["expires_in"],
                    "scope": body["scope"],
                    **state,
                },
            )
    return _redirect(redirect, "?", {"error": "unsupported_response_type", **state})


def _redirect(uri: str, sep: str, params: dict) -> Response:
    joiner = sep if sep not in uri else "&"
    location = uri + joiner + urlencode(params)
    return Response(302, b"", content_type=None, headers=[("Location", location)])


def openid_configuration(sim: Simulator, req: Request) -> Response:
    issuer = req.base_url + "/identity"
    return json_response(
        200,
        {
            "issuer": issuer,
            "jwks_uri": issuer + "/.well-known/openid-configuration/jwks",
            "authorization_endpoint": issuer + "/connect/authorize",
            "token_endpoint": issuer + "/connect/token",
            "userinfo_endpoint": issuer + "/connect/userinfo",
            "end_session_endpoint": issuer + "/connect/endsession",
            "scopes_supported": sorted(SCOPES),
            "response_types_supported": ["code", "token", "id_token", "id_token token"],
            "grant_types_supported": [
                "authorization_code",
                "implicit",
                "password",
                "refresh_token",
            ],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "frontchannel_logout_supported": True,
        },
    )
