"""AcumaticaStream: the reading strategy shared by every Acumatica API.

:class:`AcumaticaStream` is the one base of REST entities and OData inquiries. It owns the
reading strategy, which the SDK's paginators cannot express for Acumatica:

* incremental streams read stamp windows ``(start, end]`` fixed at the run's start, each
  in one request, in time order, advancing the bookmark after every complete window
  (see :mod:`tap_acumatica.windows` for why);
* full-table streams page with ``$top/$skip`` pages that overlap by one row, so a row
  inserted or removed while we page is noticed instead of silently shifting others away;
* requests overlap up to ``max_concurrent_requests`` while records are emitted in order
  (the concurrent machinery is :mod:`tap_acumatica.paging`).

Subclasses say how to fetch one request (:meth:`fetch`) and what identifies a row.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
import typing as t
from array import array
from collections import deque

from singer_sdk import singerlib as singer
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream

from tap_acumatica.clock import safe_bookmark, upper_bound
from tap_acumatica.datetimes import (
    BEFORE_ANY_STAMP,
    UTC,
    format_utc,
    parse_datetime,
    parse_start_date,
    stamp_ms,
    truncate_ms,
)
from tap_acumatica.errors import AcumaticaError
from tap_acumatica.filters import paging_params, window_filter
from tap_acumatica.output import mapped_record_messages
from tap_acumatica.paging import PageSizing, census_pages, ordered_windows, read_with_anchor
from tap_acumatica.replication import CatalogReplication
from tap_acumatica.windows import CensusPlan, Window, split_at_quantiles

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_acumatica.client import AcumaticaClient, Run
    from tap_acumatica.settings import Settings
    from tap_acumatica.tap import TapAcumatica

Record = dict[str, t.Any]
MAX_QUERY_LENGTH = 1800  # IIS refuses query strings over 2048 bytes by default
#: Extra key of a stream's state: the upper bound of the run that wrote the bookmark.
UPPER_BOUND_KEY = "replication_key_upper_bound"


class AcumaticaStream(CatalogReplication, PageSizing, RESTStream):
    """Base of every Acumatica stream: one shared client, windowed and overlapped reads."""

    # Records are unwrapped into exactly-schema, JSON-native values by the stream itself
    # (rest/records.py, odata/records.py), so the SDK's per-record type conformance (over
    # half of the CPU of a sync) is not needed.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: $filter literal dialect for stamp windows.
    filter_dialect = "rest"
    #: True once records come out of :meth:`fetch` holding selected properties only (the
    #: transform was compiled from the selection): the SDK's per-record pruning is skipped.
    records_pruned = False

    def __init__(
        self,
        tap: TapAcumatica,
        name: str,
        schema: dict[str, t.Any],
        replication_key: str | None = None,
        primary_keys: list[str] | None = None,
        *,
        valid_replication_keys: t.Sequence[str] | None = None,
        default_replication_key: str | None = None,
        setting_replication_key: str | None = None,
    ) -> None:
        #: The run (its client and settings), as the small protocol the streams need.
        self._acumatica_tap: Run = tap
        super().__init__(tap=tap, name=name, schema=schema)
        self.primary_keys = primary_keys or []
        self.replication_key = replication_key
        #: Keys the stream can be read incrementally by (``valid-replication-keys``).
        self.valid_replication_keys = list(
            valid_replication_keys
            if valid_replication_keys is not None
            else ([replication_key] if replication_key else [])
        )
        #: The key used when the catalog names none (an entity's stamp).
        self.default_replication_key = default_replication_key
        #: The key a setting names (``inquiry_replication_keys``), if any.
        self.setting_replication_key = setting_replication_key
        self._last_progress = self._started = 0.0
        self._emitted = 0
        # Incremental runs: the run's upper bound, the bookmark it started from, and the
        # previous run's upper bound (rows stamped at or before it are read again).
        self._bound: dt.datetime | None = None
        self._server_date: dt.datetime | None = None
        self._first_bookmark: dt.datetime | None = None
        self._previous_bound: str | None = None
        self._reread = 0
        self._row_bytes = 0  # see PageSizing

    # Plumbing shared with the tap -------------------------------------------------------

    @property
    def client(self) -> AcumaticaClient:
        return self._acumatica_tap.client

    @property
    def settings(self) -> Settings:
        """The run's settings (built once by the tap)."""
        return self._acumatica_tap.settings

    @property
    def url_base(self) -> str:
        return self.client.base_url

    @property
    def requests_session(self) -> t.Any:
        return self.client.session

    @property
    def authenticator(self) -> t.Any:
        return self.client.auth

    @property
    def page_size(self) -> int:
        return self.settings.page_size

    # What subclasses provide --------------------------------------------------------------

    def fetch(
        self, *, filter_expr: str | None, top: int | None, skip: int, census: bool = False
    ) -> list[Record]:
        """One request: records (transformed), or for ``census`` rows holding the stamp."""
        raise NotImplementedError

    #: ``$filter``/``$top``/``$skip`` of one request (see :func:`filters.paging_params`).
    paging_params = staticmethod(paging_params)

    def record_identity(self, record: Record) -> t.Any:
        """What tells two rows apart (``id`` for REST entities)."""
        return record.get("id")

    def describe(self) -> str:
        return self.name

    # Record messages ----------------------------------------------------------------------

    def _generate_record_messages(
        self, record: Record
    ) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's record path minus the two per-record passes that are no-ops here
        (see :func:`tap_acumatica.output.mapped_record_messages`)."""
        if not self.records_pruned or self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE:
            yield from super()._generate_record_messages(record)
            return
        yield from mapped_record_messages(self.stream_maps, record, self._stream_version)

    # State: the bookmark advances per complete window ---------------------------------

    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Bookmarks come from complete windows, not from record values.

        Rows arrive unordered, so the largest stamp seen so far says nothing about rows
        not yet read; advancing on it would lose them if the run is interrupted.
        """

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the window end already caps the bookmark at the snapshot time."""
        return

    def _advance_bookmark(self, context: Context | None, window_end: dt.datetime) -> None:
        """Bookmark a complete window: its end, held back to the server's clock of the
        run's start minus ``settle_seconds`` (rows stamped after that may still commit),
        never below the bookmark the run started from (:func:`clock.safe_bookmark`)."""
        assert self._bound is not None
        assert self._server_date is not None
        assert self._first_bookmark is not None
        value = safe_bookmark(
            window_end, self._server_date, self.settings.settle_seconds, self._first_bookmark
        )
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = format_utc(value)
        # Not a Singer key: lets the next run count the rows it reads again (the margin).
        state[UPPER_BOUND_KEY] = format_utc(self._bound)
        self.state_manager.is_flushed = False
        self._write_state_message()

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """The SDK logs "An unhandled error occurred while syncing" at ERROR whatever the
        failure. An expected Acumatica error ends as one clear line from the CLI, so for
        those that extra line goes to DEBUG; anything else (a bug) still logs at ERROR."""
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], AcumaticaError):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    # Reading ------------------------------------------------------------------------------

    def get_records(self, context: Context | None) -> t.Iterable[Record]:
        self._emitted = self._reread = 0
        self._previous_bound = None
        self._started = self._last_progress = time.monotonic()
        requests_before = self.client.requests_sent
        if self.incremental:
            yield from self._read_incremental(context)
        else:
            yield from self._read_full_table()
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.logger.info(
            "%s: done, %d records in %.1fs (%.0f records/s, %d requests).",
            self.describe(),
            self._emitted,
            elapsed,
            self._emitted / elapsed,
            self.client.requests_sent - requests_before,
        )
        if self._previous_bound is not None:
            self.logger.info(
                "%s: %d of these records were re-read: stamped at or before the previous "
                "run's upper bound %s, in the settle_seconds margin (%g s) read again for "
                "long transactions that commit late. The previous run may have emitted them "
                "already (targets that upsert on the key absorb these duplicates).",
                self.describe(),
                self._reread,
                self._previous_bound,
                self.settings.settle_seconds,
            )

    def snapshot_end(self) -> dt.datetime:
        """The run's fixed upper bound: one second past the server's clock when the run
        started reading (shared by every stream; see :mod:`tap_acumatica.clock`)."""
        self.client.open()
        self._server_date = self.client.clock.run_date(self.read_server_clock)
        return truncate_ms(upper_bound(self._server_date))

    def read_server_clock(self) -> None:
        """Make one cheap request (its ``Date`` header tells the server's clock)."""
        self.fetch(filter_expr=None, top=1, skip=0)

    def _window_start(self, context: Context | None) -> dt.datetime:
        state = self.get_context_state(context)
        value = state.get("replication_key_value")
        if value:
            return parse_datetime(str(value))
        start = self.settings.start_date
        if start:
            parsed = parse_start_date(start)
            if parsed is not None:
                return dt.datetime.fromtimestamp(parsed.timestamp(), tz=UTC)
        return BEFORE_ANY_STAMP

    def _fetch_window(self, window: Window, top: int | None = None, skip: int = 0) -> list[Record]:
        assert self.replication_key
        flt = window_filter(self.replication_key, window.start, window.end, self.filter_dialect)
        return self.fetch(filter_expr=flt, top=top, skip=skip)

    def _begin_incremental(self, context: Context | None) -> tuple[dt.datetime, dt.datetime]:
        """The range ``(bookmark, upper bound]`` this run reads, remembered for the
        bookmarks it writes and for counting the rows of the previous run's margin."""
        start = self._window_start(context)
        end = self.snapshot_end()
        self._first_bookmark, self._bound = start, end
        previous = self.get_context_state(context).get(UPPER_BOUND_KEY)
        self._previous_bound = str(previous) if previous else None
        return start, end

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
        (:func:`tap_acumatica.paging.census_pages`).
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

    def _read_full_table(self) -> t.Iterator[Record]:
        self.client.open()
        yield from self._emit(
            self._read_with_anchor(
                lambda skip, top: self.fetch(filter_expr=None, top=top, skip=skip),
                concurrent=True,
            )
        )

    def _read_with_anchor(
        self, fetch: t.Callable[[int, int], list[Record]], concurrent: bool
    ) -> t.Iterator[Record]:
        """``$skip`` paging that notices rows shifting under it (see
        :func:`tap_acumatica.paging.read_with_anchor`); pages are prefetched concurrently
        when ``concurrent`` and the client allows more than one request at a time."""
        return read_with_anchor(
            fetch,
            self._window_rows(),
            identity_of=self.record_identity,
            workers=self.client.concurrency if concurrent else 1,
            name=self.name,
            describe=self.describe(),
            logger=self.logger,
        )

    def _emit(self, records: t.Iterable[Record]) -> t.Iterator[Record]:
        full_table = not self.incremental
        key, previous = str(self.replication_key), self._previous_bound
        for record in records:
            self._emitted += 1
            # Stamps are in the one fixed UTC format: string order is time order.
            if previous is not None and (record.get(key) or "") <= previous:
                self._reread += 1
            yield record
            if full_table and not self._emitted % 1000:
                self._log_progress()

    def _log_progress(self, window: Window | None = None) -> None:
        """At most every ``progress_interval_seconds``: records so far, rate, window."""
        now = time.monotonic()
        if now - self._last_progress < self.settings.progress_interval_seconds:
            return
        self._last_progress = now
        rate = self._emitted / max(now - self._started, 1e-9)
        where = ""
        if window and self._server_date is not None and self._first_bookmark is not None:
            bookmark = safe_bookmark(
                window.end, self._server_date, self.settings.settle_seconds, self._first_bookmark
            )
            where = f"; window {window}, bookmark now {bookmark.isoformat()}"
        self.logger.info(
            "%s: %d records so far (%.0f records/s)%s.", self.describe(), self._emitted, rate, where
        )
