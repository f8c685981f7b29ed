"""The server's clock as one run sees it: the run's upper bound and the bookmark after it.

Acumatica stamps ``LastModifiedDateTime`` with its own clock when a record is saved, so an
incremental run must bound what it reads by the *server's* clock (a client machine ahead of
the server would otherwise bookmark past rows not yet written). The only reading of that
clock is the ``Date`` header of each response, in whole seconds.

* **Upper bound** (a run reads ``(bookmark, upper bound]``): the second after the latest
  ``Date`` seen when the run starts reading, because the server's clock was somewhere inside
  that second when it answered. Every change saved before the run started was saved before
  that answer, so it is stamped at or before the bound and is already visible: the run
  emits it, even one saved in the same second as the run's first request.
* **Bookmark** after a window: the window's end, but never later than that ``Date`` minus
  ``settle_seconds``, and never before the bookmark the run started from. Every request
  that reads a window is answered after that ``Date``; a row it did not see (saved later,
  or stamped earlier by a long transaction — a big release, a mass update, an import —
  that committed later) is stamped after ``Date - settle_seconds`` if it committed within
  ``settle_seconds`` of its stamp, so the next run reads it. The price is a re-read: the
  next run emits again the rows stamped in the last ``settle_seconds`` (plus the second of
  the ``Date``'s resolution) before this run's bound.

No wait is needed: a bound one second past the ``Date`` is safe because the bookmark is
held back to the ``Date`` itself (minus the margin), not to the bound.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import typing as t
from email.utils import parsedate_to_datetime

from tap_acumatica.datetimes import UTC, truncate_ms

#: The ``Date`` header has whole seconds: the server's clock is before ``Date + 1 s``.
DATE_RESOLUTION = dt.timedelta(seconds=1)


def safe_bookmark(
    window_end: dt.datetime, server_date: dt.datetime, settle_seconds: float, start: dt.datetime
) -> dt.datetime:
    """The bookmark after a complete window: ``min(window end, Date - settle)``, not below
    ``start`` (the bookmark the run began with, so a bookmark never goes back)."""
    settled = truncate_ms(server_date - dt.timedelta(seconds=settle_seconds))
    return max(start, min(window_end, settled))


class ServerClock:
    """The latest ``Date`` header seen, and the run's reading of it: fixed once per run by
    the first incremental stream, shared by every stream (thread-safe)."""

    def __init__(self) -> None:
        #: The latest ``Date`` seen, as epoch seconds.
        self.seen: float | None = None
        self._run_date: dt.datetime | None = None
        self._lock = threading.Lock()

    def observe(self, date_header: str | None) -> None:
        """Record a response's ``Date`` header."""
        if not date_header:
            return
        with contextlib.suppress(TypeError, ValueError, IndexError):
            self.seen = parsedate_to_datetime(date_header).timestamp()

    def run_date(self, read_clock: t.Callable[[], None]) -> dt.datetime:
        """The server's clock (a ``Date``) the run's bounds come from, read once per run.

        ``read_clock`` makes one cheap request when nothing has answered yet (HTTP Basic
        on OData, an access token given as is): the local clock is never used, since one
        ahead of the server's would put the bookmark past rows not yet written.
        """
        with self._lock:
            if self._run_date is None:
                if self.seen is None:
                    read_clock()
                seen = self.seen if self.seen is not None else time.time()
                self._run_date = dt.datetime.fromtimestamp(seen, tz=UTC)
            return self._run_date


def upper_bound(server_date: dt.datetime) -> dt.datetime:
    """The run's upper bound: the end of the ``Date``'s second."""
    return server_date + DATE_RESOLUTION
