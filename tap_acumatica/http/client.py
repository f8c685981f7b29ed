"""The one HTTP client of a run: session, sign-in, retries, limits, redaction.

Acumatica's login cookie must be shared by every stream (the SDK gives each stream its own
``requests.Session``), requests are retried after a re-login (the SDK would resend the old
``Cookie`` header), and licences cap concurrent requests across the whole tap, not per
stream. So the tap owns one :class:`AcumaticaClient` and every stream sends through it.
Retries use python-backoff (the SDK's dependency) with a wait generator that honours
``Retry-After``.
"""

from __future__ import annotations

import decimal
import logging
import threading
import time
import typing as t
from urllib.parse import quote

import backoff
import msgspec
import requests
from requests.adapters import HTTPAdapter

from tap_acumatica.errors import (
    AcumaticaAPIError,
    AcumaticaError,
    AcumaticaResponseError,
    body_detail,
)
from tap_acumatica.http.clock import ServerClock
from tap_acumatica.http.retries import (
    RETRY_STATUSES,
    TRANSPORT_ERRORS,
    RateLimiter,
    RetryableResponse,
    backoff_wait,
    check_retryable,
    describe_failure,
    is_permanent,
    short,
    wait_gen,
)
from tap_acumatica.logs import redact_secrets
from tap_acumatica.urls import normalize_base_url

if t.TYPE_CHECKING:
    from tap_acumatica.settings import Settings

LOGGER = logging.getLogger("tap_acumatica.client")

_JSON = msgspec.json.Decoder(float_hook=decimal.Decimal)


class Authenticator(t.Protocol):
    """What the client needs of the way a run signs in (implemented in :mod:`tap_acumatica.auth`).

    ``open`` signs in once per run (renewing credentials about to expire), ``__call__``
    puts credentials on a request, ``reauthenticate`` signs in again after a 401 unless
    another thread already did (``generation`` counts sign-ins), ``close`` signs out, and
    ``secrets`` lists the live values (tokens, cookies) to redact.
    """

    generation: int

    def open(self, client: AcumaticaClient) -> None: ...

    def reauthenticate(self, client: AcumaticaClient, seen_generation: int) -> None: ...

    def close(self, client: AcumaticaClient) -> None: ...

    def secrets(self) -> list[str]: ...

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest: ...


class _BadJSON(AcumaticaResponseError):
    """A body that does not decode as JSON (``get_json`` retries these)."""


class _Unauthorized(Exception):
    """A 401: re-authenticate and resend (handled outside the backoff loop)."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__("401")
        self.response = response


def decode_json(content: bytes) -> t.Any:
    """Decode JSON with decimals as ``Decimal``: Acumatica decimals must not lose digits."""
    return _JSON.decode(content)


def ensure_json_api(response: requests.Response, what: str, base_url: str) -> None:
    """Refuse HTML or other non-API answers with a message about the URL."""
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type.lower():
        raise AcumaticaResponseError(
            f"{what}: {base_url} answered an HTML page (HTTP {response.status_code}) "
            "instead of Acumatica's API. Check 'url': it must be the instance's base URL "
            "including its instance path (e.g. https://host/AcumaticaERP)."
        )


class AcumaticaClient:
    """Session, sign-in, retries, the concurrency cap and secret redaction for one run."""

    def __init__(self, settings: Settings, auth: Authenticator) -> None:
        self.settings = settings
        self.base_url = normalize_base_url(settings.url)
        self.auth = auth
        self.timeout = (min(30, settings.request_timeout), settings.request_timeout)
        self.max_tries = settings.max_retries
        self.backoff_factor = settings.backoff_factor
        self.backoff_max = settings.backoff_max_seconds
        self.concurrency = max(1, settings.max_concurrent_requests)
        self._slots = threading.BoundedSemaphore(self.concurrency)
        per_minute = settings.max_requests_per_minute
        self._limiter = RateLimiter(per_minute) if per_minute else None
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.concurrency + 4)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {
                "User-Agent": settings.user_agent,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            }
        )
        if settings.ca_bundle:
            self.session.verify = settings.ca_bundle
        elif not settings.verify_ssl:
            self.session.verify = False
            LOGGER.warning(
                "TLS certificate verification is DISABLED (verify_ssl: false); anyone on the "
                "network path can read the credentials. Use 'ca_bundle' instead."
            )
        self._config_secrets = settings.secret_values()
        #: The server's clock as this run sees it (``Date`` headers) and the run's upper
        #: bound for incremental reads (see :mod:`tap_acumatica.http.clock`).
        self.clock = ServerClock()
        self.requests_sent = 0
        self._closing = False
        self._inflight: list[int] = []  # thread idents with a request on the wire
        self._inflight_changed = threading.Condition()

    # URLs and secrets --------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (relative to the instance base, no leading '/')."""
        return self.base_url + path.lstrip("/")

    @staticmethod
    def quote_segment(name: str) -> str:
        """Percent-encode one path segment (inquiry names may hold spaces and symbols)."""
        return quote(name, safe="")

    def secrets(self) -> list[str]:
        return [s for s in [*self._config_secrets, *self.auth.secrets()] if s]

    def redact(self, text: str) -> str:
        """Remove every secret, token and cookie value (and URL user-info) from ``text``."""
        return redact_secrets(text, self.secrets())

    # Sending -----------------------------------------------------------------------------

    def open(self) -> None:
        """Sign in (once per run)."""
        self.auth.open(self)

    def close(self) -> None:
        """Sign out and drop connections; safe to call more than once."""
        # close() may run in a signal handler on the main thread while that very thread
        # holds a concurrency slot mid-request: the logout must not wait for it forever.
        with self._inflight_changed:
            self._closing = True
        self._drain(timeout=10.0)
        self.auth.close(self)
        self.session.close()

    def _drain(self, timeout: float) -> None:
        """Wait (bounded) for other threads' requests in flight to come back.

        A request that reaches the server after the logout would open a new server
        session for an OAuth token (or meet a 401 for a cookie session): the logout must
        be the run's last request. The calling thread's own request (a signal handler
        interrupting it) is not waited for.
        """
        me = threading.get_ident()
        deadline = time.monotonic() + timeout
        with self._inflight_changed:
            while any(ident != me for ident in self._inflight):
                left = deadline - time.monotonic()
                if left <= 0:
                    LOGGER.warning(
                        "%d request(s) still in flight; logging out anyway.", len(self._inflight)
                    )
                    return
                self._inflight_changed.wait(min(left, 0.5))

    def request(
        self,
        method: str,
        url: str,
        *,
        params: t.Mapping[str, t.Any] | None = None,
        what: str,
        authenticate: bool = True,
        **kwargs: t.Any,
    ) -> requests.Response:
        """Send with retries; on a 401 sign in again once and resend.

        ``what`` names the request in messages ("Customer records 2024-01-01…"), because
        "HTTP 503 for /entity/Default/…" does not tell a data engineer which load failed.
        """
        if authenticate:
            self.auth.open(self)
        reauthenticated = False
        while True:
            generation = self.auth.generation
            try:
                return self._send_with_retries(
                    method, url, params=params, what=what, authenticate=authenticate, **kwargs
                )
            except _Unauthorized as exc:
                if not authenticate or reauthenticated:
                    raise AcumaticaAPIError(
                        f"{what}: Acumatica answered 401 Unauthorized again after signing in "
                        f"anew ({body_detail(exc.response)}). Check the user's rights.",
                        401,
                    ) from None
                self.auth.reauthenticate(self, generation)
                reauthenticated = True

    def send_raw(self, method: str, url: str, *, what: str, **kwargs: t.Any) -> requests.Response:
        """Send without the sign-in dance (login, logout, token calls); still retried."""
        try:
            return self._send_with_retries(method, url, what=what, authenticate=False, **kwargs)
        except _Unauthorized as exc:
            return exc.response

    def get_json(
        self,
        url: str,
        *,
        params: t.Mapping[str, t.Any] | None = None,
        what: str,
        decode: t.Callable[[bytes], t.Any] | None = None,
        headers: t.Mapping[str, str] | None = None,
    ) -> t.Any:
        """GET and decode (with ``decode``, e.g. a typed list decoder, if given); a body
        that is not JSON (cut short by a proxy or a recycled worker) is fetched again,
        with backoff, up to ``max_retries`` attempts. ``headers`` go with this request
        only (e.g. ``PX-ApiArchive`` on data reads)."""
        attempt = 0
        while True:
            attempt += 1
            response = self.request("GET", url, params=params, what=what, headers=headers)
            try:
                return self.parse_json(response, what, attempts=attempt, decode=decode)
            except _BadJSON as exc:
                if attempt >= self.max_tries:
                    raise AcumaticaResponseError(str(exc)) from None
                wait = self._backoff_wait(attempt - 1)
                LOGGER.warning(
                    "%s; retry %d of %d in %.1fs.", exc, attempt, self.max_tries - 1, wait
                )
                time.sleep(wait)

    def parse_json(
        self,
        response: requests.Response,
        what: str,
        attempts: int = 1,
        decode: t.Callable[[bytes], t.Any] | None = None,
    ) -> t.Any:
        ensure_json_api(response, what, self.base_url)
        try:
            return (decode or decode_json)(response.content)
        except msgspec.DecodeError as exc:
            kind = (
                "truncated JSON"
                if "truncated" in str(exc).lower()
                else "a body that is not valid JSON"
            )
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            raise _BadJSON(
                self.redact(
                    f"{what}: the server answered HTTP {response.status_code} with {kind}"
                    f"{tries} ({len(response.content)} bytes, "
                    f"Content-Type {response.headers.get('Content-Type') or 'none'}; starts "
                    f"{response.content[:60]!r}). A proxy or load balancer in front of "
                    "Acumatica may be cutting or replacing responses."
                )
            ) from None

    def raise_if_not_api(self, response: requests.Response, what: str) -> None:
        """Explain HTML pages and 404s: the URL does not point at Acumatica's API."""
        ensure_json_api(response, what, self.base_url)
        if response.status_code == 404:
            raise AcumaticaResponseError(
                f"{what}: {response.url} was not found (HTTP 404). Check 'url' (the instance "
                "base URL, including an instance path like /AcumaticaERP)."
            )

    def _backoff_wait(self, attempt: int) -> float:
        """Seconds before retry ``attempt + 1`` (see :func:`.retries.backoff_wait`)."""
        return backoff_wait(attempt, self.backoff_factor, self.backoff_max)

    def _wait_gen(self) -> t.Generator[float, t.Any, None]:
        """The waits between attempts (see :func:`tap_acumatica.http.retries.wait_gen`)."""
        return wait_gen(self.backoff_factor, self.backoff_max)

    def _send_with_retries(
        self, method: str, url: str, *, what: str, authenticate: bool, **kwargs: t.Any
    ) -> requests.Response:
        def on_backoff(details: t.Any) -> None:
            exc = details.get("exception")
            LOGGER.warning(
                "%s: %s; retry %d of %d in %.1fs.",
                what,
                self.redact(describe_failure(exc)),
                details["tries"],
                self.max_tries - 1,
                details["wait"],
            )

        sender = backoff.on_exception(
            self._wait_gen,
            (RetryableResponse, *TRANSPORT_ERRORS),
            max_tries=self.max_tries,
            jitter=None,
            giveup=is_permanent,
            on_backoff=on_backoff,
            raise_on_giveup=True,
            logger=None,
        )(self._send_once)
        try:
            return sender(method, url, what=what, authenticate=authenticate, **kwargs)
        except RetryableResponse as exc:
            raise AcumaticaAPIError(
                f"{what}: HTTP {exc.response.status_code} after {self.max_tries} attempts: "
                f"{self.redact(exc.detail)}",
                exc.response.status_code,
            ) from None
        except requests.exceptions.SSLError as exc:
            raise AcumaticaError(
                f"{what}: TLS/SSL failure talking to {self.base_url}: {short(exc)}. If the "
                "instance uses a private CA, set 'ca_bundle' to its PEM file."
            ) from None
        except TRANSPORT_ERRORS as exc:
            raise AcumaticaAPIError(
                f"{what}: cannot reach {self.base_url} ({short(exc)}) after "
                f"{self.max_tries} attempts. Check 'url' and the network."
            ) from None

    def _send_once(
        self, method: str, url: str, *, what: str, authenticate: bool, **kwargs: t.Any
    ) -> requests.Response:
        if self._limiter is not None:
            self._limiter.acquire()
        acquired = self._slots.acquire(timeout=5 if self._closing else None)
        me = threading.get_ident()
        with self._inflight_changed:
            if self._closing and authenticate:
                if acquired:
                    self._slots.release()
                raise AcumaticaError(f"{what}: not sent, the run is stopping (signed out).")
            self._inflight.append(me)
        try:
            response = self.session.request(
                method,
                url,
                timeout=self.timeout,
                auth=self.auth if authenticate else None,
                allow_redirects=False,
                **kwargs,
            )
            self.requests_sent += 1
        finally:
            with self._inflight_changed:
                self._inflight.remove(me)
                self._inflight_changed.notify_all()
            if acquired:
                self._slots.release()
        self.clock.observe(response.headers.get("Date"))
        status = response.status_code
        if status == 401 and authenticate:
            raise _Unauthorized(response)
        if status in RETRY_STATUSES:
            check_retryable(response, what)
            return response
        if 300 <= status < 400:
            raise AcumaticaResponseError(
                f"{what}: the server redirected to {response.headers.get('Location', '?')} "
                f"(HTTP {status}) instead of answering. Check 'url' (instance path, http vs "
                "https)."
            )
        return response
