"""OAuth 2 authenticators: ``OAuthPassword``, ``OAuth`` (refresh token) and ``OAuthImplicit``.

All three put ``Authorization: Bearer <access token>`` on every request of the run and share
the life cycle of :class:`~tap_acumatica.auth.base.AcumaticaAuth`:

- ``open`` gets the first token, and before every later request refreshes it when it expires
  within a safety margin (``min(60 s, 10 % of its lifetime)``), under the lock, so worker
  threads never send a token that is about to die and only one of them refreshes;
- ``reauthenticate`` (after a 401) refreshes once however many threads saw the 401;
- ``close`` logs the token's server session out (scope ``api`` keeps one per grant).

Refresh tokens rotate: each refresh returns a new one and kills the old one, so the newest is
kept in memory and, for ``OAuth``, written at once to the token file
(:mod:`tap_acumatica.auth.tokens`), which the next run reads; refreshes happen under the
file's lock, from the newest token in it, so runs sharing the file take turns instead of
killing each other's tokens. Token calls never log their form; every token the run holds is
returned by ``secrets()`` so the client's redactor removes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
import typing as t

import requests

from tap_acumatica.auth.base import AcumaticaAuth
from tap_acumatica.auth.endpoint import TokenRefused, TokenResponse, request_token
from tap_acumatica.auth.tokens import HELPER, TokenStore, token_file_for, token_sha256
from tap_acumatica.errors import AcumaticaAuthError, ConfigError
from tap_acumatica.settings import Settings
from tap_acumatica.urls import normalize_base_url

if t.TYPE_CHECKING:
    from tap_acumatica.http.client import AcumaticaClient

LOGGER = logging.getLogger("tap_acumatica.oauth")

#: Refresh this long before expiry at most (the margin is 10 % of shorter lifetimes).
MAX_MARGIN_SECONDS = 60.0


def _now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# Authenticators ------------------------------------------------------------------------------


class BearerAuth(AcumaticaAuth):
    """Shared part: the Bearer header, expiry margin, proactive refresh and logout."""

    scheme = "OAuth"
    reauth_message = "OAuth access token rejected (HTTP 401); getting a new one."

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.client_id = settings.oauth_client_id
        self.client_secret = settings.oauth_client_secret
        self.scope = " ".join(settings.oauth_scope.split())
        self.access_token = ""
        self.refresh_token: str | None = None
        self._expires_at: float | None = None  # monotonic; None: unknown (never refreshed)
        self._margin = 0.0
        self._seen: list[str] = []  # every token of the run, for redaction
        self._seen_lock = threading.Lock()

    def _opens_api_session(self) -> bool:
        """Scope ``api`` makes the server open a session for the grant; log it out."""
        return any(s == "api" or s.startswith("api:") for s in self.scope.split())

    def secrets(self) -> list[str]:
        with self._seen_lock:
            seen = list(self._seen)
        return [s for s in (self.client_secret, *seen) if s]

    def _remember(self, *values: str | None) -> None:
        with self._seen_lock:
            for value in values:
                if value and value not in self._seen:
                    self._seen.append(value)

    def _client_form(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def _accept(self, token: TokenResponse) -> None:
        """Use a new token; keep the newest refresh token (the server may rotate it)."""
        self._remember(token.access_token, token.refresh_token)
        self.access_token = token.access_token
        if token.refresh_token:
            self.refresh_token = token.refresh_token
        lifetime = max(1.0, token.expires_in)
        self._margin = min(MAX_MARGIN_SECONDS, lifetime * 0.1)
        self._expires_at = time.monotonic() + lifetime

    def expiring(self) -> bool:
        expires_at = self._expires_at
        return expires_at is not None and time.monotonic() >= expires_at - self._margin

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # No lock here: this runs while the request holds a concurrency slot.
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request

    def _sign_in(self, client: AcumaticaClient, *, again: bool = False) -> None:
        self._renew(client)

    def _renew(self, client: AcumaticaClient) -> None:
        raise NotImplementedError

    def _sign_out(self, client: AcumaticaClient) -> None:
        if not self._opens_api_session() or not self.access_token:
            return
        response = client.send_raw(
            "POST",
            client.url("entity/auth/logout"),
            data=b"",
            what="logout (OAuth)",
            headers={"Authorization": f"Bearer {self.access_token}"},
        )
        if response.status_code not in (200, 204, 401):
            LOGGER.warning("Logout answered HTTP %s.", response.status_code)

    def _refresh(self, client: AcumaticaClient, refresh_token: str) -> TokenResponse:
        return request_token(
            client, "refresh_token", {**self._client_form(), "refresh_token": refresh_token}
        )


class OAuthPassword(BearerAuth):
    """``auth_scheme: OAuthPassword``: password grant, refreshed; password again if refused."""

    scheme = "OAuthPassword"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.username = settings.username
        self.password = settings.password

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.password]

    def _password_grant(self, client: AcumaticaClient) -> None:
        form = {
            **self._client_form(),
            "username": self.username,
            "password": self.password,
            "scope": self.scope,
        }
        self._accept(request_token(client, "password", form))

    def _renew(self, client: AcumaticaClient) -> None:
        if not self._opened or not self.refresh_token:
            self._password_grant(client)
            return
        try:
            self._accept(self._refresh(client, self.refresh_token))
        except TokenRefused as exc:
            if exc.code != "invalid_grant":
                raise
            LOGGER.warning(
                "OAuth: the refresh token was refused (expired, revoked or already "
                "used); signing in again with the password grant."
            )
            self.refresh_token = None
            self._password_grant(client)


class _FileToken(t.NamedTuple):
    token: str
    where: str  # for messages: the file and when the token was issued
    descends: bool  # from the config's token (or the config has none): the file is newer


class OAuthRefresh(BearerAuth):
    """``auth_scheme: OAuth``: runs from a refresh token, keeps the rotated one on disk."""

    scheme = "OAuth"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.url = normalize_base_url(settings.url)
        self.store = TokenStore(token_file_for(settings))
        self.config_token = settings.oauth_refresh_token or None
        self._candidates: list[tuple[str, str]] | None = None  # (token, where it came from)

    def _file_token(self) -> _FileToken | None:
        """The file's refresh token for this client, or None when the file holds none."""
        stored = self.store.load()
        token = stored.get("refresh_token")
        if not token or (stored.get("client_id") and stored.get("client_id") != self.client_id):
            return None
        issued = stored.get("issued_at") or "unknown time"
        descends = (
            self.config_token is None
            or token == self.config_token
            or stored.get("config_token_sha256") == token_sha256(self.config_token)
        )
        return _FileToken(
            str(token), f"the token file {self.store.path} (issued {issued})", descends
        )

    def candidates(self) -> list[tuple[str, str]]:
        """Refresh tokens to try, newest first: the file's (when it descends from the
        config's token, or the config has none), then the config's."""
        in_file = self._file_token()
        found: list[tuple[str, str]] = []
        if in_file is not None and in_file.descends:
            found.append((in_file.token, in_file.where))
        if self.config_token and all(tok != self.config_token for tok, _ in found):
            found.append((self.config_token, "the setting 'oauth_refresh_token'"))
        if in_file is not None and all(tok != in_file.token for tok, _ in found):
            # The config's token was changed by the user after the file was written: the
            # config's is newer, the file's is only a fallback.
            found.append((in_file.token, in_file.where))
        return found

    def _save(self, issued: str) -> None:
        try:
            self.store.save(
                url=self.url,
                client_id=self.client_id,
                refresh_token=self.refresh_token,
                issued_at=issued,
                config_token_sha256=token_sha256(self.config_token) if self.config_token else None,
            )
        except OSError as exc:
            raise AcumaticaAuthError(
                f"OAuth: the server rotated the refresh token but it could not be saved to "
                f"{self.store.path} ({exc}). The previous token is no longer valid: run "
                f"{HELPER} again after fixing 'oauth_token_file'."
            ) from None

    def _renew(self, client: AcumaticaClient) -> None:
        with self.store.locked():
            self._renew_locked(client)

    def _renew_locked(self, client: AcumaticaClient) -> None:
        first = not self.refresh_token
        if not first:
            assert self.refresh_token is not None
            candidates = [(self.refresh_token, "the refresh token obtained during this run")]
            # Another run sharing the file may have rotated past our token: the file
            # (written under this lock) holds the newest of the chain.
            in_file = self._file_token()
            if in_file is not None and in_file.descends and in_file.token != self.refresh_token:
                self._remember(in_file.token)
                candidates.insert(0, (in_file.token, in_file.where))
        else:
            candidates = self.candidates()
            if not candidates:
                raise AcumaticaAuthError(
                    f"OAuth: no refresh token: neither 'oauth_refresh_token' nor the token file "
                    f"{self.store.path} holds one. Run {HELPER} --config <config.json> to "
                    "authorize the tap (authorization-code flow)."
                )
            self._remember(*(tok for tok, _ in candidates))
            self.store.check_writable()
        failures = []
        for token, where in candidates:
            try:
                response = self._refresh(client, token)
            except TokenRefused as exc:
                if exc.code != "invalid_grant":
                    raise
                LOGGER.warning(
                    "OAuth: the refresh token from %s is no longer valid (expired, "
                    "revoked or already used).",
                    where,
                )
                failures.append(where)
                continue
            issued = _now_text()
            old = self.refresh_token
            self._accept(response)
            if self.refresh_token != old or not self.store.path.exists():
                self._save(issued)
            if first:
                LOGGER.info(
                    "OAuth: signed in with the refresh token from %s; the rotated "
                    "token is kept in %s.",
                    where,
                    self.store.path,
                )
            return
        raise AcumaticaAuthError(
            f"OAuth: the refresh token from {' and from '.join(failures)} is no longer valid "
            f"(expired, revoked or already used; refresh tokens rotate and each can be used "
            f"once). Run {HELPER} --config <config.json> to authorize the tap again; it stores "
            f"the new refresh token in {self.store.path}."
        )


class OAuthImplicit(BearerAuth):
    """``auth_scheme: OAuthImplicit``: a given access token; no refresh is possible."""

    scheme = "OAuthImplicit"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.given = settings.oauth_access_token
        self.store = (
            TokenStore(token_file_for(settings))
            if settings.oauth_client_id or settings.oauth_token_file
            else None
        )
        self._expired = False

    def _expired_error(self, why: str) -> AcumaticaAuthError:
        self._expired = True
        return AcumaticaAuthError(
            f"OAuth: the access token (auth_scheme OAuthImplicit) {why}. Implicit-flow tokens "
            f"cannot be refreshed: get a new one with {HELPER} --flow implicit --config "
            "<config.json> (or your own implicit-flow client) and put it in "
            "'oauth_access_token'; for unattended runs use auth_scheme OAuth instead."
        )

    def _renew(self, client: AcumaticaClient) -> None:
        if self._opened:
            raise self._expired_error("has expired or was revoked (HTTP 401)")
        token = self.given
        if not token and self.store is not None:
            stored = self.store.load()
            token = str(stored.get("access_token") or "")
            expires = stored.get("access_token_expires_at")
            if token and expires:
                with contextlib.suppress(ValueError, TypeError):
                    if dt.datetime.fromisoformat(str(expires)) <= dt.datetime.now(dt.timezone.utc):
                        self._remember(token)
                        raise self._expired_error(
                            f"stored in {self.store.path} expired at {expires}"
                        )
        if not token:
            raise ConfigError(
                "auth_scheme OAuthImplicit needs 'oauth_access_token' (or a token file written "
                f"by {HELPER} --flow implicit)."
            )
        self._remember(token)
        self.access_token = token

    def reauthenticate(self, client: AcumaticaClient, seen_generation: int) -> None:
        raise self._expired_error("has expired or was revoked (HTTP 401)")

    def _sign_out(self, client: AcumaticaClient) -> None:
        if not self._expired:
            super()._sign_out(client)
