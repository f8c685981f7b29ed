"""The server clock, the run's upper bound and the held-back bookmark, as pure logic."""

from __future__ import annotations

import datetime as dt

from tap_acumatica.http.clock import ServerClock
from tap_acumatica.sync.bookmarks import safe_bookmark, upper_bound

UTC = dt.timezone.utc
D = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> dt.datetime:
    return D + dt.timedelta(seconds=seconds)


def test_upper_bound_is_the_end_of_the_dates_second() -> None:
    assert upper_bound(D) == at(1)


def test_bookmark_is_held_back_by_the_margin_and_never_goes_back() -> None:
    start = at(-100)
    # A window ending before the margin: its end.
    assert safe_bookmark(at(-50), D, 30, start) == at(-50)
    # A window ending in the margin (or at the upper bound): the Date minus the margin.
    assert safe_bookmark(at(-10), D, 30, start) == at(-30)
    assert safe_bookmark(upper_bound(D), D, 30, start) == at(-30)
    # Two runs within the margin: the bookmark stays where the run started.
    assert safe_bookmark(upper_bound(D), D, 30, at(-20)) == at(-20)
    # settle_seconds 0: the Date itself, still a second before the upper bound.
    assert safe_bookmark(upper_bound(D), D, 0, start) == D


def test_the_run_reads_the_server_clock_once() -> None:
    clock = ServerClock()
    asked: list[int] = []

    def read_clock() -> None:  # what a stream does when nothing has answered yet
        asked.append(1)
        clock.observe("Sun, 01 Mar 2026 12:00:00 GMT")

    assert clock.run_date(read_clock) == D
    clock.observe("Sun, 01 Mar 2026 12:05:00 GMT")  # later responses: same run bound
    assert clock.run_date(read_clock) == D
    assert asked == [1]


def test_the_latest_date_seen_is_used_without_a_request() -> None:
    clock = ServerClock()
    clock.observe("Sun, 01 Mar 2026 11:59:00 GMT")
    clock.observe("not a date")  # ignored
    clock.observe(None)
    clock.observe("Sun, 01 Mar 2026 12:00:00 GMT")
    assert clock.run_date(lambda: (_ for _ in ()).throw(AssertionError("no request"))) == D
