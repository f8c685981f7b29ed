"""The server's clock as one run sees it: the ``Date`` header of its responses.

Acumatica stamps ``LastModifiedDateTime`` with its own clock when a record is saved, so an
incremental run must bound what it reads by the *server's* clock (a client machine ahead of
the server would otherwise bookmark past rows not yet written). The only reading of that
clock is the ``Date`` header of each response, in whole seconds. The client records every
``Date`` it sees here; the first incremental stream fixes the run's reading of it
(:meth:`ServerClock.run_date`), from which :mod:`tap_acumatica.sync.bookmarks` derives the
run's upper bound and the bookmarks it writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
import typing as t
from email.utils import parsedate_to_datetime

from tap_acumatica.datetimes import UTC

LOGGER = logging.getLogger("tap_acumatica.clock")


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
        on OData, an access token given as is). The local clock is used only when the
        server sends no ``Date`` header at all (HTTP requires one; a proxy may strip it),
        with a warning: a machine clock ahead of the server's would put the bookmark past
        rows not yet written, which ``settle_seconds`` then has to cover.
        """
        with self._lock:
            if self._run_date is None:
                if self.seen is None:
                    read_clock()
                seen = self.seen
                if seen is None:
                    LOGGER.warning(
                        "The server sent no Date header: the run's upper bound comes from "
                        "this machine's clock, which must not run ahead of the server's by "
                        "more than settle_seconds."
                    )
                    seen = time.time()
                self._run_date = dt.datetime.fromtimestamp(seen, tz=UTC)
            return self._run_date
