"""A bookmark written under the entity's other stamp name (an endpoint upgrade).

Acumatica renamed the save-time stamp of some entities between endpoint versions:
SalesOrder has only ``LastModified`` up to 25.200.001 and only ``LastModifiedDateTime``
from 26.200.001; StockItem drops ``LastModified`` in 26.200.001 (ACUMATICA_CONTRACT_V5.md
section 4). A connection moved to a newer ``endpoint_version`` (and rediscovered) therefore
replicates by another key than its state was written under.

The Singer SDK (0.54) then ignores the bookmark: ``write_starting_replication_value`` uses a
state's ``replication_key_value`` only when the state's ``replication_key`` equals the
stream's, so it logs "bookmark value: None" (or ``start_date``) and would re-read the whole
table; it does not reset the state or its progress markers. Both names are the same column
of the ERP (the record's last save time, which the tap writes in UTC), so the tap resumes
from the bookmark as it is, and says so once. A bookmark under a key that is not one of
these stamps (a generic inquiry's column changed in ``inquiry_replication_keys``, say) says
nothing about the new key: the run stops with one clear message instead of guessing.
"""

from __future__ import annotations

import logging
import typing as t

from tap_acumatica.errors import ConfigError

#: The names one entity's save-time stamp has had across endpoint versions.
STAMP_NAMES = frozenset({"LastModified", "LastModifiedDateTime"})


def carry_bookmark(
    state: dict[str, t.Any], replication_key: str, stream: str, logger: logging.Logger
) -> None:
    """Move a stream state's bookmark to ``replication_key`` when it was written under the
    entity's other stamp name; raise ConfigError when it was written under another column."""
    old = state.get("replication_key")
    value = state.get("replication_key_value")
    if not old or old == replication_key or value in (None, ""):
        return
    if old in STAMP_NAMES and replication_key in STAMP_NAMES:
        state["replication_key"] = replication_key
        logger.info(
            "%s: the state's bookmark %s was written under replication key %s; it is resumed "
            "as %s, the same save time under its name in this endpoint version (no re-sync).",
            stream,
            value,
            old,
            replication_key,
        )
        return
    raise ConfigError(
        f"{stream}: the state's bookmark ({value}) was written under replication key "
        f"{old!r}, but the stream now replicates by {replication_key!r}; a bookmark of one "
        f"column says nothing about another. Choose {old!r} again as the replication key, "
        f"or remove the {stream!r} entry from the state to read the stream again from "
        "start_date."
    )
