"""The life cycle every authenticator shares, driven by the run's ``AcumaticaClient``.

``open`` (sign in once per run), ``__call__`` (put credentials on a request),
``reauthenticate`` (after a 401: sign in again, once, however many threads saw the 401)
and ``close`` (log out so the licence seat is freed at once instead of after a 10-minute
idle timeout). The SDK's authenticators do not fit: its OAuth authenticator drops rotated
refresh tokens and has no expiry margin, and Acumatica's login is a cookie session.
"""

from __future__ import annotations

import logging
import threading
import typing as t

import requests

from tap_acumatica.errors import AcumaticaAuthError

if t.TYPE_CHECKING:
    from tap_acumatica.http.client import AcumaticaClient

LOGGER = logging.getLogger("tap_acumatica.auth")


class AcumaticaAuth(requests.auth.AuthBase):
    """Base authenticator; ``generation`` counts sign-ins so 401s re-authenticate once.

    Implements the client's :class:`~tap_acumatica.http.client.Authenticator` protocol.
    """

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
