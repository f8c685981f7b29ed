"""Contract-based REST entities as Singer streams.

The catalog drives the request: only selected fields go into ``$select`` (a rate-limited
ERP should not send what nobody loads), selected detail collections or linked entities
go into ``$expand`` (Acumatica returns them only when asked), and selected custom fields
go into ``$custom``; a drop-down's two columns (``X``, ``X__id``) are one field ``X`` there.
When the server cannot list some fields ("Optimization cannot be performed") they are read
record by record instead of being dropped. Data requests carry ``PX-ApiArchive: SHOW``
unless ``include_archived`` is off (:mod:`tap_acumatica.archive`).
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

from tap_acumatica.archive import archive_headers
from tap_acumatica.errors import (
    AcumaticaAPIError,
    AcumaticaResponseError,
    OptimizationError,
)
from tap_acumatica.query import paging_params
from tap_acumatica.rest import selects
from tap_acumatica.rest.metadata import SYSTEM_PROPERTIES, custom_source
from tap_acumatica.rest.records import ListDecoder, selected_schema
from tap_acumatica.schemas import has_type
from tap_acumatica.sync.stream import MAX_QUERY_LENGTH, Record
from tap_acumatica.sync.windowed import WindowedStream

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk import singerlib as singer

    from tap_acumatica.rest.service import RestService
    from tap_acumatica.run import RunContext

Options = dict[str, str]


def _nested(prop: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any] | None:
    """The object schema of a detail collection or linked entity, else None."""
    if has_type(prop, "array"):
        items = prop.get("items", {})
        return items if "properties" in items else None
    if has_type(prop, "object") and "properties" in prop:
        return prop
    return None


def _split_list(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def _field_of(prop: str) -> str:
    """The entity field a property comes from: ``X`` for a drop-down's ``X__id``."""
    return selects.label_of_id(prop) or prop


class EntityStream(WindowedStream):
    """One top-level entity of the endpoint (``Customer``, ``SalesOrder``, …)."""

    kind = "entity"

    def __init__(
        self,
        tap: Tap,
        run: RunContext,
        service: RestService,
        name: str,
        schema: dict[str, t.Any],
        *,
        replication_key: str | None,
        deselected_by_default: t.Collection[str] = (),
    ) -> None:
        # Only the stamp can be a replication key: Acumatica has no $orderby, and windows
        # over any other field would not hold every row changed since the bookmark.
        super().__init__(
            tap,
            run,
            name,
            schema,
            replication_key=replication_key,
            primary_keys=["id"],
            default_replication_key=replication_key,
        )
        self.service = service
        self._record_decoder: ListDecoder | None = None
        self._census_decoder: ListDecoder | None = None
        self._query_cache: dict[bool, Options] = {}
        self._off_by_default = set(deselected_by_default)
        #: Top-level fields the server refused to list; read per record from then on.
        self._per_record: set[str] = set()

    @property
    def _decoder(self) -> ListDecoder:
        """Records of the *selected* properties only, compiled on first use (the catalog is
        applied after the stream is built): records leave ``fetch`` without deselected
        fields, so the SDK's per-record pruning is not needed."""
        if self._record_decoder is None:
            self._record_decoder = ListDecoder(selected_schema(self.schema, self.mask.__getitem__))
            self.records_pruned = True
        return self._record_decoder

    @property
    def _transform(self) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
        """The generic transform of one raw record (per-record reads, wide $custom)."""
        return self._decoder.transform

    def estimated_row_bytes(self) -> int:
        """About 30 bytes on the wire per selected field (``"Name":{"value":"…"},``), a
        detail collection counted as a few lines: only sizes the first page, until a
        response gives the real figure."""
        return 30 * _leaves(selected_schema(self.schema, self.mask.__getitem__))

    @property
    def _census_rows(self) -> ListDecoder:
        """Census rows: the stamp alone, as sent (the census parses it itself)."""
        if self._census_decoder is None:
            stamp = {"type": ["string", "null"]}
            self._census_decoder = ListDecoder({"properties": {str(self.replication_key): stamp}})
        return self._census_decoder

    def apply_catalog(self, catalog: singer.Catalog) -> None:
        super().apply_catalog(catalog)
        self._record_decoder = None  # the selection may have changed: compile again
        self.records_pruned = False
        self._query_cache.clear()

    @property
    def path(self) -> str:  # type: ignore[override]
        return self.service.entity_path(self.name)

    @property
    def data_headers(self) -> dict[str, str]:
        """Headers of every data request of this stream (``PX-ApiArchive``)."""
        return archive_headers(self.settings)

    # Selection -> $select / $expand / $custom -------------------------------------------

    @property
    def metadata(self) -> singer.MetadataMapping:
        """Detail collections, linked entities and discovered custom fields are available
        but not selected by default: a plain sync stays light; users opt in."""
        if self._metadata is None:
            md = super().metadata
            for name, prop in self.schema.get("properties", {}).items():
                nested = name not in SYSTEM_PROPERTIES and _nested(prop) is not None
                if nested or name in self._off_by_default:
                    md[("properties", name)].selected_by_default = False
            return md
        return self._metadata

    def _selected(self, breadcrumb: tuple[str, ...]) -> bool:
        return bool(self.mask.get(breadcrumb, True))

    def _expand_paths(
        self, schema: t.Mapping[str, t.Any], breadcrumb: tuple[str, ...], prefix: str
    ) -> list[str]:
        paths: list[str] = []
        for name, prop in schema.get("properties", {}).items():
            inner = None if name in SYSTEM_PROPERTIES else _nested(prop)
            crumb = (*breadcrumb, "properties", name)
            # Nested collections (Details/Allocations) have no metadata entry unless the
            # user adds one: they are expanded only when explicitly selected.
            entry = self.metadata.get(crumb) if breadcrumb else None
            selected = (
                self._selected(crumb)
                if not breadcrumb
                else bool(entry is not None and getattr(entry, "selected", False))
            )
            if inner is None or not selected:
                continue
            path = f"{prefix}{name}"
            paths.append(path)
            child_crumb = (*crumb, "items") if "items" in prop else crumb
            paths.extend(self._expand_paths(inner, child_crumb, f"{path}/"))
        return paths

    def query_options(self, census: bool = False) -> Options:
        """``$select``/``$expand``/``$custom`` from the catalog selection (cached per run)."""
        if census in self._query_cache:
            return self._query_cache[census]
        options: Options = {}
        if census:
            assert self.replication_key
            options["$select"] = self.replication_key
        else:
            props = self.schema.get("properties", {})
            scalar = [
                n
                for n, p in props.items()
                if n not in SYSTEM_PROPERTIES and _nested(p) is None and custom_source(n) is None
            ]
            fields = list(dict.fromkeys(_field_of(n) for n in scalar))
            chosen = list(
                dict.fromkeys(
                    _field_of(n)
                    for n in scalar
                    if self._selected(("properties", n)) or n == self.replication_key
                )
            )
            expand = self._expand_paths(self.schema, (), "")
            if len(chosen) < len(fields) or expand:
                options["$select"] = ",".join(chosen + [p for p in expand if "/" not in p])
            if expand:
                options["$expand"] = ",".join(expand)
            customs = list(
                dict.fromkeys(
                    f"{src[0]}.{_field_of(src[1])}"
                    for n in props
                    if (src := custom_source(n)) and self._selected(("properties", n))
                )
            )
            if customs:
                options["$custom"] = ",".join(customs)
            if len(urlencode(options)) > MAX_QUERY_LENGTH and "$select" in options:
                # IIS caps query strings (2048 bytes by default): ask for every field and
                # let the SDK drop the unselected ones rather than fail.
                self.logger.info(
                    "%s: $select too long for the server; requesting all fields.", self.name
                )
                del options["$select"]
        self._query_cache[census] = options
        return options

    # Requests -------------------------------------------------------------------------------

    def fetch(
        self, *, filter_expr: str | None, top: int | None, skip: int, census: bool = False
    ) -> list[Record]:
        base = paging_params(filter_expr, top, skip)
        what = (
            f"{self.name} list"
            + (f" ({filter_expr})" if filter_expr else "")
            + (f" $skip={skip}" if skip else "")
        )
        if census:
            return self._get_list(
                {**base, **self.query_options(census=True)}, what, decode=self._census_rows.decode
            )
        options = self._without(self.query_options(), self._per_record)
        while True:
            try:
                records = self._get_records(base, options, what)
                break
            except OptimizationError as exc:
                blamed = {f.split(".")[0].split("/")[0] for f in exc.fields}
                if not blamed or blamed.isdisjoint(self._listed_fields(options)):
                    raise AcumaticaAPIError(
                        f"{exc} (the tap could not tell which fields to read separately)"
                    ) from None
                # Windows are read concurrently: another request may have been refused for
                # the same fields and moved them to per-record reads already; then only retry.
                new = blamed - self._per_record
                if new:
                    self.logger.warning(
                        '%s: the server cannot list %s ("Optimization cannot be performed"); '
                        "reading %s record by record.",
                        self.name,
                        ", ".join(sorted(new)),
                        "them" if len(new) > 1 else "it",
                    )
                    self._per_record |= new
                options = self._without(self.query_options(), self._per_record)
        if self._per_record:
            self._complete_per_record(records)
        return records

    def _get_records(self, base: dict[str, t.Any], options: Options, what: str) -> list[Record]:
        if len(_split_list(options.get("$custom", ""))) < 2:
            return self._get_list(
                {**base, **options}, what, decode=self.measured(self._decoder.decode)
            )
        # A wide $custom may have to be split and merged on the raw rows: the generic way.
        return [self._transform(r) for r in self._get_wide(base, options, what)]

    def _get_list(
        self,
        params: t.Mapping[str, t.Any],
        what: str,
        decode: t.Callable[[bytes], t.Any] | None = None,
    ) -> list[t.Any]:
        data = self.client.get_json(
            self.client.url(self.path),
            params=params,
            what=what,
            decode=decode,
            headers=self.data_headers,
        )
        if not isinstance(data, list):
            raise AcumaticaResponseError(
                f"{what}: expected a JSON array of records, got {type(data).__name__}."
            )
        return data

    def _get_wide(self, base: dict[str, t.Any], options: Options, what: str) -> list[t.Any]:
        """One list request; a ``$custom`` too wide for the server is split and merged on id."""
        customs = _split_list(options.get("$custom", ""))
        params = {**base, **options}
        if len(customs) < 2 or len(urlencode(params)) <= MAX_QUERY_LENGTH:
            try:
                return self._get_list(params, what)
            except (AcumaticaAPIError, AcumaticaResponseError):
                if len(customs) < 2:
                    raise
                self.logger.info(
                    "%s: the server refused %d custom fields in one request; splitting them.",
                    self.name,
                    len(customs),
                )
        half = len(customs) // 2
        first = self._get_wide(base, {**options, "$custom": ",".join(customs[:half])}, what)
        minimal = {
            "$select": self.replication_key or next(iter(self._listed_fields(options)), "id")
        }
        rest = self._get_wide(base, {**minimal, "$custom": ",".join(customs[half:])}, what)
        extra = {r.get("id"): r.get("custom") or {} for r in rest if isinstance(r, dict)}
        for row in first:
            more = extra.get(row.get("id"))
            if more is None:
                continue
            merged = row.setdefault("custom", {})
            for view, fields in more.items():
                merged.setdefault(view, {}).update(fields)
        missing = [r for r in first if r.get("id") not in extra]
        if missing:
            self._refetch_custom(missing, customs[half:])
        return first

    def _refetch_custom(self, rows: list[t.Any], customs: list[str]) -> None:
        """Rows that changed between the split requests: read their custom fields by id."""
        for row in rows:
            one = self.client.get_json(
                self.client.url(f"{self.path}/{row['id']}"),
                params={"$custom": ",".join(customs), "$select": self.replication_key or "id"},
                what=f"{self.name} {row['id']} custom fields",
                headers=self.data_headers,
            )
            for view, fields in (one.get("custom") or {}).items():
                row.setdefault("custom", {}).setdefault(view, {}).update(fields)

    @staticmethod
    def _listed_fields(options: Options) -> set[str]:
        return {
            p.split("/")[0]
            for key in ("$select", "$expand")
            for p in _split_list(options.get(key, ""))
        }

    def _without(self, options: Options, fields: set[str]) -> Options:
        if not fields:
            return dict(options)
        reduced = dict(options)
        for key in ("$select", "$expand"):
            if key in reduced:
                kept = [p for p in _split_list(reduced[key]) if p.split("/")[0] not in fields]
                if kept:
                    reduced[key] = ",".join(kept)
                else:
                    del reduced[key]
        if "$select" not in reduced and "$select" in options:
            reduced["$select"] = self.replication_key or "id"
        return reduced

    def _complete_per_record(self, records: list[Record]) -> None:
        """Read the fields the list could not serve, one ``GET <Entity>/<id>`` per record."""
        full = self.query_options()
        params: Options = {}
        for key in ("$select", "$expand"):
            parts = [
                p for p in _split_list(full.get(key, "")) if p.split("/")[0] in self._per_record
            ]
            if parts:
                params[key] = ",".join(parts)
        if "$select" not in params:
            params["$select"] = ",".join(sorted(self._per_record))
        for record in records:
            one = self.client.get_json(
                self.client.url(f"{self.path}/{record['id']}"),
                params=params,
                what=f"{self.name} {record['id']} ({', '.join(sorted(self._per_record))})",
                headers=self.data_headers,
            )
            extra = self._transform(one) if isinstance(one, dict) else {}
            for name in self._per_record:
                record[name] = extra.get(name)
                if selects.id_property(name) in extra:  # a drop-down's id column
                    record[selects.id_property(name)] = extra[selects.id_property(name)]


DETAIL_LINES_GUESS = 4  # lines per detail collection, for a first page's size estimate


def _leaves(schema: t.Mapping[str, t.Any]) -> int:
    """Scalar properties of a (selected) schema, nested objects and arrays included."""
    total = 0
    for prop in schema.get("properties", {}).values():
        if not isinstance(prop, dict):
            total += 1
        elif "items" in prop and isinstance(prop["items"], dict):
            total += DETAIL_LINES_GUESS * max(1, _leaves(prop["items"]))
        elif "properties" in prop:
            total += max(1, _leaves(prop))
        else:
            total += 1
    return total
