"""``tap-acumatica-auth``: authorize the tap once, in a browser, on a loopback redirect URI.

``--flow code`` (default, for ``auth_scheme: OAuth``): prints (and opens) the authorize URL,
serves one redirect on ``http://127.0.0.1:<port>/callback``, checks ``state``, exchanges the
code (with PKCE) for tokens and stores the refresh token in the token file the tap reads.

``--flow implicit`` (for ``auth_scheme: OAuthImplicit``): the token comes back in the URL
fragment, which browsers never send to a server, so the callback serves a tiny page whose
script posts the fragment back to the loopback server; the access token is stored the same way.

Tokens and codes are never printed or logged unless ``--print-token`` is given.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import html
import json
import logging
import secrets
import sys
import threading
import time
import typing as t
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tap_acumatica.auth.base import AcumaticaAuth
from tap_acumatica.auth.endpoint import AUTHORIZE_PATH, request_token
from tap_acumatica.auth.tokens import HELPER, TokenStore, token_file_for, token_sha256
from tap_acumatica.errors import AcumaticaAuthError, AcumaticaError, ConfigError
from tap_acumatica.http.client import AcumaticaClient
from tap_acumatica.logs import install_redaction
from tap_acumatica.settings import Settings
from tap_acumatica.urls import normalize_base_url

PROG = HELPER
DEFAULT_REDIRECT = "http://127.0.0.1:8765/callback"
LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}

FRAGMENT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tap-acumatica</title></head><body>
<p id="m">Completing the sign-in&hellip;</p>
<script>
var f = window.location.hash.substring(1);
history.replaceState(null, "", window.location.pathname);
fetch(window.location.pathname, {method: "POST",
  headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: f})
  .then(function (r) { return r.text(); })
  .then(function (t) { document.getElementById("m").textContent = t; });
</script></body></html>
"""


class _Secrets(AcumaticaAuth):
    """No sign-in; only tells the client's redactor which values to hide."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[str] = []

    def secrets(self) -> list[str]:
        return list(self.values)


class _Loopback(HTTPServer):
    """Serves the redirect URI until one callback carries a result."""

    def __init__(self, address: tuple[str, int], path: str, flow: str, state: str) -> None:
        super().__init__(address, _Callback)
        self.path = path
        self.flow = flow
        self.state = state
        self.result: dict[str, str] | None = None
        self.lock = threading.Lock()

    def deliver(self, params: dict[str, str]) -> str:
        """Record the callback's parameters; returns the text shown in the browser."""
        with self.lock:
            if self.result is not None:
                return "This sign-in was already completed; you can close this tab."
            if params.get("state") != self.state:
                self.result = {"error": "state_mismatch"}
                return "The sign-in answer does not match this request (state); it was ignored."
            self.result = params
        if "error" in params:
            return f"Acumatica refused the authorization: {params['error']}."
        return f"{PROG}: authorization received; you can close this tab."


class _Callback(BaseHTTPRequestHandler):
    server: _Loopback

    def log_message(self, format: str, *args: t.Any) -> None:
        """Silent: the request line holds the authorization code."""

    def _answer(self, status: int, text: str, content_type: str = "text/plain") -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != self.server.path:
            self._answer(404, "Not found.")
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if params:
            self._answer(200, html.escape(self.server.deliver(params)))
        elif self.server.flow == "implicit":
            self._answer(200, FRAGMENT_PAGE, "text/html")
        else:
            self._answer(400, "No authorization code in this request.")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != self.server.path:
            self._answer(404, "Not found.")
            return
        length = min(int(self.headers.get("Content-Length") or 0), 65536)
        body = self.rfile.read(length).decode("utf-8", "replace").lstrip("#")
        params = dict(parse_qsl(body, keep_blank_values=True))
        if not params:
            self._answer(400, "No token in the page's URL fragment.")
            return
        self._answer(200, self.server.deliver(params))


def _parse_args(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Authorize tap-acumatica with an Acumatica Connected Application "
        "(authorization-code or implicit flow) and store the token where the tap finds it.",
    )
    parser.add_argument(
        "--config",
        required=True,
        action="append",
        help="tap config JSON (url, oauth_client_id, oauth_client_secret, "
        "oauth_scope, oauth_token_file); may be given more than once",
    )
    parser.add_argument(
        "--flow",
        choices=("code", "implicit"),
        default="code",
        help="code: refresh token for auth_scheme OAuth (default); implicit: "
        "access token for auth_scheme OAuthImplicit",
    )
    parser.add_argument(
        "--redirect-uri",
        default=DEFAULT_REDIRECT,
        help="loopback redirect URI registered on the Connected Application "
        f"(default {DEFAULT_REDIRECT})",
    )
    parser.add_argument(
        "--port",
        type=int,
        help="port of the redirect URI (overrides the one in --redirect-uri; 0 picks a free port)",
    )
    parser.add_argument(
        "--token-file",
        help="where to store the token (default: the config's "
        "oauth_token_file, else the tap's default token file)",
    )
    parser.add_argument("--scope", help="scopes to request (default: the config's oauth_scope)")
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="only print the authorize URL; do not open a browser",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds to wait for the browser's redirect (default 300)",
    )
    parser.add_argument(
        "--print-token", action="store_true", help="also print the token on stdout (it is a secret)"
    )
    return parser.parse_args(argv)


def _load_config(paths: t.Sequence[str], flow: str) -> dict[str, t.Any]:
    config: dict[str, t.Any] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read the config file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"The config file {path} must hold a JSON object.")
        config.update(data)
    needed: tuple[str, ...] = ("url", "oauth_client_id", "oauth_client_secret")
    if flow == "implicit":  # implicit-flow applications have no secret
        needed = needed[:2]
    missing = [k for k in needed if not config.get(k)]
    if missing:
        raise ConfigError(f"{PROG} needs setting(s) {', '.join(missing)} in the config.")
    normalize_base_url(str(config["url"]))
    return config


def _loopback(redirect_uri: str, port: int | None) -> tuple[str, int, str, str]:
    """(bind address, port, path, host as written in the URI) of a loopback redirect URI."""
    parts = urlsplit(redirect_uri)
    hostname = (parts.hostname or "").lower()
    if parts.scheme != "http" or hostname not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"--redirect-uri must be a loopback http URI such as {DEFAULT_REDIRECT} (got "
            f"{redirect_uri!r}); register the same URI on the Connected Application."
        )
    chosen = port if port is not None else (parts.port or 80)
    uri_host = f"[{hostname}]" if ":" in hostname else hostname
    return LOOPBACK_HOSTS[hostname], chosen, parts.path or "/", uri_host


def _say(text: str = "") -> None:
    print(text, flush=True)


def run(argv: t.Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    config = _load_config(args.config, args.flow)
    if args.token_file:
        config["oauth_token_file"] = args.token_file
    settings = Settings.from_config(config)
    scope = " ".join(str(args.scope or settings.oauth_scope).split())
    if args.flow == "implicit":  # implicit grants never include a refresh token
        scope = " ".join(s for s in scope.split() if s != "offline_access") or "api"
    redactor = _Secrets()
    client = AcumaticaClient(settings, redactor)
    install_redaction(client.redact)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    store = TokenStore(token_file_for(settings))
    store.check_writable()

    bind, port, path, uri_host = _loopback(args.redirect_uri, args.port)
    state = secrets.token_urlsafe(24)
    try:
        server = _Loopback((bind, port), path, args.flow, state)
    except OSError as exc:
        raise ConfigError(
            f"Cannot listen on {bind}:{port} for the redirect ({exc}). Free the "
            "port or choose another one with --port (and register that redirect "
            "URI on the Connected Application)."
        ) from None
    redirect_uri = urlunsplit(("http", f"{uri_host}:{server.server_address[1]}", path, "", ""))
    query = {
        "client_id": settings.oauth_client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "response_type": "code" if args.flow == "code" else "token",
    }
    verifier = ""
    if args.flow == "code":
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query.update(code_challenge=challenge.decode().rstrip("="), code_challenge_method="S256")
    else:
        query["nonce"] = secrets.token_urlsafe(16)
    redactor.values += [state, verifier]
    authorize_url = client.url(AUTHORIZE_PATH) + "?" + urlencode(query)

    _say("Open this URL in a browser, sign in to Acumatica and allow access:")
    _say()
    _say(f"  {authorize_url}")
    _say()
    _say(f"Waiting up to {args.timeout:.0f}s for the redirect to {redirect_uri} ...")
    if not args.no_browser:
        webbrowser.open(authorize_url)
    try:
        deadline = time.monotonic() + args.timeout
        server.timeout = 0.5
        while server.result is None and time.monotonic() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    result = server.result
    if result is None:
        raise AcumaticaAuthError(
            f"No redirect reached {redirect_uri} within {args.timeout:.0f}s; run {PROG} again."
        )
    redactor.values += [v for k, v in result.items() if k in ("code", "access_token") and v]
    if result.get("error") == "state_mismatch":
        raise AcumaticaAuthError(
            "The redirect's 'state' does not match this request (a stale "
            f"or forged redirect); nothing was stored. Run {PROG} again."
        )
    if result.get("error"):
        detail = result.get("error_description") or ""
        raise AcumaticaAuthError(
            f"Acumatica refused the authorization: {result['error']}"
            f"{': ' + client.redact(detail) if detail else ''}. Check that the Connected "
            f"Application (SM303010) uses the {'Authorization Code' if args.flow == 'code' else 'Implicit'}"  # noqa: E501
            f" flow, lists the redirect URI {redirect_uri}, and allows scope '{scope}'."
        )

    issued = dt.datetime.now(dt.timezone.utc)
    previous = settings.oauth_refresh_token or None
    base = {"url": normalize_base_url(settings.url), "client_id": settings.oauth_client_id}
    try:
        if args.flow == "code":
            code = result.get("code")
            if not code:
                raise AcumaticaAuthError("The redirect carried no authorization code.")
            token = request_token(
                client,
                "authorization_code",
                {
                    "client_id": settings.oauth_client_id,
                    "client_secret": settings.oauth_client_secret,
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                },
            )
            redactor.values += [token.access_token, token.refresh_token or ""]
            if not token.refresh_token:
                raise AcumaticaAuthError(
                    "The server issued no refresh token: add 'offline_access' to 'oauth_scope' "
                    "and allow it on the Connected Application (SM303010), then run "
                    f"{PROG} again."
                )
            with store.locked():  # not while a run is rotating the token it replaces
                store.save(
                    **base,
                    refresh_token=token.refresh_token,
                    issued_at=issued.isoformat(timespec="seconds"),
                    scope=scope,
                    config_token_sha256=token_sha256(previous) if previous else None,
                )
            _say(f"Refresh token stored in {store.path}.")
            _say(
                "Run the tap with auth_scheme OAuth and this config (oauth_refresh_token may "
                "stay empty); each run keeps the rotated refresh token in that file."
            )
            printed = token.refresh_token
        else:
            access = result.get("access_token")
            if not access:
                raise AcumaticaAuthError("The redirect carried no access token.")
            try:
                lifetime = float(result.get("expires_in") or 3600)
            except ValueError:
                lifetime = 3600.0
            expires = issued + dt.timedelta(seconds=lifetime)
            with store.locked():
                store.save(
                    **base,
                    access_token=access,
                    access_token_expires_at=expires.isoformat(timespec="seconds"),
                )
            _say(
                f"Access token stored in {store.path}; it expires at "
                f"{expires.isoformat(timespec='seconds')}."
            )
            _say(
                "Run the tap with auth_scheme OAuthImplicit and this config, or put the token "
                "in 'oauth_access_token' (see --print-token)."
            )
            printed = access
    finally:
        client.close()
    if args.print_token:
        _say(printed)
    return 0


def main(argv: t.Sequence[str] | None = None) -> None:
    """Console entry point: errors become one line on stderr and exit code 1."""
    try:
        code = run(argv)
    except AcumaticaError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted; nothing was stored.\n")
        sys.exit(130)
    sys.exit(code)


if __name__ == "__main__":
    main()
