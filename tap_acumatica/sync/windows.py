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
from itertools import pairwise

from tap_acumatica.datetimes import MILLISECOND, from_ms, to_ms, truncate_ms

RESOLUTION = MILLISECOND  # windows are cut at whole milliseconds, as Acumatica stamps


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
        low, high = to_ms(start), to_ms(end)
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


def split_at_quantiles(window: Window, sorted_ms: list[int], parts: int = 16) -> list[Window]:
    """Cut an overflowing ``window`` at the quantiles of the stamps it returned.

    The rows a request returns (the first ones in the server's row order) are a sample
    of the window's rows, so its quantiles cut the window into parts of similar size far
    better than halving time does. Cuts are on stamp values, so rows sharing a stamp stay
    in one part; every part is non-empty in time and the parts cover ``window`` exactly.
    """
    start_ms = to_ms(window.start)
    end_ms = to_ms(window.end)
    cuts = sorted(
        {sorted_ms[len(sorted_ms) * i // parts] for i in range(1, parts)} if sorted_ms else set()
    )
    cuts = [c for c in cuts if start_ms < c < end_ms]
    if not cuts:
        # Every sampled row shares one stamp (or the sample says nothing): isolate it.
        stamp = sorted_ms[len(sorted_ms) // 2] if sorted_ms else (start_ms + end_ms) // 2
        cuts = [c for c in (stamp - 1, stamp) if start_ms < c < end_ms]
        if not cuts:
            return list(window.split())
    bounds = [window.start, *(from_ms(c) for c in cuts), window.end]
    return [Window(a, b) for a, b in pairwise(bounds)]
