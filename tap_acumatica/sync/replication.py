"""How a stream is replicated: the catalog decides (Singer and Meltano conventions).

The Singer spec lets the *user* choose, in a stream's root metadata, ``replication-method``
(``FULL_TABLE`` or ``INCREMENTAL``) and ``replication-key`` (one of the tap's
``valid-replication-keys``); the tap writes ``forced-replication-method`` when only one
method is possible. Meltano's ``metadata:`` extra writes what the user names into that
metadata and also as the legacy ``replication_method``/``replication_key`` of the entry.

The SDK (0.54) reads the entry's ``replication_method`` and the metadata's
``forced-replication-method``, but drops ``replication-method`` from the metadata (its
``StreamMetadata`` has no such field): :func:`requested_methods` reads it from the raw
catalog. :func:`choose` is the one place that turns all of it, plus the
``inquiry_replication_keys`` shortcut, into the method and key a stream reads by, or one
clear error; :class:`CatalogReplication` applies it to a stream (and shapes what
discovery writes), mixed into the tap's stream base.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from singer_sdk import singerlib as singer
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL
from singer_sdk.streams import Stream

from tap_acumatica.errors import ConfigError

if t.TYPE_CHECKING:
    from tap_acumatica.run import RunContext

METHODS = (REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL)


def requested_methods(catalog: t.Any) -> dict[str, str]:
    """``replication-method`` from each stream's root metadata in a raw catalog.

    ``catalog`` is what the tap was given: a dict, a path, or anything else (then nothing
    is found: a parsed SDK Catalog has already lost the key).
    """
    if isinstance(catalog, str | Path):
        try:
            catalog = json.loads(Path(catalog).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            return {}  # the CLI has already checked the file; the SDK reports the rest
    if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
        return {}
    found: dict[str, str] = {}
    for entry in catalog["streams"]:
        if not isinstance(entry, dict):
            continue
        for md in entry.get("metadata") or ():
            if isinstance(md, dict) and md.get("breadcrumb") == []:
                method = (md.get("metadata") or {}).get("replication-method")
                if method:
                    found[str(entry.get("tap_stream_id"))] = str(method)
    return found


def choose(
    stream: str,
    *,
    method: str | None,
    catalog_key: str | None,
    setting_key: str | None = None,
    valid_keys: t.Sequence[str] = (),
    default_key: str | None = None,
    what: str = "stream",
) -> tuple[str, str | None]:
    """The (method, replication key) ``stream`` is read by; ConfigError when impossible.

    ``method``: the user's (catalog) choice, if any. ``catalog_key``: the key the catalog
    names. ``setting_key``: the key a setting names (``inquiry_replication_keys``).
    ``valid_keys``: the keys the tap can read incrementally by. ``default_key``: the key
    used when neither names one (an entity's stamp; none for inquiries).
    """
    chosen = str(method).upper() if method else None
    if chosen is not None and chosen not in METHODS:
        raise ConfigError(
            f"The catalog asks {what} {stream!r} for replication method {method!r}; "
            f"tap-acumatica reads {REPLICATION_FULL_TABLE} or {REPLICATION_INCREMENTAL}."
        )
    if setting_key and catalog_key and setting_key != catalog_key:
        raise ConfigError(
            f"{what.capitalize()} {stream!r}: 'inquiry_replication_keys' names {setting_key!r} "
            f"but the catalog's replication-key is {catalog_key!r}; remove one of them or "
            "make them agree."
        )
    key = setting_key or catalog_key or default_key
    if key is not None and key not in valid_keys:
        if what == "entity":
            allowed = (
                f"only by its modification stamp {', '.join(map(repr, valid_keys))}"
                if valid_keys
                else "by nothing: it has no modification stamp and is read as a full table"
            )
            raise ConfigError(
                f"The catalog asks {what} {stream!r} to replicate by {key!r}; it can be read "
                f"incrementally {allowed}. Remove that replication-key from the catalog "
                "(Meltano: the `metadata:` extra)."
            )
        raise ConfigError(
            f"{what.capitalize()} {stream!r} cannot be replicated by {key!r}: "
            + (
                "choose one of its date-time columns: " + ", ".join(map(repr, valid_keys))
                if valid_keys
                else "it has no date-time column, so it is read as a full table"
            )
            + "."
        )
    if chosen == REPLICATION_FULL_TABLE:
        return REPLICATION_FULL_TABLE, None
    if chosen == REPLICATION_INCREMENTAL and key is None:
        raise ConfigError(
            f"The catalog asks {what} {stream!r} for INCREMENTAL replication but names no "
            "replication-key"
            + (
                "; choose one of: " + ", ".join(map(repr, valid_keys))
                if valid_keys
                else ": it has no column to read changes by, so only FULL_TABLE is possible"
            )
            + "."
        )
    return (REPLICATION_INCREMENTAL if key else REPLICATION_FULL_TABLE), key


class CatalogReplication(Stream):
    """Stream side: discovery lists the keys; the catalog's choice is applied with it.

    Mixed into the tap's stream base; the stream sets ``valid_replication_keys``,
    ``default_replication_key`` and ``setting_replication_key`` when it is built, and
    ``_run`` (the run's context, which holds the catalog's ``replication-method``s).
    """

    #: What the stream is, in error messages about its replication ("entity", "inquiry").
    kind = "stream"
    _run: RunContext
    valid_replication_keys: list[str]
    default_replication_key: str | None
    setting_replication_key: str | None

    def apply_catalog(self, catalog: singer.Catalog) -> None:
        """Method and key from the catalog (see :func:`choose`).

        The SDK takes the entry's ``replication_method`` or the metadata's
        ``forced-replication-method``; the ``replication-method`` the user writes in the
        metadata (Singer spec; Meltano's ``metadata:`` extra) is read from the raw catalog
        and comes first. A stream read as a full table has no replication key, so nothing
        is bookmarked.
        """
        super().apply_catalog(catalog)
        entry = catalog.get_stream(self.tap_stream_id)
        if entry is None:
            return
        # The user's metadata first, then the forced method, then the entry's legacy field
        # (the SDK takes the entry's first, so a `forced-replication-method: FULL_TABLE`
        # added to a discovered catalog would lose to the INCREMENTAL discovery wrote).
        root = entry.metadata.get(())
        method = (
            self._run.requested_replication_methods.get(self.tap_stream_id)
            or getattr(root, "forced_replication_method", None)
            or entry.replication_method
        )
        method, key = choose(
            self.name,
            method=method,
            catalog_key=self.replication_key,
            setting_key=self.setting_replication_key,
            valid_keys=self.valid_replication_keys,
            default_key=self.default_replication_key,
            what=self.kind,
        )
        self.replication_key = key
        self.forced_replication_method = method

    @property
    def metadata(self) -> singer.MetadataMapping:
        """Discovery lists every key the stream can be read by in ``valid-replication-keys``
        and names the chosen one (if any) in ``replication-key``; the SDK would list only
        the chosen key, and name a key whenever there is exactly one valid key."""
        if self._metadata is None and self._tap_input_catalog is None:
            md = super().metadata
            md.root.valid_replication_keys = list(self.valid_replication_keys) or None
            md.root.replication_key = self.replication_key
            return md
        return super().metadata

    @property
    def _singer_catalog_entry(self) -> singer.CatalogEntry:
        """A discovered entry says FULL_TABLE only when the tap forces it. The SDK writes
        the method it derives (FULL_TABLE for an inquiry without a key), and a catalog
        holding that could not tell it from the user's choice: a ``replication-key``
        chosen later (Meltano's ``metadata:``) would stay a full table."""
        entry = super()._singer_catalog_entry
        if not self.forced_replication_method and not self.replication_key:
            entry.replication_method = None
        return entry

    @property
    def incremental(self) -> bool:
        """Whether this run reads changes by the replication key (else: the full table)."""
        return self.replication_method == REPLICATION_INCREMENTAL and bool(self.replication_key)
