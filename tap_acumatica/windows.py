"""Incremental windows: how to read a changing, unordered ERP table without losing rows.

Acumatica lists have no ``$orderby`` and rows change while we page, so ``$skip`` paging
over a changing result skips rows. A window ``(start, end]`` on the modification stamp,
read in a *single* request, is an atomic snapshot of that window; ``end`` is fixed at the
run's start, and a row modified during the run gets a stamp after ``end`` (the next run
reads it). So: plan windows that each fit in one request, read them in time order, and
advance the bookmark to a window's end only when the whole window has been emitted.
"""

from __future__ import annotations

import bisect
import datetime as dt
import typing as t
from dataclasses import dataclass, field

UTC = dt.timezone.utc
RESOLUTION = dt.timedelta(milliseconds=1)  # Acumatica stamps are milliseconds
EPOCH = dt.datetime(1900, 1, 1, tzinfo=UTC)
UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def truncate_ms(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Window:
    """Rows whose stamp is in ``(start, end]``; ``census`` rows were counted in it (or -1)."""

    start: dt.datetime
    end: dt.datetime
    census: int = field(default=-1, compare=False)

    def __str__(self) -> str:
        return f"({self.start.isoformat()}, {self.end.isoformat()}]"

    @property
    def splittable(self) -> bool:
        return self.end - self.start > RESOLUTION

    def split(self) -> tuple[Window, Window]:
        """Two halves at the millisecond nearest the middle."""
        middle = truncate_ms(self.start + (self.end - self.start) / 2)
        if middle <= self.start:
            middle = self.start + RESOLUTION
        return Window(self.start, middle), Window(middle, self.end)


class CensusPlan:
    """Windows cut from a stamp census, planned one at a time, each full.

    ``stamps`` (epoch milliseconds, sorted) is a census of the rows in ``(start, end]``; it
    may be stale (rows move while it is taken, a long transaction commits late): it is only
    a plan. Windows are planned **full**, at most ``target`` census rows each, because while
    they are read they can only shrink (a row changed during the run gets a stamp after
    ``end``); one that overflows anyway is split when read. ``target`` is asked per window,
    so pages can shrink once responses show how many bytes a row takes. Cuts fall on stamp
    values, so rows sharing one stamp never straddle a cut; a run of equal stamps larger
    than ``target`` gets a window of its own, known ``crowded`` before it is read (it is
    read by paging, no single request can hold it).
    """

    def __init__(self, start: dt.datetime, end: dt.datetime, stamps: t.Sequence[int]) -> None:
        self.stamps = stamps
        self.cursor = start
        self.end = end
        self.position = bisect.bisect_right(stamps, _ms(start))
        self.stop = bisect.bisect_right(stamps, _ms(end))
        self.done = False

    @property
    def rows_left(self) -> int:
        return 0 if self.done else self.stop - self.position

    def next_window(self, target: int) -> Window | None:
        """The next window (in time order) of at most ``target`` census rows; None at the end."""
        if target < 1:
            raise ValueError("target must be positive")
        if self.done:
            return None
        stamps, position = self.stamps, self.position
        if self.stop - position <= target:
            self.done = True
            return Window(self.cursor, self.end, self.stop - position)
        candidate = stamps[position + target - 1]
        cut = bisect.bisect_right(stamps, candidate, position)
        if cut - position > target:
            before = bisect.bisect_left(stamps, candidate, position)
            if before > position:  # stop just before the run of equal stamps
                candidate, cut = stamps[before - 1], before
            # else the run starts here: it gets this window (crowded, read by paging)
        window = Window(self.cursor, from_ms(candidate), cut - position)
        self.cursor, self.position = window.end, cut
        if cut >= self.stop and window.end >= self.end:
            self.done = True
        return window


def _ms(moment: dt.datetime) -> int:
    """Whole epoch milliseconds at or before ``moment`` (stamps are whole milliseconds)."""
    return (moment - UNIX_EPOCH) // RESOLUTION


def from_ms(value: int) -> dt.datetime:
    return UNIX_EPOCH + dt.timedelta(milliseconds=value)
