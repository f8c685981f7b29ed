"""Archived records (Acumatica 2023 R2 and later), for the REST entities and the DACs.

An instance with data archiving enabled moves old closed documents out of the working
tables into the archive; the UI and the APIs hide them unless asked: the contract-based
API and DAC-based OData return them only for a request with header ``PX-ApiArchive: SHOW``
(Integration Development Guide, "Operate with Archived Records";
ACUMATICA_DAC_ODATA.md section 5). Archived documents are read-only.

Modelled: option ``archive`` ``{"fraction": f, "before": "<ISO date-time>"}`` (default
``{}``: nothing archived, as on an instance where no retention policy was set up): among
the documents of :data:`DOCUMENTS` last modified before ``before`` (default: 180 days
before the server's clock when the data is built, a retention period), the fraction ``f``
chosen by a hash of the row (deterministic for a seed) is archived.
Archived rows leave every list, filter, lookup by id or key and ``truth`` (unless asked
with ``archived=1``) for requests without the header, and no mutation or deletion picks
them. Not modelled: which documents qualify (Acumatica archives closed documents past a
retention period; here the status is not looked at), the archiving process itself
(rows are archived from the start), restoring, and any cost difference of reading the
archive tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .values import datetime_to_ms, stable_hash

HEADER = "px-apiarchive"
RETENTION_MS = 180 * 86_400_000
#: Documents that can be archived: REST entities and the simulator's DACs of the same tables.
DOCUMENTS = frozenset(
    {"SalesOrder", "SalesInvoice", "JournalTransaction", "SOOrder", "SOLine", "ARInvoice"}
)


def shows_archived(headers: Mapping[str, str]) -> bool:
    """Whether a request asks for archived records (``PX-ApiArchive: SHOW``)."""
    return headers.get(HEADER, "").strip().upper() == "SHOW"


class Policy:
    """Which rows of a table are archived, from the ``archive`` option."""

    def __init__(self, options: Mapping[str, Any] | None, seed: int, now_ms: int = 0) -> None:
        options = dict(options or {})
        unknown = set(options) - {"fraction", "before"}
        if unknown:
            raise ValueError(f"unknown archive options: {sorted(unknown)}")
        self.fraction = float(options.get("fraction", 0) or 0)
        before = options.get("before")
        self.before_ms = (
            datetime_to_ms(datetime.fromisoformat(str(before))) if before else now_ms - RETENTION_MS
        )
        self.seed = seed

    def applies(self, table: str) -> bool:
        return self.fraction > 0 and table in DOCUMENTS

    def archived(self, table: str, key: object, stamp_ms: int) -> bool:
        """Whether the row of ``table`` known by ``key`` (stable), last modified at
        ``stamp_ms``, is in the archive."""
        if not self.applies(table) or stamp_ms >= self.before_ms:
            return False
        return stable_hash("archive", self.seed, table, key) % 10_000 < self.fraction * 10_000

    def rows(self, table: str, stamps: Any) -> set[int]:
        """The archived rows of a REST entity's store (rows numbered from 0)."""
        if not self.applies(table):
            return set()
        return {row for row, stamp in enumerate(stamps) if self.archived(table, row, stamp)}
