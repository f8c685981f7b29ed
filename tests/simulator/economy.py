"""What a request costs the ERP: a table scan, rendered rows, and the licence's limits.

Acumatica keeps no index on ``LastModifiedDateTime`` in most tables, renders a whole row
(every field of the entity's views) at many times the cost of a ``$select``-narrowed one,
each ``$expand`` adds a detail or linked view to every row, and the licence queues and
paces API requests. The simulator models these as *time* spent by the request (a sleep in
the request's thread, so the tap's CPU on a shared machine is not what pays for it):

* **scan**: ``scan_us_per_row`` for every row the server examines. Without an index and
  without an order, a filtered request examines the entity's rows in row order until it
  has ``$skip + $top`` matches, or all of them; an unfiltered one examines ``$skip + $top``
  rows (OFFSET reads and discards the skipped rows).
* **render**: ``whole_row_us`` for a row without ``$select``; a ``$select``-narrowed row
  costs ``narrowed_row_us`` plus the whole-row cost in proportion to the top-level fields
  it keeps; each ``$expand`` adds ``expand_row_us`` per row.
* **licence** (off unless ``licence_requests_per_minute`` or ``licence_concurrent_requests``
  is set): past half of the per-minute budget (over the last 60 s) each request is delayed
  so requests are spread evenly over the minute; at most ``licence_concurrent_requests``
  are served at once (the API cores), the others wait in a queue; a request that finds
  ``licence_queue_limit`` (20) requests queued, or would wait over 10 minutes, is refused
  with 429 (see ../shared/docs/ACUMATICA_API.md, "Rate and licence limits").

The defaults are small (a 100k-row scan is 5 ms, a page of 1,000 whole rows 20 ms) so the
test suite's wall time barely moves; the ratios between them are what the tap is judged on.
"""

from __future__ import annotations

import collections
import threading
import time

#: Default cost options (microseconds), merged into the simulator's DEFAULTS.
COST_DEFAULTS: dict = {
    "scan_us_per_row": 0.05,
    "whole_row_us": 20.0,
    "narrowed_row_us": 2.0,
    "expand_row_us": 10.0,
    "licence_requests_per_minute": 0,
    "licence_concurrent_requests": 0,
    "licence_queue_limit": 20,
}

MAX_WAIT_SECONDS = 600.0  # a request that would wait longer is refused (documented)


def count_expansions(tree: dict) -> int:
    """Detail and linked entities in an ``$expand`` tree (nested ones count too)."""
    return sum(1 + count_expansions(sub) for sub in tree.values())


def render_cost_us(
    options: dict, rows: int, selected: int | None, total_fields: int, expansions: int
) -> float:
    """Rendering ``rows`` rows: whole (``selected`` None) or narrowed to ``selected`` fields."""
    if selected is None:
        per_row = float(options["whole_row_us"])
    else:
        share = min(1.0, selected / max(1, total_fields))
        per_row = float(options["narrowed_row_us"]) + share * float(options["whole_row_us"])
    return rows * (per_row + expansions * float(options["expand_row_us"]))


def spend(microseconds: float) -> None:
    """The server is busy this long (a sleep: the request's thread, not the shared CPU)."""
    if microseconds >= 1:
        time.sleep(microseconds / 1e6)


class Licence:
    """The licence's request limits: a per-minute budget, API cores and their queue."""

    def __init__(self, options: dict) -> None:
        self.per_minute = int(options["licence_requests_per_minute"] or 0)
        self.cores = int(options["licence_concurrent_requests"] or 0)
        self.queue_limit = int(options["licence_queue_limit"])
        self.cond = threading.Condition()
        self.active = 0
        self.queued = 0
        self.starts: collections.deque[float] = collections.deque()
        self.paced_until = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.per_minute or self.cores)

    def enter(self, counters) -> bool:
        """Wait for the licence to let this request run; False when it is refused (429)."""
        if not self.enabled:
            return True
        with self.cond:
            if self.queued >= self.queue_limit:
                counters.incr("licence.refused")
                return False
            now = time.monotonic()
            delay = 0.0
            if self.per_minute:
                while self.starts and self.starts[0] <= now - 60:
                    self.starts.popleft()
                if len(self.starts) >= self.per_minute / 2:
                    # Past half the budget: requests are spread evenly over the minute.
                    slot = max(now, self.paced_until + 60.0 / self.per_minute)
                    delay = slot - now
                    if delay > MAX_WAIT_SECONDS:
                        counters.incr("licence.refused")
                        return False
                    self.paced_until = slot
                self.starts.append(now + delay)
            self.queued += 1
            counters.maximum("licence.max_queued", self.queued)
        if delay:
            counters.incr("licence.delayed")
            counters.incr("licence.delay_ms", int(delay * 1000))
            time.sleep(delay)
        with self.cond:
            waited = time.monotonic()
            while self.cores and self.active >= self.cores:
                self.cond.wait()
            if time.monotonic() - waited > 0.0005:
                counters.incr("licence.waited_for_core")
            self.queued -= 1
            self.active += 1
        return True

    def leave(self) -> None:
        if not self.enabled:
            return
        with self.cond:
            self.active -= 1
            self.cond.notify()
