"""The deleted-records feed of a DAC: removed rows as records with ``_sdc_deleted_at``.

``<set>/px.GetDeletedRecords()`` lists removed records (NoteID, DeleteDate) of DACs with
deletion tracking (Deleted Records Tracking, SM207010), kept 10 days by default. With
``detect_deletes``, each incremental run reads it in ``(deletes_since, upper bound]``
after the DAC's rows and emits one record per removed row with ``NoteID`` and
``_sdc_deleted_at``. ``deletes_since`` lives in the stream's state next to the bookmark,
held back by ``settle_seconds`` like it; the first run only sets it (every row that
exists was just read).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_acumatica.dac.metadata import DELETED_AT
from tap_acumatica.datetimes import BEFORE_ANY_STAMP, format_utc, parse_datetime
from tap_acumatica.errors import body_detail, raise_unless_ok
from tap_acumatica.query import window_filter
from tap_acumatica.sync.bookmarks import safe_bookmark
from tap_acumatica.sync.stream import AcumaticaStream, Record

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: Days Acumatica keeps deleted-record entries by default (SM207010 "Days to Keep Records").
DELETE_RETENTION_DAYS = 10
#: The state key of the delete bookmark.
DELETES_BOOKMARK = "deletes_since"


class DeletedRecords(AcumaticaStream):
    """The deleted-records feed, mixed into :class:`~tap_acumatica.dac.stream.DacStream`
    (which gives the DAC's keys, path, rows and the upper bound of its record read)."""

    keys: list[str]
    #: The upper bound of this run's record read (None until an incremental read fixed it).
    _deletes_end: dt.datetime | None = None

    def _rows(self, response: t.Any, what: str) -> list[dict[str, t.Any]]:
        raise NotImplementedError

    def _explain_status(self, response: t.Any, detail: str) -> str | None:
        raise NotImplementedError

    def _read_deletes(self, context: Context | None) -> t.Iterator[Record]:
        state = self.get_context_state(context)
        end = self._deletes_end
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
