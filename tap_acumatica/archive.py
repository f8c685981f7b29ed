"""Archived records: the header that asks Acumatica for them (REST and DAC reads).

Acumatica 2023 R2 and later can move old closed documents into an archive (data
archiving, with a retention policy per document type); archived records are hidden from
the UI and from the contract-based and DAC-based OData APIs unless a request carries
``PX-ApiArchive: SHOW`` (Integration Development Guide, "Operate with Archived Records").
A tap that never sends it leaves them out of a first load without any sign. So every REST
and DAC data request sends it while ``include_archived`` is on (the default); metadata,
sign-in and generic-inquiry requests do not (a generic inquiry has no archive option).
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from tap_acumatica.settings import Settings

ARCHIVE_HEADER = "PX-ApiArchive"


def archive_headers(settings: Settings) -> dict[str, str]:
    """The headers of a data request: ``PX-ApiArchive: SHOW`` unless ``include_archived``
    is off (then Acumatica's default applies: archived records are left out)."""
    return {ARCHIVE_HEADER: "SHOW"} if settings.include_archived else {}
