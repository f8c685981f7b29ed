"""When a request is worth another attempt, and how long to wait: the client's retry policy.

Acumatica answers overload with 429/503 (often with ``Retry-After``), long operations with
409, and many permanent errors with HTTP 500 and a PX exception body; these functions tell
them apart, so a retry never hammers a server with a request that cannot succeed (a wrong
password retried would lock the user out). :class:`RateLimiter` spaces request starts for
``max_requests_per_minute``. The retry loop itself is python-backoff's, driven by
:class:`~tap_acumatica.http.client.AcumaticaClient`.
"""

from __future__ import annotations

import random
import threading
import time
import typing as t
from collections import deque
from email.utils import parsedate_to_datetime

import requests

from tap_acumatica.errors import (
    LOGIN_LIMIT_MARK,
    OPTIMIZATION_MARK,
    OptimizationError,
    body_detail,
    optimization_fields,
)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
#: Acumatica answers many permanent errors with HTTP 500 and a PX exception body; these
#: words mark the 500s that are worth another try.
TRANSIENT_500_WORDS = ("deadlock", "timeout", "timed out", "try again", "temporarily")
#: ...unless they name a cause no retry can fix ("Invalid credentials. Please try again."
#: must not be retried: it would only lock the user out).
PERMANENT_500_WORDS = (
    "invalid credentials",
    "does not exist",
    "is locked out",
    "account is locked",
    "password has expired",
    "insufficient rights",
)
#: Transport failures worth another attempt (SSL and DNS failures excepted: is_permanent).
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RetryableResponse(Exception):
    """A response worth another attempt; carries the server's ``Retry-After``."""

    def __init__(self, response: requests.Response, detail: str) -> None:
        super().__init__(detail)
        self.response = response
        self.detail = detail
        self.retry_after = retry_after_seconds(response)


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def backoff_wait(attempt: int, factor: float, max_wait: float) -> float:
    """Seconds before retry ``attempt + 1``: exponential, capped, half of it jitter."""
    wait = min(max_wait, factor * (2**attempt))
    return wait / 2 + random.uniform(0, wait / 2)  # noqa: S311 - jitter


def wait_gen(factor: float, max_wait: float) -> t.Generator[float, t.Any, None]:
    """Exponential backoff with jitter, or the server's Retry-After when it sends one.

    A ``backoff`` wait generator that is sent the exception of each failed attempt.
    """
    attempt = 0
    exc = yield  # type: ignore[misc]
    while True:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = min(float(retry_after), 300.0)
        else:
            wait = backoff_wait(attempt, factor, max_wait)
        attempt += 1
        exc = yield wait


def check_retryable(response: requests.Response, what: str) -> None:
    """Raise :class:`RetryableResponse` if a response of :data:`RETRY_STATUSES` is worth
    another attempt (or :class:`OptimizationError`); return if retrying cannot help."""
    detail = body_detail(response)
    lowered = detail.lower()
    if LOGIN_LIMIT_MARK in lowered:
        return  # the login code explains seats; retrying will not free one
    if OPTIMIZATION_MARK in lowered:
        raise OptimizationError(f"{what}: {detail}", optimization_fields(detail))
    if (
        response.status_code == 500
        and is_application_error(response)
        and (
            any(word in lowered for word in PERMANENT_500_WORDS)
            or not any(word in lowered for word in TRANSIENT_500_WORDS)
        )
    ):
        return
    raise RetryableResponse(response, detail)


class RateLimiter:
    """At most ``per_minute`` request starts in any 60-second span, evenly spaced.

    Starts are at least ``60 / per_minute`` seconds apart (no burst that a licence's
    per-minute counter would see as a spike), and a sliding 60-second window guards the
    total. Shared by every thread of the run.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute
        self._starts: deque[float] = deque()
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= 60:
                    self._starts.popleft()
                if len(self._starts) < self.per_minute and now >= self._next:
                    self._starts.append(now)
                    self._next = now + self.interval
                    return
                wait = self._next - now
                if len(self._starts) >= self.per_minute:
                    wait = max(wait, 60 - (now - self._starts[0]))
            time.sleep(min(max(wait, 0.001), 1.0))


def is_application_error(response: requests.Response) -> bool:
    """A 500 with Acumatica's PX exception body: a business error, not an outage."""
    return '"exceptionType"' in (response.text or "")[:20000]


def is_permanent(exc: Exception) -> bool:
    return isinstance(exc, requests.exceptions.SSLError) or (
        isinstance(exc, requests.exceptions.ConnectionError) and "NameResolutionError" in str(exc)
    )


def short(exc: BaseException) -> str:
    text = str(exc)
    for marker in (
        "NameResolutionError",
        "Connection refused",
        "timed out",
        "CERTIFICATE",
        "Connection reset",
        "RemoteDisconnected",
    ):
        if marker.lower() in text.lower():
            return marker
    return text[:160]


def describe_failure(exc: BaseException | None) -> str:
    if isinstance(exc, RetryableResponse):
        extra = f" (Retry-After {exc.retry_after:g}s)" if exc.retry_after is not None else ""
        return f"HTTP {exc.response.status_code}{extra}: {exc.detail[:200]}"
    return f"{type(exc).__name__}: {short(exc) if exc else ''}"
