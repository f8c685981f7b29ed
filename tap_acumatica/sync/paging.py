"""How a stream pages: rows per request, and ``$skip`` pages that notice rows moving.

* **Rows per request** (:class:`PageSizing`): ``page_size``, fewer when rows are big, so a
  page body stays under :data:`PAGE_BYTES`; census requests (stamps only) take
  :data:`CENSUS_ROWS`.
* **Overlapping pages** (:func:`read_with_anchor`): Acumatica's lists have no ``$orderby``
  and the ERP changes while we page, so a ``$skip`` page may silently shift. Pages overlap
  by one row; when the anchor row does not come back, rows moved and the read starts over,
  skipping rows already emitted.
"""

from __future__ import annotations

import typing as t

from tap_acumatica.errors import AcumaticaAPIError
from tap_acumatica.sync.executor import overlapping_pages

if t.TYPE_CHECKING:
    import logging

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

    Mixed into :class:`~tap_acumatica.sync.stream.AcumaticaStream`, which gives ``page_size``
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
