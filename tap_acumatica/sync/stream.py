"""AcumaticaStream: the base of every Acumatica stream, and what all reads share.

The SDK's paginators cannot express how Acumatica must be read, so this base owns:

* the run's client and settings (from the :class:`~tap_acumatica.run.RunContext`), shared
  by every stream: one login, one concurrency cap;
* the incremental range ``(bookmark, upper bound]`` of a run and the bookmark written after
  every complete part of it (the rule is :mod:`tap_acumatica.sync.bookmarks`); how the
  range is read is the subclass's: stamp windows (:mod:`tap_acumatica.sync.windowed`) or a
  keyset (:mod:`tap_acumatica.dac.stream`);
* full-table reads: ``$top/$skip`` pages that overlap by one row, so a row inserted or
  removed while we page is noticed instead of silently shifting others away
  (:mod:`tap_acumatica.sync.paging`);
* record messages without the SDK's per-record passes, progress logs, and the re-read
  count of the ``settle_seconds`` margin.

Subclasses say how to fetch one request (:meth:`fetch`) and what identifies a row.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
import typing as t

from singer_sdk import singerlib as singer
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream

from tap_acumatica.datetimes import (
    BEFORE_ANY_STAMP,
    UTC,
    format_utc,
    parse_datetime,
    parse_start_date,
    truncate_ms,
)
from tap_acumatica.errors import AcumaticaError
from tap_acumatica.messages import mapped_record_messages
from tap_acumatica.sync.bookmarks import UPPER_BOUND_KEY, safe_bookmark, upper_bound
from tap_acumatica.sync.paging import PageSizing, read_with_anchor
from tap_acumatica.sync.renamed_keys import carry_bookmark
from tap_acumatica.sync.replication import CatalogReplication
from tap_acumatica.sync.windows import Window

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_acumatica.http.client import AcumaticaClient
    from tap_acumatica.run import RunContext
    from tap_acumatica.settings import Settings

Record = dict[str, t.Any]
MAX_QUERY_LENGTH = 1800  # IIS refuses query strings over 2048 bytes by default


class AcumaticaStream(CatalogReplication, PageSizing, RESTStream):
    """Base of every Acumatica stream: one shared client, windowed and overlapped reads."""

    # Records are unwrapped into exactly-schema, JSON-native values by the stream itself
    # (rest/records.py, odata.py), so the SDK's per-record type conformance (over
    # half of the CPU of a sync) is not needed.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: $filter literal dialect for stamp windows.
    filter_dialect = "rest"
    #: True once records come out of :meth:`fetch` holding selected properties only (the
    #: transform was compiled from the selection): the SDK's per-record pruning is skipped.
    records_pruned = False

    def __init__(
        self,
        tap: Tap,
        run: RunContext,
        name: str,
        schema: dict[str, t.Any],
        *,
        replication_key: str | None = None,
        primary_keys: list[str] | None = None,
        valid_replication_keys: t.Sequence[str] | None = None,
        default_replication_key: str | None = None,
        setting_replication_key: str | None = None,
    ) -> None:
        #: What the run shares: its settings, client and logger (the SDK's ``tap`` is only
        #: the SDK's own plumbing here).
        self._run = run
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
        return self._run.client

    @property
    def settings(self) -> Settings:
        """The run's settings (built once by the tap)."""
        return self._run.settings

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
        (see :func:`tap_acumatica.messages.mapped_record_messages`)."""
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

    def _write_starting_replication_value(self, context: Context | None) -> None:
        """Before the SDK reads the bookmark: one written under the entity's other stamp
        name (an endpoint upgrade) is carried over (see :mod:`.renamed_keys`)."""
        if self.incremental and self.replication_key:
            carry_bookmark(
                self.get_context_state(context), self.replication_key, self.name, self.logger
            )
        super()._write_starting_replication_value(context)

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the window end already caps the bookmark at the snapshot time."""
        return

    def _advance_bookmark(self, context: Context | None, window_end: dt.datetime) -> None:
        """Bookmark a complete window: its end, held back to the server's clock of the
        run's start minus ``settle_seconds`` (rows stamped after that may still commit),
        never below the bookmark the run started from (see :mod:`tap_acumatica.sync.bookmarks`)."""
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
        started reading (shared by every stream; see :mod:`tap_acumatica.sync.bookmarks`)."""
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
        """Read ``(bookmark, upper bound]`` (each strategy says how; see the subclasses)."""
        raise NotImplementedError

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
        :func:`tap_acumatica.sync.paging.read_with_anchor`); pages are prefetched concurrently
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
