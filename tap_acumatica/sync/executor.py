"""Requests in flight together, rows emitted in order: the concurrent executor.

The reading strategy (:class:`~tap_acumatica.sync.stream.AcumaticaStream`) wants up to
``max_concurrent_requests`` requests on the wire (the client's semaphore is the cap) while
rows are emitted in time order. These functions are that machinery, apart from any stream:
each takes the fetch to call. Thread pools are the standard library's; nothing in the SDK
runs requests concurrently.
"""

from __future__ import annotations

import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

if t.TYPE_CHECKING:
    from array import array

    from tap_acumatica.sync.windows import Window

Record = dict[str, t.Any]


def census_pages(
    census_page: t.Callable[[int], array[int]], size: int, *, ahead: int, name: str
) -> list[array[int]]:
    """Census pages (``census_page(skip)``) until a short one; after a full first page, up
    to ``ahead`` pages are asked for at once (the last of a round may find nothing; that
    is the price of not waiting on each page). Pages come back in ``$skip`` order."""
    pages = [census_page(0)]
    if len(pages[0]) >= size:
        with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix=f"{name}-census") as pool:
            skip = size
            done = False
            while not done:
                round_ = [pool.submit(census_page, skip + i * size) for i in range(ahead)]
                skip += ahead * size
                for future in round_:
                    found = future.result()
                    if not done:
                        pages.append(found)
                    done = done or len(found) < size
    return pages


def ordered_windows(
    queue: deque[Window],
    read: t.Callable[[Window], list[t.Any] | None],
    limit: int,
    *,
    depth: int,
    name: str,
    split: t.Callable[[Window, list[t.Any]], list[Window]] | None = None,
    more: t.Callable[[], list[Window] | None] | None = None,
) -> t.Iterator[tuple[Window, list[t.Any] | None]]:
    """Read windows concurrently, yielding ``(window, rows)`` in time order.

    A window that returns more than ``limit`` rows is split (in two halves, or by
    ``split(window, rows)``) and the parts are read instead; when it cannot be split
    its rows are yielded as they are, for the caller to deal with. More
    requests than there are connections are queued, so the next responses are on their
    way and decoded while the caller emits the current one; the client's semaphore
    still keeps at most ``max_concurrent_requests`` requests in flight. When the queue
    runs dry, ``more()`` gives the next windows (later in time), or None when done.
    """
    # ``depth`` is one request queued and one thread more than connections: while
    # ``max_concurrent_requests`` responses are awaited, another thread decodes and
    # transforms the previous one. (Not more: requests sent while a window is being
    # paged give rows more chances to move under the pages.) The client's semaphore,
    # held only while a request is on the wire, caps requests in flight.
    pending: deque[tuple[Window, Future[list[t.Any] | None]]] = deque()
    with ThreadPoolExecutor(max_workers=depth, thread_name_prefix=f"{name}-window") as pool:
        try:
            while queue or pending or more:
                while len(pending) < depth:
                    if not queue and more:
                        fresh = more()
                        if fresh is None:
                            more = None
                        queue.extend(fresh or ())
                        continue
                    if not queue:
                        break
                    window = queue.popleft()
                    pending.append((window, pool.submit(read, window)))
                if not pending:
                    continue
                window, future = pending.popleft()
                rows = future.result()
                if rows is not None and len(rows) > limit and window.splittable:
                    parts = split(window, rows) if split else list(window.split())
                    del rows
                    for part in reversed(parts):
                        pending.appendleft((part, pool.submit(read, part)))
                    continue
                yield window, rows
        finally:
            for _, future in pending:
                future.cancel()


def overlapping_pages(
    fetch_at: t.Callable[[int], list[Record]], size: int, overlap: int, *, workers: int, name: str
) -> t.Iterator[list[Record]]:
    """Pages at offsets 0, size-overlap, …; prefetched concurrently; stop at a short page."""
    step = size - overlap
    with ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix=f"{name}-page") as pool:
        pending: deque[Future[list[Record]]] = deque()
        next_skip = 0
        try:
            while True:
                # One more than the connections: the next page is on its way while
                # this one is emitted (the client's semaphore caps requests in flight).
                while len(pending) <= workers:
                    pending.append(pool.submit(fetch_at, next_skip))
                    next_skip += step
                rows = pending.popleft().result()
                yield rows
                if len(rows) < size:
                    return
        finally:
            for future in pending:
                future.cancel()
