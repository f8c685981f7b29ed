"""OData generic inquiries as Singer streams.

Acumatica exposes a generic inquiry (GI) over OData when "Expose via OData" is ticked on
the Generic Inquiry screen (SM208000).

Reading: ``$top/$skip`` with a stable ``$orderby`` (the keys, or every column when there
are none; a column the server refuses to sort is dropped from the ordering) through the
shared :class:`~tap_acumatica.sync.windowed.WindowedStream` machinery (overlapping pages with an
anchor check; windowed incremental reads when ``inquiry_replication_keys`` names a
date-time column). Values are converted by :mod:`tap_acumatica.odata`.
"""

from __future__ import annotations

import threading
import typing as t
from urllib.parse import quote

from tap_acumatica.errors import (
    AcumaticaResponseError,
    body_detail,
    raise_unless_ok,
)
from tap_acumatica.inquiries.metadata import datetime_columns, type_name_of
from tap_acumatica.odata import compile_record, rows_of
from tap_acumatica.query import odata_literal, paging_params
from tap_acumatica.sync.stream import Record
from tap_acumatica.sync.windowed import WindowedStream

if t.TYPE_CHECKING:
    import requests
    from singer_sdk import Tap

    from tap_acumatica.inquiries.service import InquiryService
    from tap_acumatica.run import RunContext

MAX_NEXT_LINKS = 100


class InquiryStream(WindowedStream):
    """One generic inquiry (entity set) of the OData GI service.

    Read in full unless a date-time column is chosen as its replication key, in the
    catalog (``replication-key``; Meltano's ``metadata:``) or by the
    ``inquiry_replication_keys`` shortcut."""

    kind = "inquiry"

    def __init__(
        self,
        tap: Tap,
        run: RunContext,
        service: InquiryService,
        name: str,
        schema: dict[str, t.Any],
        *,
        keys: list[str],
        replication_key: str | None = None,
        parameters: t.Mapping[str, t.Any] | None = None,
        function_import: str | None = None,
    ) -> None:
        super().__init__(
            tap,
            run,
            name,
            schema,
            replication_key=replication_key,
            primary_keys=list(keys),
            valid_replication_keys=datetime_columns(schema),
            setting_replication_key=replication_key,
        )
        self.service = service
        self.keys = list(keys)
        self.parameters = dict(parameters) if parameters is not None else None
        self.function_import = function_import or f"{type_name_of(name)}_WithParameters"
        self._transform = compile_record(schema)
        self._order_lock = threading.Lock()
        columns = list(schema.get("properties", {}))
        self._order: list[str] = list(keys) if keys else columns

    # URL family ------------------------------------------------------------------------------

    @property
    def family(self) -> str:
        return self.service.family

    @property
    def filter_dialect(self) -> str:  # type: ignore[override]
        return "odata4" if self.family == "v4" else "odata3"

    @property
    def path(self) -> str:  # type: ignore[override]
        return self.service.root(self.family) + self._resource()

    def _resource(self) -> str:
        """The entity set, or ``<Type>_WithParameters(...)`` with the configured values."""
        if self.parameters is None:
            return self.client.quote_segment(self.name)
        fname = self.client.quote_segment(self.function_import)
        if self.family == "legacy":  # v3 service operation: parameters in the query string
            return fname
        args = ",".join(
            f"{quote(str(k), safe='')}={quote(odata_literal(v), safe=chr(39))}"
            for k, v in self.parameters.items()
        )
        return f"{fname}({args})"

    def describe(self) -> str:
        return f"inquiry {self.name!r}"

    def read_server_clock(self) -> None:
        """GET the service document: one row of the inquiry would cost a server-side sort.
        Only its ``Date`` header is used; a refusal shows up, explained, on the next read."""
        self.client.request(
            "GET",
            self.service.root(self.family),
            params=self.service.document_params(self.family),
            what="OData service document",
        )

    # Query options ------------------------------------------------------------------------------

    def _selected_columns(self) -> list[str] | None:
        """Selected columns, or None when every column is selected."""
        props = list(self.schema.get("properties", {}))
        chosen = [
            n
            for n in props
            if self.mask.get(("properties", n), True) or n == self.replication_key or n in self.keys
        ]
        return None if len(chosen) == len(props) else chosen

    def _params(
        self, *, filter_expr: str | None, top: int | None, skip: int, census: bool, order: list[str]
    ) -> dict[str, t.Any]:
        params: dict[str, t.Any] = dict(self.service.document_params(self.family))
        if self.parameters is not None and self.family == "legacy":
            for k, v in self.parameters.items():
                params[str(k)] = odata_literal(v)
        if census:
            params["$select"] = str(self.replication_key)
        else:
            chosen = self._selected_columns()
            if chosen:
                params["$select"] = ",".join(chosen)
        if order:
            params["$orderby"] = ",".join(order)
        params.update(paging_params(filter_expr, top, skip))
        return params

    # Requests -------------------------------------------------------------------------------------

    def fetch(
        self, *, filter_expr: str | None, top: int | None, skip: int, census: bool = False
    ) -> list[Record]:
        what = (
            f"{self.describe()}"
            + (f" ({filter_expr})" if filter_expr else "")
            + (f" $skip={skip}" if skip else "")
        )
        url = self.path
        while True:
            with self._order_lock:
                order = list(self._order)
            params = self._params(
                filter_expr=filter_expr, top=top, skip=skip, census=census, order=order
            )
            response = self.client.request("GET", url, params=params, what=what)
            if response.status_code == 400 and self._drop_unsortable(response, order):
                continue
            break
        rows = self._rows(response, what, top)
        if census:
            key = str(self.replication_key)
            return [{key: r.get(key)} for r in rows]
        self.note_response(len(response.content), len(rows))
        transform = self._transform
        return [transform(r) for r in rows]

    def _rows(
        self, response: requests.Response, what: str, top: int | None
    ) -> list[dict[str, t.Any]]:
        raise_unless_ok(response, what, self._explain_status)
        rows, link = self._parse(response, what)
        # Server-driven paging: a page cut short by the server must not look like the end.
        follows = 0
        while link and (top is None or len(rows) < top) and follows < MAX_NEXT_LINKS:
            follows += 1
            response = self.client.request("GET", link, what=f"{what} (next link)")
            raise_unless_ok(response, what, self._explain_status)
            more, link = self._parse(response, what)
            rows.extend(more)
        return rows if top is None else rows[:top]

    def _parse(
        self, response: requests.Response, what: str
    ) -> tuple[list[dict[str, t.Any]], str | None]:
        body = self.client.parse_json(response, what)
        try:
            return rows_of(body)
        except AcumaticaResponseError as exc:
            raise AcumaticaResponseError(f"{what}: {exc}") from None

    def _explain_status(self, response: requests.Response, detail: str) -> str | None:
        if response.status_code == 403:
            return (
                f"Generic inquiry {self.name!r}: Acumatica answered 403 Forbidden ({detail}). "
                "Open the inquiry on the Generic Inquiry screen (SM208000) and tick "
                "'Expose via OData', and check that user "
                f"{self.settings.username or '(token user)'!r} has access rights to "
                "the inquiry."
            )
        if response.status_code == 404:
            return (
                f"Generic inquiry {self.name!r} was not found at {response.url} (HTTP 404: "
                f"{detail}). It may have been renamed or is no longer exposed via OData; run "
                "discovery again."
            )
        return None

    def _drop_unsortable(self, response: requests.Response, order: list[str]) -> bool:
        """A 400 naming an ordering column (e.g. a calculated one): order without it."""
        detail = body_detail(response)
        lowered = detail.lower()
        if "sort" not in lowered and "order" not in lowered:
            return False
        named = [c for c in order if f"'{c}'" in detail or f'"{c}"' in detail]
        if not named or any(c in self.keys for c in named):
            return False
        with self._order_lock:
            for column in named:
                if column in self._order:
                    self._order.remove(column)
        self.logger.warning(
            "%s: the server cannot sort by %s (%s); ordering by the other columns.",
            self.describe(),
            ", ".join(named),
            detail,
        )
        return bool(self._order)

    def record_identity(self, record: Record) -> t.Any:
        if self.keys:
            return tuple(record.get(k) for k in self.keys)
        return tuple(sorted((k, str(v)) for k, v in record.items()))
