"""How the tap signs in to Acumatica, one class per ``auth_scheme``.

All authenticators share one small life cycle, driven by the run's ``AcumaticaClient``:
``open`` (sign in once per run), ``__call__`` (put credentials on a request),
``reauthenticate`` (after a 401: sign in again, once, however many threads saw the 401)
and ``close`` (log out so the licence seat is freed at once instead of after a 10-minute
idle timeout). The SDK's authenticators do not fit: its OAuth authenticator drops rotated
refresh tokens and has no expiry margin, and Acumatica's login is a cookie session.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
import typing as t

import requests

from tap_acumatica.errors import (
    LOGIN_LIMIT_MARK,
    AcumaticaAuthError,
    AcumaticaResponseError,
    LoginLimitError,
    body_detail,
)

if t.TYPE_CHECKING:
    from tap_acumatica.client import AcumaticaClient

LOGGER = logging.getLogger("tap_acumatica.auth")


def login_limit_message(server_detail: str, waited: float | None) -> str:
    """The one line a user sees when no API seat is free (after waiting, if configured)."""
    refused = "Acumatica refused the login: the licence's API seats (API Login Limit) are in use"
    if waited is not None:
        refused += f" and none came free within login_limit_wait_seconds ({waited:g}s)"
    advice = (
        "" if waited is not None else ", or set 'login_limit_wait_seconds' to wait for a free seat"
    )
    return (
        f"{refused}. Sessions other clients left open expire after about 10 minutes of "
        "idleness; check the Users (SM201010) and User Types screens for concurrent-login "
        f"limits{advice}. Server said: {server_detail}"
    )


class AcumaticaAuth(requests.auth.AuthBase):
    """Base authenticator; ``generation`` counts sign-ins so 401s re-authenticate once."""

    #: Whether the server holds a session for us that ``close`` must end.
    keeps_server_session = False

    def __init__(self) -> None:
        self.generation = 0
        self._lock = threading.RLock()
        self._opened = False
        self._closed = False

    def secrets(self) -> list[str]:
        """Values that must never be logged (tokens, cookie values)."""
        return []

    #: Logged when a 401 makes us sign in again.
    reauth_message = "Session or token expired; signing in again."

    def open(self, client: AcumaticaClient) -> None:
        """Sign in if not yet signed in, renew if about to expire (thread-safe, idempotent).

        Called before every request, so the common case (signed in, not expiring) takes
        no lock.
        """
        if self._opened and not self.expiring():
            return
        with self._lock:
            self._refuse_if_closed()
            if not self._opened:
                self._sign_in(client)
                self._opened = True
                self.generation += 1
            elif self.expiring():
                self._sign_in(client, again=True)
                self.generation += 1

    def expiring(self) -> bool:
        """Whether the credentials should be renewed before the next request."""
        return False

    def reauthenticate(self, client: AcumaticaClient, seen_generation: int) -> None:
        """Sign in again after a 401, unless another thread already did."""
        with self._lock:
            if self.generation != seen_generation:
                return
            self._refuse_if_closed()
            LOGGER.info(self.reauth_message)
            self._sign_in(client, again=True)
            self._opened = True
            self.generation += 1

    def close(self, client: AcumaticaClient) -> None:
        """End the server session (if any). Never raises: it runs while unwinding.

        After this no thread signs in again: a request still in flight when a signal
        ends the run would otherwise meet a 401 and open a session nobody closes.
        """
        with self._lock:
            self._closed = True
            if self._opened:
                self._opened = False
                try:
                    self._sign_out(client)
                except Exception as exc:
                    LOGGER.warning("Logout failed: %s", client.redact(str(exc)))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise AcumaticaAuthError("The run is stopping (signed out); not signing in again.")

    # Scheme-specific parts -------------------------------------------------------------

    def _sign_in(self, client: AcumaticaClient, *, again: bool = False) -> None:
        raise NotImplementedError

    def _sign_out(self, client: AcumaticaClient) -> None:
        return None


class LoginSession(AcumaticaAuth):
    """``auth_scheme: Basic``: ``POST entity/auth/login`` and the cookies it sets.

    The cookies live in the run's single ``requests.Session``, which every stream shares,
    so one login serves the whole run.
    """

    keeps_server_session = True

    def __init__(self, config: t.Mapping[str, t.Any]) -> None:
        super().__init__()
        self.username = config.get("username") or ""
        self.password = config.get("password") or ""
        self.company = config.get("company")
        self.branch = config.get("branch")
        self.locale = config.get("locale")
        self.login_limit_wait = float(config.get("login_limit_wait_seconds") or 0)
        self._session_ref: requests.Session | None = None

    def secrets(self) -> list[str]:
        values = [self.password]
        if self._session_ref is not None:
            values += [c.value for c in self._session_ref.cookies if c.value and len(c.value) > 8]
        return [v for v in values if v]

    def login_body(self) -> dict[str, str]:
        """The login JSON: ``tenant`` (never also ``company``, which Acumatica rejects)."""
        body = {"name": self.username, "password": self.password}
        for key, value in (
            ("tenant", self.company),
            ("branch", self.branch),
            ("locale", self.locale),
        ):
            if value:
                body[key] = value
        return body

    def _sign_in(self, client: AcumaticaClient, *, again: bool = False) -> None:
        self._session_ref = client.session
        if again:
            # The old session is gone server-side; drop its cookies so they are not resent.
            client.session.cookies.clear()
        deadline: float | None = None
        poll = 1.0
        while True:
            response = client.send_raw(
                "POST", client.url("entity/auth/login"), json=self.login_body(), what="login"
            )
            if response.status_code in (200, 204):
                return
            detail = body_detail(response)
            if LOGIN_LIMIT_MARK not in detail.lower():
                break
            if self.login_limit_wait <= 0:
                raise LoginLimitError(login_limit_message(detail, None))
            now = time.monotonic()
            if deadline is None:
                deadline = now + self.login_limit_wait
                LOGGER.warning(
                    "No free API seat (API Login Limit); waiting up to %gs "
                    "(login_limit_wait_seconds) for one.",
                    self.login_limit_wait,
                )
            if now >= deadline:
                raise LoginLimitError(login_limit_message(detail, self.login_limit_wait))
            # Poll with backoff and jitter: many taps waiting for one seat must not
            # stampede the login page in step.
            time.sleep(min(deadline - now, poll * random.uniform(0.75, 1.0)))  # noqa: S311
            poll = min(poll * 2, 30.0)
        client.raise_if_not_api(response, "login")
        if "invalid credentials" in detail.lower():
            raise AcumaticaAuthError(
                f"Login to {client.base_url} failed: {detail} Check 'username', 'password' "
                "and 'company' (the tenant name as shown on the login page)."
            )
        raise AcumaticaAuthError(
            f"Login to {client.base_url} failed (HTTP {response.status_code}): {detail}"
        )

    def _sign_out(self, client: AcumaticaClient) -> None:
        response = client.send_raw(
            "POST", client.url("entity/auth/logout"), data=b"", what="logout"
        )
        if response.status_code not in (200, 204):
            LOGGER.warning("Logout answered HTTP %s.", response.status_code)
        client.session.cookies.clear()


class HTTPBasic(AcumaticaAuth):
    """HTTP Basic for OData: no server session (Acumatica counts it as a normal user)."""

    def __init__(self, config: t.Mapping[str, t.Any]) -> None:
        super().__init__()
        self.password = config.get("password") or ""
        raw = f"{config.get('username') or ''}:{self.password}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode()

    def secrets(self) -> list[str]:
        return [v for v in (self.password, self._header.split(" ", 1)[1]) if v]

    def _sign_in(self, client: AcumaticaClient, *, again: bool = False) -> None:
        if again:
            raise AcumaticaAuthError(
                "Acumatica rejected the username/password (HTTP 401) for OData. Check "
                "'username', 'password' and 'company'."
            )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


def ensure_json_api(response: requests.Response, what: str, base_url: str) -> None:
    """Refuse HTML or other non-API answers with a message about the URL."""
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type.lower():
        raise AcumaticaResponseError(
            f"{what}: {base_url} answered an HTML page (HTTP {response.status_code}) "
            "instead of Acumatica's API. Check 'url': it must be the instance's base URL "
            "including its instance path (e.g. https://host/AcumaticaERP)."
        )
