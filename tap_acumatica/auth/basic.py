"""Username and password: the contract-based API's login session, and HTTP Basic for OData."""

from __future__ import annotations

import base64
import logging
import random
import time
import typing as t

import requests

from tap_acumatica.auth.base import AcumaticaAuth
from tap_acumatica.errors import (
    LOGIN_LIMIT_MARK,
    AcumaticaAuthError,
    LoginLimitError,
    body_detail,
)
from tap_acumatica.settings import Settings

if t.TYPE_CHECKING:
    from tap_acumatica.http.client import AcumaticaClient

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


class LoginSession(AcumaticaAuth):
    """``auth_scheme: Basic``: ``POST entity/auth/login`` and the cookies it sets.

    The cookies live in the run's single ``requests.Session``, which every stream shares,
    so one login serves the whole run.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.username = settings.username
        self.password = settings.password
        self.company = settings.company
        self.branch = settings.branch
        self.locale = settings.locale
        self.login_limit_wait = settings.login_limit_wait_seconds
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

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.password = settings.password
        raw = f"{settings.username}:{self.password}".encode()
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
