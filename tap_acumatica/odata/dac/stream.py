"""DAC-based OData v4: every data access class (table) of the ERP as a stream.

Two URL families serve the same DACs:

* ``v4``: ``<url>/t/<company>/api/odata/dac/`` (Acumatica's paths since 2024);
* ``legacy``: ``<url>/ODatav4/<company>/`` (the tenant segment may be left out on
  single-tenant sites).

``odata_url_style: auto`` probes the v4 service document, then the legacy one, and logs
which it uses. A pasted service URL (``…/t/MyCompany/api/odata/dac/`` or ``…/ODatav4/…``)
gives the family and the tenant.

Reading, unlike REST and generic inquiries, can rely on ``$orderby``: a DAC with
``LastModifiedDateTime`` is read by **keyset** - ordered by (stamp, keys), each page
continuing after the last (stamp, keys) read, up to the run's fixed upper bound
(:meth:`AcumaticaStream.snapshot_end`). Rows changing while we page move past the bound
(they are the next run's), and no row can slide between pages as with ``$skip``. The
bookmark advances after every page to just before the last stamp read (rows sharing that
stamp may follow), then to the bound when the range is done. A DAC without the stamp is
read in full by keyset on its keys.

Deletes (``detect_deletes``): ``<set>/px.GetDeletedRecords()`` lists removed records
(NoteID, DeleteDate) of DACs with deletion tracking (SM207010), kept 10 days by default;
each incremental run reads it since its own bookmark and emits one record per removed row
with ``NoteID`` and ``_sdc_deleted_at``. Rows soft-deleted in tables with
``DeletedDatabaseRecord`` are asked for with header ``PX-ApiDeleted: SHOW`` and emitted with
``_sdc_deleted_at``.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_acumatica.clock import safe_bookmark
from tap_acumatica.datetimes import BEFORE_ANY_STAMP, format_utc, parse_datetime
from tap_acumatica.errors import (
    AcumaticaResponseError,
    body_detail,
    raise_unless_ok,
)
from tap_acumatica.odata.dac.metadata import DELETED_AT, SOFT_DELETE_FLAG
from tap_acumatica.odata.dac.service import ROLE_HINT, DacService
from tap_acumatica.odata.records import compile_record, keyset_after, literal_kind
from tap_acumatica.streams import MAX_QUERY_LENGTH, AcumaticaStream, Record
from tap_acumatica.windows import RESOLUTION

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_acumatica.tap import TapAcumatica

DELETE_RETENTION_DAYS = 10
DELETES_BOOKMARK = "deletes_since"


# --- the stream ------------------------------------------------------------------------------


class DacStream(AcumaticaStream):
    """One DAC, read by keyset (incremental on LastModifiedDateTime where it has it)."""

    filter_dialect = "odata4"

    def __init__(
        self,
        tap: TapAcumatica,
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
            tap, name, schema, replication_key=replication_key, primary_keys=primary_keys
        )
        self.service = service
        self.entity_set = entity_set
        self.keys = list(keys)
        self._transform_fn: t.Callable[[dict[str, t.Any]], Record] | None = None
        props = schema.get("properties", {})
        self.detect_deletes = self.settings.detect_deletes
        self.soft_deletes = SOFT_DELETE_FLAG in props

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
        params.update(self.paging_params(filter_expr, top, skip))
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
        from tap_acumatica.filters import window_filter

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

    # Deletes ----------------------------------------------------------------------------------

    def _read_deletes(self, context: Context | None) -> t.Iterator[Record]:
        state = self.get_context_state(context)
        end: dt.datetime | None = getattr(self, "_deletes_end", None)
        if end is None:
            return
        since_text = state.get(DELETES_BOOKMARK)
        if not since_text:
            # First run: every row that exists was just read; deletes from now on count.
            self._set_deletes_bookmark(context, self._settled(end, BEFORE_ANY_STAMP))
            return
        since = parse_datetime(str(since_text))
        server_now = self._server_date or end
        if server_now - since > dt.timedelta(days=DELETE_RETENTION_DAYS):
            self.logger.warning(
                "%s: the last delete check was %s, more than the %d days Acumatica keeps "
                "deleted records by default (SM207010 'Days to Keep Records'): deletes "
                "before that may have been missed; a full-table reload finds them.",
                self.describe(),
                since.isoformat(),
                DELETE_RETENTION_DAYS,
            )
        if end <= since:
            return
        from tap_acumatica.filters import window_filter

        flt = window_filter("DeleteDate", since, end, "odata4")
        url = self.path + "/px.GetDeletedRecords()"
        page, skip, found = self.page_size, 0, 0
        while True:
            # The range is closed (DeleteDate <= end, fixed): new deletes land after it,
            # so $skip paging over it is stable.
            params = {"$filter": flt, "$orderby": "DeleteDate", "$top": page}
            if skip:
                params["$skip"] = skip
            what = f"{self.describe()} deleted records ({flt})"
            response = self.client.request("GET", url, params=params, what=what)
            if response.status_code in (400, 404, 501):
                self.logger.warning(
                    "%s: no deleted-records feed (%s), so deletes are not detected. Add the "
                    "DAC on the Deleted Records Tracking form (SM207010) to track them.",
                    self.describe(),
                    body_detail(response),
                )
                return
            raise_unless_ok(response, what, self._explain_status)
            rows = self._rows(response, what)
            for row in rows:
                note = row.get("NoteID") or row.get("RefNoteID")
                when = row.get("DeleteDate")
                if not note or not isinstance(when, str):
                    continue
                found += 1
                self._emitted += 1
                record: Record = dict.fromkeys(self.keys)
                record["NoteID"] = note
                record[DELETED_AT] = format_utc(parse_datetime(when))
                yield record
            if len(rows) < page:
                break
            skip += page
        self.logger.info("%s: %d deleted records since %s.", self.describe(), found, since_text)
        self._set_deletes_bookmark(context, self._settled(end, since))

    def _settled(self, end: dt.datetime, since: dt.datetime) -> dt.datetime:
        """The delete bookmark, held back by ``settle_seconds`` like the record bookmark:
        a delete committed late (or in the second of the ``Date`` header) is read next run."""
        if self._server_date is None:
            return since
        return safe_bookmark(end, self._server_date, self.settings.settle_seconds, since)

    def _set_deletes_bookmark(self, context: Context | None, value: dt.datetime) -> None:
        state = self.get_context_state(context)
        state[DELETES_BOOKMARK] = format_utc(value)
        self.state_manager.is_flushed = False
        self._write_state_message()
