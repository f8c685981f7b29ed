"""Incremental windows: how to read a changing, unordered ERP table without losing rows.

Acumatica lists have no ``$orderby`` and rows change while we page, so ``$skip`` paging
over a changing result skips rows. A window ``(start, end]`` on the modification stamp,
read in a *single* request, is an atomic snapshot of that window; ``end`` is fixed at the
run's start, and a row modified during the run gets a stamp after ``end`` (the next run
reads it). So: plan windows that each fit in one request, read them in time order, and
advance the bookmark to a window's end only when the whole window has been emitted.
"""

from __future__ import annotations

import collections
import datetime as dt
import heapq
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

    ``pages`` are the census requests' stamps (epoch milliseconds), each sorted; together
    they census the rows in ``(start, end]``. The census may be stale (rows move while it
    is taken, a long transaction commits late): it is only a plan. Windows are planned
    **full**, at most ``target`` census rows each, because while they are read they can
    only shrink (a row changed during the run gets a stamp after ``end``); one that
    overflows anyway is split when read. ``target`` is asked per window, so pages can
    shrink once responses show how many bytes a row takes. Cuts fall on stamp values, so
    rows sharing one stamp never straddle a cut; a run of equal stamps larger than
    ``target`` gets a window of its own, known crowded (``census`` > target) before it is
    read. The pages are merged lazily: beside them only the stamps of the next window are
    held (a sorted copy of a 1M-row census would be 36 MB of Python ints).
    """

    def __init__(
        self, start: dt.datetime, end: dt.datetime, pages: t.Iterable[t.Sequence[int]]
    ) -> None:
        low, high = _ms(start), _ms(end)
        self.stamps = (s for s in heapq.merge(*pages) if low < s <= high)
        self.ahead: collections.deque[int] = collections.deque()
        self.exhausted = False
        self.cursor = start
        self.end = end
        self.done = False

    def _fill(self, count: int) -> None:
        """Hold at least ``count`` stamps ahead, unless the census runs out."""
        while len(self.ahead) < count and not self.exhausted:
            value = next(self.stamps, None)
            if value is None:
                self.exhausted = True
            else:
                self.ahead.append(value)

    def next_window(self, target: int) -> Window | None:
        """The next window (in time order) of at most ``target`` census rows; None at the end."""
        if target < 1:
            raise ValueError("target must be positive")
        if self.done:
            return None
        ahead = self.ahead
        self._fill(target + 1)
        if len(ahead) <= target:
            self.done = True
            window = Window(self.cursor, self.end, len(ahead))
            ahead.clear()
            return window
        candidate = ahead[target - 1]
        take = target
        if ahead[target] == candidate:  # a run of equal stamps straddles the cut
            take = 0
            while ahead[take] != candidate:
                take += 1
            if take:  # stop just before the run
                candidate = ahead[take - 1]
            else:  # the run starts here: it gets this window (crowded, read by paging)
                take = 1
                while True:
                    self._fill(take + 1)
                    if len(ahead) <= take or ahead[take] != candidate:
                        break
                    take += 1
        for _ in range(take):
            ahead.popleft()
        window = Window(self.cursor, from_ms(candidate), take)
        self.cursor = window.end
        if window.end >= self.end:
            self.done = True
        return window


def _ms(moment: dt.datetime) -> int:
    """Whole epoch milliseconds at or before ``moment`` (stamps are whole milliseconds)."""
    return (moment - UNIX_EPOCH) // RESOLUTION


def from_ms(value: int) -> dt.datetime:
    return UNIX_EPOCH + dt.timedelta(milliseconds=value)
