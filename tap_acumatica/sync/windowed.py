"""WindowedStream: incremental reads by stamp windows planned from a census.

For the APIs without a usable ``$orderby`` on the stamp (the contract-based REST API has
none; a generic inquiry's sort is a server-side sort of the whole result), an incremental
run reads ``(bookmark, upper bound]`` in windows:

1. **Census**: the stamps of the range's rows (``$select`` of the stamp alone, a fraction
   of a whole row's cost), continued with ``$skip`` until a short page: a plan, not a
   promise.
2. **Windows planned full** (:class:`~tap_acumatica.sync.windows.CensusPlan`), each read in
   one request (``$top = page_size + 1``): complete and atomic. One that overflows anyway
   (a stale census, a late commit) is split at the median stamp of the rows it returned;
   a run of one stamp larger than a page is paged with overlap checks.
3. Windows are read concurrently and emitted in time order
   (:func:`~tap_acumatica.sync.executor.ordered_windows`); the bookmark advances after
   every complete window.

DAC streams read by keyset instead (:mod:`tap_acumatica.dac.stream`).
"""

from __future__ import annotations

import typing as t
from array import array
from collections import deque

from tap_acumatica.datetimes import stamp_ms
from tap_acumatica.query import window_filter
from tap_acumatica.sync.executor import census_pages, ordered_windows
from tap_acumatica.sync.stream import AcumaticaStream, Record
from tap_acumatica.sync.windows import CensusPlan, Window, split_at_quantiles

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class WindowedStream(AcumaticaStream):
    """A stream whose incremental reads are census-planned stamp windows."""

    def _fetch_window(self, window: Window, top: int | None = None, skip: int = 0) -> list[Record]:
        assert self.replication_key
        flt = window_filter(self.replication_key, window.start, window.end, self.filter_dialect)
        return self.fetch(filter_expr=flt, top=top, skip=skip)

    def _read_incremental(self, context: Context | None) -> t.Iterator[Record]:
        """Read ``(start, end]``: a census of stamps first, then windows planned full.

        Every request costs the ERP a scan of the table (there is no index on the stamp)
        and every whole row costs far more than a stamp, so the plan spends narrowed rows
        to save requests and whole rows: the first request is the census (``$select`` of
        the stamp; when it holds every row, it is the only census request), then the
        windows it plans, each read in one request. No whole row is read twice unless the
        table changed under the plan.
        """
        start, end = self._begin_incremental(context)
        if end <= start:
            self.logger.info(
                "%s: nothing to read, bookmark %s is at the snapshot end.",
                self.describe(),
                start.isoformat(),
            )
            return
        whole = Window(start, end)
        self.logger.info("%s: reading changes in %s.", self.describe(), whole)
        pages = self._census(whole)
        counted = sum(len(p) for p in pages)
        if not counted:
            self._advance_bookmark(context, end)
            return
        plan = CensusPlan(start, end, pages)
        del pages
        if counted > self.page_size:
            self.logger.info(
                "%s: %d changed records by the census; reading them in windows of at most "
                "%d records.",
                self.describe(),
                counted,
                self._window_rows(),
            )

        def more_windows() -> list[Window] | None:
            window = plan.next_window(self._window_rows())
            return None if window is None else [window]

        yield from self._read_windows(context, deque(), more_windows)

    def _census(self, window: Window) -> list[array[int]]:
        """The stamps (epoch ms) of the rows in ``window``, one sorted array per census
        request (8 bytes a stamp): a plan, not a promise.

        ``$select`` of the stamp alone (narrowed rows, a fraction of a whole row's cost),
        ``census_rows`` per request, continued with ``$skip`` until a short page. Rows may
        move between census pages (a stale census only makes windows over- or under-full,
        and an overfull one is split when read), and without an index on the stamp a
        ``$skip`` costs the server no more than the scan every filtered request pays. With
        ``max_concurrent_requests`` above 1, the next pages are asked for together
        (:func:`tap_acumatica.sync.executor.census_pages`).
        """
        assert self.replication_key
        key = self.replication_key
        size = self.census_rows
        flt = window_filter(key, window.start, window.end, self.filter_dialect)

        def census_page(skip: int) -> array[int]:
            rows = self.fetch(filter_expr=flt, top=size, skip=skip, census=True)
            return array("q", sorted(stamp_ms(value) for r in rows if (value := r.get(key))))

        return census_pages(
            census_page, size, ahead=max(1, self.client.concurrency - 1), name=self.name
        )

    def _read_windows(
        self,
        context: Context | None,
        queue: deque[Window],
        more: t.Callable[[], list[Window] | None] | None = None,
    ) -> t.Iterator[Record]:
        page = self.page_size

        def read(window: Window) -> list[Record] | None:
            if window.census > page:
                return None  # crowded: paged below, lazily, in time order
            return self._fetch_window(window, page + 1)

        # One request queued and one thread more than connections (see ordered_windows).
        for window, rows in ordered_windows(
            queue,
            read,
            page,
            depth=self.client.concurrency + 1,
            name=self.name,
            more=more,
            split=self._split_overflow,
        ):
            records = rows if rows is not None and len(rows) <= page else self._page_window(window)
            del rows
            yield from self._emit(records)
            del records
            self._advance_bookmark(context, window.end)
            self._log_progress(window)

    def _split_overflow(self, window: Window, rows: list[Record]) -> list[Window]:
        """Halves of a window that held more rows than a request may return, cut at the
        median stamp of the rows it did return (a census gone stale, a late commit)."""
        key = str(self.replication_key)
        found = sorted(stamp_ms(v) for r in rows if isinstance(v := r.get(key), str))
        return split_at_quantiles(window, found, parts=2)

    def _page_window(self, window: Window) -> t.Iterator[Record]:
        """Page a window too full to split (one stamp shared by more rows than a page)."""
        self.logger.info(
            "%s: window %s holds more than one page of rows with one stamp; "
            "paging it with overlap checks.",
            self.describe(),
            window,
        )
        yield from self._read_with_anchor(
            lambda skip, top: self._fetch_window(window, top=top, skip=skip), concurrent=False
        )
