"""Contract-based REST entities as Singer streams.

The catalog drives the request: only selected fields go into ``$select`` (a rate-limited
ERP should not send what nobody loads), and selected detail collections or linked
entities go into ``$expand`` (Acumatica returns them only when asked).
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

from tap_acumatica.contract import compile_schema
from tap_acumatica.errors import AcumaticaResponseError
from tap_acumatica.streams import MAX_QUERY_LENGTH, AcumaticaStream, Record

if t.TYPE_CHECKING:
    from singer_sdk import singerlib as singer

    from tap_acumatica.tap import TapAcumatica


SYSTEM_PROPERTIES = ("id", "rowNumber", "note", "files")


def _nested(prop: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any] | None:
    """The object schema of a detail collection or linked entity, else None."""
    kind = prop.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds:
        items = prop.get("items", {})
        return items if "properties" in items else None
    if "object" in kinds and "properties" in prop:
        return prop
    return None


class EntityStream(AcumaticaStream):
    """One top-level entity of the endpoint (``Customer``, ``SalesOrder``, …)."""

    def __init__(self, tap: TapAcumatica, name: str, schema: dict[str, t.Any],
                 replication_key: str | None) -> None:
        super().__init__(tap, name, schema, replication_key=replication_key,
                         primary_keys=["id"])
        self._transform = compile_schema(schema)
        self._query_cache: dict[bool, dict[str, str]] = {}

    @property
    def path(self) -> str:  # type: ignore[override]
        return self._acumatica_tap.entity_path(self.name)

    # Selection -> $select / $expand ------------------------------------------------------

    @property
    def metadata(self) -> singer.MetadataMapping:
        """Detail collections and linked entities are available but not selected by default.

        A plain sync stays light; users opt in (e.g. ``SalesOrder.Details``).
        """
        if self._metadata is None:
            md = super().metadata
            for name, prop in self.schema.get("properties", {}).items():
                if name not in SYSTEM_PROPERTIES and _nested(prop) is not None:
                    md[("properties", name)].selected_by_default = False
            return md
        return self._metadata

    def _selected(self, breadcrumb: tuple[str, ...]) -> bool:
        return bool(self.mask.get(breadcrumb, True))

    def _expand_paths(self, schema: t.Mapping[str, t.Any], breadcrumb: tuple[str, ...],
                      prefix: str) -> list[str]:
        paths: list[str] = []
        for name, prop in schema.get("properties", {}).items():
            inner = None if name in SYSTEM_PROPERTIES else _nested(prop)
            crumb = (*breadcrumb, "properties", name)
            if inner is None or not self._selected(crumb):
                continue
            path = f"{prefix}{name}"
            paths.append(path)
            child_crumb = (*crumb, "items") if "items" in prop else crumb
            paths.extend(self._expand_paths(inner, child_crumb, f"{path}/"))
        return paths

    def query_options(self, census: bool = False) -> dict[str, str]:
        """``$select``/``$expand`` from the catalog selection (cached per run)."""
        if census in self._query_cache:
            return self._query_cache[census]
        options: dict[str, str] = {}
        if census:
            assert self.replication_key
            options["$select"] = self.replication_key
        else:
            props = self.schema.get("properties", {})
            scalar = [n for n, p in props.items()
                      if n not in SYSTEM_PROPERTIES and _nested(p) is None]
            chosen = [n for n in scalar
                      if self._selected(("properties", n)) or n == self.replication_key]
            expand = self._expand_paths(self.schema, (), "")
            if len(chosen) < len(scalar) or expand:
                options["$select"] = ",".join(chosen + [p for p in expand if "/" not in p])
            if expand:
                options["$expand"] = ",".join(expand)
            if len(urlencode(options)) > MAX_QUERY_LENGTH and "$select" in options:
                # IIS caps query strings (2048 bytes by default): ask for every field and
                # drop the unselected ones here rather than fail.
                self.logger.info("%s: $select too long for the server; requesting all fields.",
                                 self.name)
                del options["$select"]
        self._query_cache[census] = options
        return options

    # Requests -------------------------------------------------------------------------------

    def fetch(self, *, filter_expr: str | None, top: int | None, skip: int,
              census: bool = False) -> list[Record]:
        params: dict[str, t.Any] = dict(self.query_options(census))
        if filter_expr:
            params["$filter"] = filter_expr
        if top is not None:
            params["$top"] = top
        if skip:
            params["$skip"] = skip
        what = f"{self.name} list" + (f" ({filter_expr})" if filter_expr else "") + \
            (f" $skip={skip}" if skip else "")
        data = self.client.get_json(self.client.url(self.path), params=params, what=what)
        if not isinstance(data, list):
            raise AcumaticaResponseError(
                f"{what}: expected a JSON array of records, got {type(data).__name__}."
            )
        if census:
            key = str(self.replication_key)
            return [{key: (r.get(key) or {}).get("value")} for r in data if isinstance(r, dict)]
        transform = self._transform
        return [transform(r) for r in data]
