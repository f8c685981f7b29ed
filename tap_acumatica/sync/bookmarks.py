"""The bookmark rule: the run's upper bound, and the bookmark after a complete window.

Both come from the server's clock as the run fixed it (:meth:`ServerClock.run_date
<tap_acumatica.http.clock.ServerClock.run_date>`, a ``Date`` header in whole seconds):

* **Upper bound** (a run reads ``(bookmark, upper bound]``): the second after that
  ``Date``, because the server's clock was somewhere inside that second when it answered.
  Every change saved before the run started was saved before that answer, so it is stamped
  at or before the bound and is already visible: the run emits it, even one saved in the
  same second as the run's first request.
* **Bookmark** after a window: the window's end, but never later than that ``Date`` minus
  ``settle_seconds``, and never before the bookmark the run started from. Every request
  that reads a window is answered after that ``Date``; a row it did not see (saved later,
  or stamped earlier by a long transaction - a big release, a mass update, an import -
  that committed later) is stamped after ``Date - settle_seconds`` if it committed within
  ``settle_seconds`` of its stamp, so the next run reads it. The price is a re-read: the
  next run emits again the rows stamped in the last ``settle_seconds`` (plus the second of
  the ``Date``'s resolution) before this run's bound.

No wait is needed: a bound one second past the ``Date`` is safe because the bookmark is
held back to the ``Date`` itself (minus the margin), not to the bound.
"""

from __future__ import annotations

import datetime as dt

from tap_acumatica.datetimes import truncate_ms

#: The ``Date`` header has whole seconds: the server's clock is before ``Date + 1 s``.
DATE_RESOLUTION = dt.timedelta(seconds=1)
#: Extra key of a stream's state: the upper bound of the run that wrote the bookmark (the
#: next run counts the rows it reads again). The SDK carries unknown keys through.
UPPER_BOUND_KEY = "replication_key_upper_bound"


def upper_bound(server_date: dt.datetime) -> dt.datetime:
    """The run's upper bound: the end of the ``Date``'s second."""
    return server_date + DATE_RESOLUTION


def safe_bookmark(
    window_end: dt.datetime, server_date: dt.datetime, settle_seconds: float, start: dt.datetime
) -> dt.datetime:
    """The bookmark after a complete window: ``min(window end, Date - settle)``, not below
    ``start`` (the bookmark the run began with, so a bookmark never goes back)."""
    settled = truncate_ms(server_date - dt.timedelta(seconds=settle_seconds))
    return max(start, min(window_end, settled))
