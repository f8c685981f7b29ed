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
from dataclasses import dataclass
from itertools import pairwise

from tap_acumatica.datetimes import MILLISECOND, from_ms, to_ms, truncate_ms

RESOLUTION = MILLISECOND  # windows are cut at whole milliseconds, as Acumatica stamps


@dataclass(frozen=True)
class Window:
    """Rows whose stamp is in ``(start, end]``."""

    start: dt.datetime
    end: dt.datetime

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


def plan_windows(
    start: dt.datetime, end: dt.datetime, stamps: t.Sequence[dt.datetime], target: int
) -> list[Window]:
    """Cut ``(start, end]`` into windows of at most ``target`` rows by a stamp census.

    ``stamps`` (sorted) is a census of the rows' stamps; it may be stale or incomplete
    (rows move while it is taken): windows that turn out too full are split when read.
    Cuts fall on stamp values, so rows sharing one stamp never straddle a cut; a group
    larger than ``target`` gets a window of its own.
    """
    if target < 1:
        raise ValueError("target must be positive")
    lo = bisect.bisect_right(stamps, start)
    hi = bisect.bisect_right(stamps, end)
    windows: list[Window] = []
    cursor = start
    position = lo
    while hi - position > target:
        candidate = stamps[position + target - 1]
        cut_index = bisect.bisect_right(stamps, candidate)
        if cut_index - position > target:
            # The cut would include a run of equal stamps that overflows the window: stop
            # just before the run, or, if the run starts here, give it a window of its own.
            before = bisect.bisect_left(stamps, candidate)
            if before > position:
                candidate = stamps[before - 1]
                cut_index = before
            elif cursor < candidate - RESOLUTION:
                # Isolate the run in a one-millisecond window, read by paging.
                windows.append(Window(cursor, candidate - RESOLUTION))
                cursor = candidate - RESOLUTION
        windows.append(Window(cursor, candidate))
        cursor = candidate
        position = cut_index
    windows.append(Window(cursor, end))
    return windows


class WindowPlanner:
    """:func:`plan_windows`, fed the census part by part, in time order.

    The census arrives in parts ``(a, b]`` read in time order, and a part holds every row
    stamped in it, so once a part is in, the stamps up to its end are known and the windows
    that end there can be read at once, while the census of later parts is still on the
    wire. The last window planned so far is held back (more rows may join it); what comes
    out is exactly what ``plan_windows`` gives for the whole census, since its greedy cuts
    depend only on stamps up to each cut. Only the stamps not yet in a window are kept.
    """

    def __init__(self, start: dt.datetime, end: dt.datetime, target: int) -> None:
        if target < 1:
            raise ValueError("target must be positive")
        self.cursor = start
        self.end = end
        self.target = target
        self.pending: list[dt.datetime] = []
        self.finished = False

    def add(self, until: dt.datetime, stamps: t.Iterable[dt.datetime]) -> list[Window]:
        """The census of a part ending at ``until`` (stamps sorted, after earlier parts')."""
        self.pending.extend(stamps)
        *done, held = plan_windows(self.cursor, min(until, self.end), self.pending, self.target)
        if done:
            self.cursor = held.start
            del self.pending[: bisect.bisect_right(self.pending, self.cursor)]
        return done

    def finish(self) -> list[Window]:
        """The windows left once the census is complete (at least one; none twice)."""
        if self.finished:
            return []
        self.finished = True
        windows = plan_windows(self.cursor, self.end, self.pending, self.target)
        self.pending = []
        return windows


def split_at_quantiles(window: Window, sorted_ms: list[int], parts: int = 16) -> list[Window]:
    """Cut an overflowing ``window`` at the quantiles of the stamps it returned.

    The rows a request returns (the first ones in the server's row order) are a sample
    of the window's rows, so its quantiles cut the window into parts of similar size far
    better than halving time does (a first window reaching back to 1900 would otherwise
    be halved a dozen times before reaching the data). Cuts are on stamp values, so rows
    sharing a stamp stay in one part; every part is non-empty in time and the parts
    cover ``window`` exactly.
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
