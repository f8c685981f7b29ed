"""Concurrent reads emitted in order: stamp windows, census pages and overlapping pages.

The reading strategy of :class:`~tap_acumatica.streams.AcumaticaStream` needs requests in
flight together (up to ``max_concurrent_requests``; the client's semaphore is the cap)
while rows are emitted in time order, and ``$skip`` paging that notices rows shifting
under it. This is that machinery, apart from any stream: each function takes the fetch
to call.
"""

from __future__ import annotations

import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from tap_acumatica.errors import AcumaticaAPIError

if t.TYPE_CHECKING:
    import logging
    from array import array

    from tap_acumatica.windows import Window

Record = dict[str, t.Any]
#: Times ``read_with_anchor`` reads again from the start before giving up.
MAX_RESTARTS = 3
#: Stamps per census request (``$select`` of the stamp: ~200 bytes a row on the wire
#: uncompressed, so ~5 MB): one request covers most change sets, four a 100k-row first load.
CENSUS_ROWS = 25_000
#: Rows per request are capped so a page body stays under this many bytes (see
#: ``_window_rows``); a page of 1,000 top-level Customers is ~2 MB.
PAGE_BYTES = 4 * 1024 * 1024


class PageSizing:
    """Rows per request of a stream: ``page_size``, fewer when its rows are big.

    Mixed into :class:`~tap_acumatica.streams.AcumaticaStream`, which gives ``page_size``
    (the setting); subclasses know their selection (:meth:`estimated_row_bytes`) and report
    whole-row responses (:meth:`note_response`, :meth:`measured`).
    """

    #: Largest bytes per whole row seen in a response (0: none yet); sizes pages.
    _row_bytes = 0

    @property
    def page_size(self) -> int:
        raise NotImplementedError

    @property
    def census_rows(self) -> int:
        """Stamps per census request: narrowed rows are cheap, requests are not. One more
        than a round number, so a change set of exactly 25,000 rows takes one request."""
        return max(self.page_size, CENSUS_ROWS) + 1

    def _window_rows(self) -> int:
        """Rows a window is planned for: ``page_size``, fewer when rows are big.

        After the first whole-row response the tap knows how many bytes a row takes, and
        caps rows per request so a page body stays under ``PAGE_BYTES`` (a Customer with
        every detail and linked entity expanded is ~30 KB; 1,000 of them would hold ~300 MB
        of decoded records per page). Before that, an estimate from the selection.
        """
        per_row = self._row_bytes or self.estimated_row_bytes()
        return max(1, min(self.page_size, PAGE_BYTES // max(1, per_row)))

    def estimated_row_bytes(self) -> int:
        """A guess of a row's size before any response (subclasses know their selection)."""
        return 0

    def note_response(self, body_bytes: int, rows: int) -> None:
        """Record a whole-row response's size (the largest bytes per row seen so far)."""
        if rows:
            self._row_bytes = max(self._row_bytes, body_bytes // rows)

    def measured(self, decode: t.Callable[[bytes], t.Any]) -> t.Callable[[bytes], t.Any]:
        """``decode`` that also notes the body's bytes per row (see :meth:`note_response`)."""

        def run(body: bytes) -> t.Any:
            rows = decode(body)
            self.note_response(len(body), len(rows) if isinstance(rows, list) else 0)
            return rows

        return run


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


def sequential_pages(
    fetch_at: t.Callable[[int], list[Record]], size: int
) -> t.Iterator[list[Record]]:
    skip = 0
    while True:
        rows = fetch_at(skip)
        yield rows
        if len(rows) < size:
            return
        skip += size - 1


def read_with_anchor(
    fetch: t.Callable[[int, int], list[Record]],
    size: int,
    *,
    identity_of: t.Callable[[Record], t.Any],
    workers: int,
    name: str,
    describe: str,
    logger: logging.Logger,
) -> t.Iterator[Record]:
    """``$skip`` paging that notices rows shifting under it.

    Pages overlap by one row: the last row of a page must come back as the first of
    the next. If it does not, rows before it were removed or reordered, and rows may
    have slid past us; we read again from the start, skipping rows already emitted.
    ``identity_of`` tells rows apart; ``workers`` above 1 prefetches pages concurrently.
    """
    seen: set[t.Any] = set()
    for _attempt in range(MAX_RESTARTS + 1):
        anchor: t.Any = None
        shifted = False
        pages = (
            overlapping_pages(
                lambda skip: fetch(skip, size), size, overlap=1, workers=workers, name=name
            )
            if workers > 1
            else sequential_pages(lambda skip: fetch(skip, size), size)
        )
        for rows in pages:
            identities = [identity_of(r) for r in rows]
            if anchor is not None and anchor not in identities:
                shifted = True
                break
            for identity, row in zip(identities, rows, strict=False):
                if identity not in seen:
                    seen.add(identity)
                    yield row
            if len(rows) < size:
                break
            anchor = identities[-1]
        if not shifted:
            return
        logger.warning(
            "%s: rows moved while paging; reading again from the start "
            "(rows already emitted are skipped).",
            describe,
        )
    raise AcumaticaAPIError(
        f"{describe}: rows kept moving while paging ({MAX_RESTARTS} restarts); "
        "try again when the ERP is quieter, or use a smaller page_size."
    )
