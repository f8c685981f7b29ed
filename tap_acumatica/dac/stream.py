"""DAC-based OData v4: every data access class (table) of the ERP as a stream.

Reading, unlike REST and generic inquiries, can rely on ``$orderby``: a DAC with
``LastModifiedDateTime`` is read by **keyset** - ordered by (stamp, keys), each page
continuing after the last (stamp, keys) read, up to the run's fixed upper bound
(:meth:`AcumaticaStream.snapshot_end`). Rows changing while we page move past the bound
(they are the next run's), and no row can slide between pages as with ``$skip``. The
bookmark advances after every page to just before the last stamp read (rows sharing that
stamp may follow), then to the bound when the range is done. A DAC without the stamp is
read in full by keyset on its keys.

Deletes (``detect_deletes``): rows soft-deleted in tables with ``DeletedDatabaseRecord``
are asked for with header ``PX-ApiDeleted: SHOW`` and emitted with ``_sdc_deleted_at``;
removed rows come from the deleted-records feed (:mod:`tap_acumatica.dac.deletes`).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_acumatica.archive import archive_headers
from tap_acumatica.dac.deletes import DeletedRecords
from tap_acumatica.dac.metadata import DELETED_AT, SOFT_DELETE_FLAG
from tap_acumatica.dac.service import ROLE_HINT, DacService
from tap_acumatica.datetimes import format_utc, parse_datetime
from tap_acumatica.errors import (
    AcumaticaResponseError,
    raise_unless_ok,
)
from tap_acumatica.odata import compile_record
from tap_acumatica.query import keyset_after, literal_kind, paging_params, window_filter
from tap_acumatica.sync.stream import MAX_QUERY_LENGTH, AcumaticaStream, Record
from tap_acumatica.sync.windows import RESOLUTION

if t.TYPE_CHECKING:
    import requests
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_acumatica.run import RunContext


class DacStream(DeletedRecords, AcumaticaStream):
    """One DAC, read by keyset (incremental on LastModifiedDateTime where it has it)."""

    filter_dialect = "odata4"

    def __init__(
        self,
        tap: Tap,
        run: RunContext,
        service: DacService,
        name: str,
        schema: dict[str, t.Any],
        *,
        entity_set: str,
        keys: list[str],
        primary_keys: list[str],
        replication_key: str | None,
    ) -> None:
        super().__init__(
            tap, run, name, schema, replication_key=replication_key, primary_keys=primary_keys
        )
        self.service = service
        self.entity_set = entity_set
        self.keys = list(keys)
        self._transform_fn: t.Callable[[dict[str, t.Any]], Record] | None = None
        props = schema.get("properties", {})
        self.detect_deletes = self.settings.detect_deletes
        self.soft_deletes = SOFT_DELETE_FLAG in props
        #: The upper bound of this run's record read: the deleted-records feed is read up
        #: to the same bound (None until an incremental read fixed it).
        self._deletes_end = None

    def describe(self) -> str:
        return f"DAC {self.name!r}"

    @property
    def _singer_catalog_entry(self) -> t.Any:
        """The catalog names the entity set read in ``table_name`` (Singer's field for the
        source table), so a ``--catalog`` sync needs no ``$metadata``."""
        entry = super()._singer_catalog_entry
        entry.table = self.entity_set
        return entry

    @property
    def path(self) -> str:  # type: ignore[override]
        return self.service.root() + self.client.quote_segment(self.entity_set)

    # Query options --------------------------------------------------------------------------

    def _select(self) -> str | None:
        props = [p for p in self.schema.get("properties", {}) if p != DELETED_AT]
        needed = {*self.keys, *self.primary_keys}
        if self.replication_key:
            needed.add(self.replication_key)
        if self.detect_deletes:
            needed.update(n for n in ("NoteID", SOFT_DELETE_FLAG) if n in props)
        chosen = [p for p in props if p in needed or self.mask.get(("properties", p), True)]
        text = ",".join(chosen)
        if len(chosen) == len(props) or len(text) > MAX_QUERY_LENGTH // 2:
            return None  # everything (a long $select would pass IIS's query limit)
        return text

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json;odata.metadata=minimal;IEEE754Compatible=true"}
        headers.update(archive_headers(self.settings))  # archived rows too, by default
        if self.detect_deletes and self.soft_deletes:
            headers["PX-ApiDeleted"] = "SHOW"
        return headers

    def fetch(
        self,
        *,
        filter_expr: str | None,
        top: int | None,
        skip: int,
        census: bool = False,
        orderby: list[str] | None = None,
    ) -> list[Record]:
        params: dict[str, t.Any] = {}
        select = self._select()
        if select:
            params["$select"] = select
        if orderby:
            params["$orderby"] = ",".join(orderby)
        params.update(paging_params(filter_expr, top, skip))
        what = self.describe() + (f" ({filter_expr})" if filter_expr else "")
        response = self.client.request(
            "GET", self.path, params=params, what=what, headers=self._headers()
        )
        raise_unless_ok(response, what, self._explain_status)
        return [self._record(raw) for raw in self._rows(response, what)]

    def _transform(self, raw: dict[str, t.Any]) -> Record:
        """Compiled on first use: discovery builds thousands of streams it never reads."""
        if self._transform_fn is None:
            self._transform_fn = compile_record(self.schema)
        return self._transform_fn(raw)

    def _record(self, raw: dict[str, t.Any]) -> Record:
        record = self._transform(raw)
        if self.soft_deletes and raw.get(SOFT_DELETE_FLAG) is True:
            record[DELETED_AT] = record.get(self.replication_key or "") or format_utc(
                dt.datetime.now(dt.timezone.utc)
            )
        return record

    def _rows(self, response: requests.Response, what: str) -> list[dict[str, t.Any]]:
        body = self.client.parse_json(response, what)
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, list):
            raise AcumaticaResponseError(f"{what}: expected an OData JSON body with 'value'.")
        if isinstance(body, dict) and body.get("@odata.nextLink"):
            # Keyset pages ask for $top rows; a server cutting them short would make the
            # next page start after its last row anyway, so nothing is lost.
            self.logger.debug("%s: server-driven paging (nextLink) ignored.", what)
        return [r for r in value if isinstance(r, dict)]

    def _explain_status(self, response: requests.Response, detail: str) -> str | None:
        if response.status_code == 403:
            return (
                f"DAC {self.entity_set!r}: Acumatica answered 403 Forbidden ({detail}) for "
                f"user {self.settings.username or '(token user)'!r}. {ROLE_HINT}"
            )
        return None

    def read_server_clock(self) -> None:
        """The service document: its ``Date`` header gives the server's clock."""
        self.client.request("GET", self.service.root(), what="DAC OData service document")

    def record_identity(self, record: Record) -> t.Any:
        return tuple(record.get(k) for k in self.keys) if self.keys else record.get("NoteID")

    # Reading --------------------------------------------------------------------------------

    def get_records(self, context: Context | None) -> t.Iterable[Record]:
        yield from super().get_records(context)
        if self.detect_deletes and self.replication_key:
            yield from self._read_deletes(context)

    def _order(self) -> list[tuple[str, str]]:
        names = ([self.replication_key] if self.replication_key else []) + self.keys
        props = self.schema.get("properties", {})
        return [(n, literal_kind(props.get(n, {}))) for n in names]

    def _keyset(self, lower: str | None) -> t.Iterator[list[Record]]:
        """Pages in (stamp, keys) order; ``lower`` bounds the range (stamp window)."""
        order = self._order()
        orderby = [n for n, _ in order]
        page = self.page_size
        last: Record | None = None
        while True:
            parts = [p for p in (lower, keyset_after(order, last) if last else None) if p]
            flt = " and ".join(f"({p})" if " or " in p else p for p in parts) or None
            rows = self.fetch(filter_expr=flt, top=page, skip=0, orderby=orderby)
            yield rows
            if len(rows) < page:
                return
            last = rows[-1]

    def _read_incremental(self, context: Context | None) -> t.Iterator[Record]:
        stamp = str(self.replication_key)
        start, end = self._begin_incremental(context)
        self._deletes_end = end
        if end <= start:
            self.logger.info(
                "%s: nothing to read, bookmark is at the snapshot end.", self.describe()
            )
            return
        bounds = window_filter(stamp, start, end, "odata4")
        self.logger.info("%s: reading changes after %s by keyset.", self.describe(), start)
        bookmark = start
        for rows in self._keyset(bounds):
            yield from self._emit(rows)
            if rows and (value := rows[-1].get(stamp)):
                # Rows sharing the last stamp may follow on the next page: bookmark just
                # before it, so a run killed now re-reads those and loses nothing.
                safe = parse_datetime(str(value)) - RESOLUTION
                if safe > bookmark:
                    bookmark = safe
                    self._advance_bookmark(context, safe)
        self._advance_bookmark(context, end)

    def _read_full_table(self) -> t.Iterator[Record]:
        if not self.keys:
            yield from super()._read_full_table()
            return
        self.client.open()
        for rows in self._keyset(None):
            yield from self._emit(rows)
