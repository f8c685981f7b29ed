"""Records as Acumatica writes them, from precompiled per-entity field plans.

Shape (checked against the real recorded responses in tests/fixtures/acumatica/sample-*.json):
``{"id", "rowNumber", "note": {"value": ""}, <fields sorted case-insensitively>, "custom": {}}``;
every field is ``{"value": x}`` or ``{}`` when it has no value; detail collections and linked
entities appear only when expanded (their lines carry ``"note": null``).  The real list responses
carry no ``files`` key for records without attachments, so ``files`` appears only on records
that have attachments (about one in seven here).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from . import selects
from .store import EntityStore
from .swagger import Contract, EntityDef
from .values import (
    POOL,
    dumps,
    format_datetime,
    format_utc_padded,
    legacy_date_string,
    make_uuid,
    ms_to_datetime,
    pool_for,
    row_bits,
    stable_hash,
    wrap,
)

# Deterministic custom (user-defined) fields: (field, custom type, value type).
CUSTOM_FIELDS = (
    ("UsrNote", "CustomStringField", "StringValue"),
    ("UsrAmount", "CustomDecimalField", "DecimalValue"),
    ("UsrReviewedDateTime", "CustomDateTimeField", "DateTimeValue"),
    ("UsrFlag", "CustomBooleanField", "BooleanValue"),
    ("UsrPriority", "CustomIntField", "IntValue"),
    ("UsrBigCounter", "CustomLongField", "LongValue"),
    ("UsrRank", "CustomShortField", "ShortValue"),
    ("UsrLevel", "CustomByteField", "ByteValue"),
    ("UsrRatio", "CustomDoubleField", "DoubleValue"),
    ("UsrExternalGuid", "CustomGuidField", "GuidValue"),
)
#: Contract v5 adds drop-down custom fields (CustomStringSingleSelectField, ...). How a v3/v4
#: endpoint writes such a user field is not documented, so they exist on v5 endpoints only.
V5_CUSTOM_FIELDS = (
    ("UsrRegion", "CustomStringSingleSelectField", "StringSingleSelectValue"),
    ("UsrTier", "CustomIntSingleSelectField", "IntSingleSelectValue"),
    ("UsrTags", "CustomStringMultiSelectField", "StringMultiSelectValue"),
)
#: The graph and view of ``_links["files:put"]`` (25.200.001 on), by entity.
GRAPHS = {
    "Customer": "PX.Objects.AR.CustomerMaint",
    "SalesOrder": "PX.Objects.SO.SOOrderEntry",
    "SalesInvoice": "PX.Objects.SO.SOInvoiceEntry",
    "StockItem": "PX.Objects.IN.InventoryItemMaint",
    "JournalTransaction": "PX.Objects.GL.JournalEntry",
}
PRIMARY_VIEWS = {
    "Customer": "BAccount",
    "StockItem": "Item",
    "SalesOrder": "Document",
    "Vendor": "BAccount",
    "NonStockItem": "Item",
}
KEY_FIELDS = (
    "{e}ID",
    "OrderNbr",
    "ReferenceNbr",
    "InventoryID",
    "{e}CD",
    "BatchNbr",
    "RefNbr",
    "ShipmentNbr",
    "ProjectID",
    "AccountCD",
    "VendorID",
    "CustomerID",
)
DETAIL_LINES = 4  # a detail collection has 0..3 lines
_serials = itertools.count(1)


class RequestError(ValueError):
    """A client mistake in $select/$expand/$custom: answered with HTTP 400."""


def custom_fields(entity: str, v5: bool = False) -> list[tuple[str, str, str, str]]:
    """(view, field, custom type, value type) of the entity's custom fields."""
    view = PRIMARY_VIEWS.get(entity, "Document")
    fields = CUSTOM_FIELDS + (V5_CUSTOM_FIELDS if v5 else ())
    return [(view, name, ctype, vtype) for name, ctype, vtype in fields]


def shift_of(index: int) -> int:
    return (6 * index + (index // 41)) % 250


def field_shift(name: str) -> int:
    """Where a field's pool index sits in an archetype's bits: by its name, so that a field
    holds the same values in every endpoint version of one row (a connection moved from
    24.200.001 to 26.200.001 must see its columns unchanged)."""
    return stable_hash("shift", name) % 250


ARCHETYPES = 4096  # distinct combinations of pooled values per (sub)entity


def archetype_bits(salt: int, archetype: int) -> int:
    """The pool-selection bits of one archetype (shared by rendering and $filter)."""
    return row_bits(salt, archetype, 0)


@dataclass
class Plan:
    """How to write one (sub)entity for one combination of $select/$expand/$custom.

    Speed: the pooled fields of a row are fixed by its *archetype* (``bits % ARCHETYPES``),
    so their joined text is built once per archetype and cached as the segments between the
    row-dependent (dynamic) fields: rendering a row is then a handful of concatenations.
    """

    arch_salt: int = 0
    pool_items: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    dynamic: list[tuple[int, Callable[[int, int, int], str]]] = field(default_factory=list)
    custom: Callable[[int], str] | None = None
    serial: int = field(default_factory=lambda: next(_serials))  # row-cache key part
    _segments: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def _build_segments(self, archetype: int) -> tuple[str, ...]:
        bits = archetype_bits(self.arch_salt, archetype)
        dynamic_at = {pos for pos, _fn in self.dynamic}
        segments, current = [], []
        for pos, (shift, frags) in enumerate(self.pool_items):
            if pos in dynamic_at:
                segments.append("".join(current))
                current = []
                continue
            current.append(("," if pos else "") + frags[(bits >> shift) & 63])
        segments.append("".join(current))
        return tuple(segments)

    def fields(self, bits: int, row: int, stamp: int) -> str:
        """The comma-joined field members of one row."""
        archetype = bits % ARCHETYPES
        segments = self._segments.get(archetype)
        if segments is None:
            segments = self._segments[archetype] = self._build_segments(archetype)
        if not self.dynamic:
            return segments[0]
        out = [segments[0]]
        for (pos, fn), segment in zip(self.dynamic, segments[1:], strict=True):
            out.append(("," if pos else "") + fn(bits, row, stamp))
            out.append(segment)
        return "".join(out)


class EntityRenderer:
    """Writes records of one top-level entity in one endpoint version."""

    def __init__(
        self,
        contract: Contract,
        entity: str,
        store: EntityStore,
        *,
        seed: int,
        offsets: list[int],
        instance_path: str,
    ) -> None:
        self.contract = contract
        self.entity = entity
        self.store = store
        self.seed = seed
        #: 25.200.001 on, date-times come in UTC (``+00:00``) with 0 to 7 fraction digits.
        self.modern = contract.modern
        self.offsets = [0] if self.modern else offsets or [0]
        self.edef = contract.defs[entity]
        # Every DateTimeValue named LastModified* carries the row's stamp: all are indexable.
        self.stamp_aliases = [
            n
            for n in ("LastModifiedDateTime", "LastModified")
            if self.edef.scalars.get(n) == "DateTimeValue"
        ]
        self.href_base = f"{instance_path}/entity/Default/{contract.version}/files/"
        self.key_field = self._key_field()
        self.customs = custom_fields(entity, contract.v5)
        self._pools: dict[tuple[str, str], list] = {}
        self._plans: dict[tuple, Plan] = {}
        self.arch_salt = stable_hash("archetype", seed, entity)
        self._arch_cache: dict[int, int] = {}
        self._typed = self._typed_getters()
        #: Getters that read the row's stamp alone (no random bits needed).
        self._stamp_getters = {
            name: self._typed[name]
            for name in self.stamp_aliases
            if name in self._typed
            and name.startswith("LastModified")
            and self.edef.scalars.get(name) == "DateTimeValue"
        }

    # ---- values -------------------------------------------------------------------------

    def _key_field(self) -> str | None:
        for pattern in KEY_FIELDS:
            name = pattern.format(e=self.entity)
            if self.edef.scalars.get(name) == "StringValue":
                return name
        return None

    def _pool(self, salt: str, name: str, vtype: str) -> list:
        key = (salt, name)
        if key not in self._pools:
            from .store import STAMP_HI, STAMP_LO

            kind = selects.kind_of(salt, name, vtype)
            if kind is not None:
                self._pools[key] = selects.pool(salt, name, kind, vtype, self.seed)
            else:
                self._pools[key] = pool_for(
                    vtype,
                    name,
                    (self.seed, salt),
                    self.offsets,
                    STAMP_LO,
                    STAMP_HI,
                    modern=self.modern,
                )
        return self._pools[key]

    def _offset(self, bits: int, salt: int) -> int:
        return self.offsets[((bits >> 240) ^ salt) % len(self.offsets)]

    def _datetime(self, ms: int, bits: int, salt: int) -> str:
        """A row's date-time: with varying offsets (up to 24.200.001), or in UTC with 0 to 7
        fraction digits (25.200.001 on: ``…58.983+00:00``, ``…50.4+00:00``, ``…00+00:00``
        were recorded; padded digits keep the instant)."""
        if self.modern:
            return format_utc_padded(ms, ((bits >> 232) ^ salt) & 7)
        return format_datetime(ms, self._offset(bits, salt))

    def _dynamic(self, edef: EntityDef, name: str, top: bool):
        """(typed fn, rendered fn) for values that depend on the row, not a pool; or None."""
        vtype = edef.scalars[name]
        salt = stable_hash(name) & 0xFFFF
        if vtype == "DateTimeValue" and name.startswith("LastModified"):
            return (
                lambda bits, row, stamp: ms_to_datetime(stamp),
                lambda bits, row, stamp: f'"{self._datetime(stamp, bits, salt)}"',
            )
        if vtype == "DateTimeValue" and name == "CreatedDateTime":

            def created(bits: int, stamp: int) -> int:
                return stamp - (bits >> 200) % (90 * 86_400_000) if (bits >> 196) & 3 else stamp

            return (
                lambda bits, row, stamp: ms_to_datetime(created(bits, stamp)),
                lambda bits, row, stamp: (
                    '"' + self._datetime(created(bits, stamp), bits, salt) + '"'
                ),
            )
        if vtype == "GuidValue" and name == "NoteID" and top:
            # A record's id is its NoteID (the recorded 25.200.001 Customers show it).
            return (
                lambda bits, row, stamp: self.store.row_id(row),
                lambda bits, row, stamp: f'"{self.store.row_id(row)}"',
            )
        if vtype == "StringValue" and name == "LastModifiedDate":
            return (
                lambda bits, row, stamp: legacy_date_string(stamp),
                lambda bits, row, stamp: dumps(legacy_date_string(stamp)),
            )
        if top and name == self.key_field:
            prefix = "".join(c for c in self.entity if c.isupper())[:2] or "R"
            return (
                lambda bits, row, stamp: f"{prefix}{row + 1:06d}",
                lambda bits, row, stamp: f'"{prefix}{row + 1:06d}"',
            )
        return None

    def _typed_getters(self) -> dict[str, Callable[[int, int, int], object]]:
        getters: dict[str, Callable[[int, int, int], object]] = {}
        names = sorted(self.edef.scalars, key=str.lower)
        for name in names:
            dyn = self._dynamic(self.edef, name, True)
            if dyn:
                getters[name] = dyn[0]
            else:
                pool = self._pool(self.entity, name, self.edef.scalars[name])
                s = field_shift(name)
                getters[name] = lambda bits, row, stamp, p=pool, s=s, a=self._arch_bits: p[
                    (a(bits) >> s) & 63
                ][0]
        for i, (view, name, _ctype, vtype) in enumerate(self.customs):
            pool = self._pool(self.entity + "#custom", name, vtype)
            s = shift_of(i + 30)
            getters[f"custom:{view}.{name}"] = lambda bits, row, stamp, p=pool, s=s: p[
                (bits >> s) & 63
            ][0]
        return getters

    def _arch_bits(self, bits: int) -> int:
        archetype = bits % ARCHETYPES
        value = self._arch_cache.get(archetype)
        if value is None:
            value = self._arch_cache[archetype] = archetype_bits(self.arch_salt, archetype)
        return value

    def bits(self, row: int, version: int) -> int:
        return row_bits(self.store.base, row, version)

    def getter(self, row: int, version: int, stamp: int) -> Callable[[str], object]:
        """get(field) -> typed value, for the $filter evaluator.

        The row's random bits are computed on the first field that needs them: a filter
        on the stamp alone reads the stamp (every row is still evaluated; this only spares
        the simulator's CPU, which the benchmark shares with the tap)."""
        typed = self._typed
        stamp_only = self._stamp_getters
        bits: list[int] = []

        def get(name: str) -> object:
            if name in stamp_only:
                return stamp_only[name](0, row, stamp)
            if not bits:
                bits.append(self.bits(row, version))
            return typed[name](bits[0], row, stamp)

        return get

    def known_filter_fields(self) -> set[str]:
        return set(self._typed)

    # ---- plans --------------------------------------------------------------------------

    def plan(self, select: frozenset[str] | None, expand: dict, custom: tuple) -> Plan:
        key = (select, json.dumps(expand, sort_keys=True), custom)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._build(
                self.edef, self.entity, select, expand, top=True, arch_salt=self.arch_salt
            )
            plan.custom = self._custom_renderer(custom)
            if len(self._plans) > 32:  # each plan caches up to ARCHETYPES row texts
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _custom_renderer(self, custom: tuple) -> Callable[[int], str]:
        if not custom:
            return lambda bits: "{}"
        by_view: dict[str, list] = {}
        for view, name in custom:
            index, (_v, _n, ctype, vtype) = next(
                (i, c) for i, c in enumerate(self.customs) if c[0] == view and c[1] == name
            )
            pool = self._pool(self.entity + "#custom", name, vtype)
            frags = tuple(
                f'{dumps(name)}:{{"type":"{ctype}","value":{r if r else "null"}}}' for _t, r in pool
            )
            by_view.setdefault(view, []).append((shift_of(index + 30), frags))
        views = list(by_view.items())

        def render(bits: int) -> str:
            return (
                "{"
                + ",".join(
                    f"{dumps(view)}:{{" + ",".join(f[(bits >> s) & 63] for s, f in items) + "}"
                    for view, items in views
                )
                + "}"
            )

        return render

    def _build(
        self,
        edef: EntityDef,
        salt: str,
        select: frozenset[str] | None,
        expand: dict,
        *,
        top: bool,
        arch_salt: int,
    ) -> Plan:
        plan = Plan(arch_salt)
        scalar_names = sorted(edef.scalars, key=str.lower)
        shifts = {name: field_shift(name) for name in scalar_names}
        sub_selects: dict[str, set[str]] = {}
        wanted: set[str] | None = None
        if select is not None:
            wanted = set()
            for item in select:
                head, _, rest = item.partition("/")
                if rest:
                    sub_selects.setdefault(head, set()).add(rest)
                else:
                    wanted.add(head)
        names = [n for n in scalar_names if wanted is None or n in wanted]
        names += [n for n in expand if n in edef.collections or n in edef.linked]
        names.sort(key=str.lower)
        blank = ("",) * POOL
        for name in names:
            pos = len(plan.pool_items)
            if name in edef.scalars:
                dyn = self._dynamic(edef, name, top)
                if dyn:
                    render = dyn[1]
                    plan.pool_items.append((0, blank))
                    key = dumps(name)
                    plan.dynamic.append(
                        (pos, lambda b, r, s, k=key, f=render: f'{k}:{{"value":{f(b, r, s)}}}')
                    )
                else:
                    pool = self._pool(salt, name, edef.scalars[name])
                    frags = tuple(wrap(name, rendered) for _t, rendered in pool)
                    plan.pool_items.append((shifts[name], frags))
                continue
            child_def = edef.collections.get(name) or edef.linked[name]
            sub_select = sub_selects.get(name)
            child = self._build(
                self.contract.defs[child_def],
                child_def,
                frozenset(sub_select) if sub_select else None,
                expand[name],
                top=False,
                arch_salt=stable_hash("archetype", self.seed, child_def),
            )
            plan.pool_items.append((0, blank))
            plan.dynamic.append(
                (pos, self._child_renderer(name, child, name in edef.collections, salt))
            )
        return plan

    def _child_renderer(self, name: str, child: Plan, many: bool, salt: str):
        path_salt = stable_hash(self.entity, salt, name)
        key = dumps(name)

        def line(bits: int, row: int, stamp: int, index: int) -> str:
            line_bits = row_bits(path_salt, row * 16 + index, bits & 0xFFFF)
            ident = make_uuid(path_salt, row, index)
            body = child.fields(line_bits, row, stamp)
            return (
                f'{{"id":"{ident}","rowNumber":{index + 1},"note":null,'
                f'{body}{"," if body else ""}"custom":{{}}}}'
            )

        if many:

            def render(bits: int, row: int, stamp: int) -> str:
                count = (bits >> (path_salt % 200)) % DETAIL_LINES
                return f"{key}:[" + ",".join(line(bits, row, stamp, i) for i in range(count)) + "]"
        else:

            def render(bits: int, row: int, stamp: int) -> str:
                return f"{key}:" + line(bits, row, stamp, 0)

        return render

    # ---- records ------------------------------------------------------------------------

    def record(self, plan: Plan, row: int, version: int, stamp: int, row_number: int) -> str:
        bits = self.bits(row, version)
        return f'{{"id":"{self.store.row_id(row)}","rowNumber":{row_number}' + self.rest(
            plan, bits, row, stamp
        )

    def rest(self, plan: Plan, bits: int, row: int, stamp: int) -> str:
        """Everything after rowNumber (cacheable: does not depend on the row's position)."""
        if self.edef.note_is_string:
            note = '""'
        elif (bits >> 250) & 7:
            note = '{"value":""}'
        else:
            note = f'{{"value":{dumps(f"Note for row {row + 1}")}}}'
        fields = plan.fields(bits, row, stamp)
        out = f',"note":{note}{"," if fields else ""}{fields},"custom":{plan.custom(bits)}'
        if self.modern:
            # 25.200.001 on: ``_links`` on every record, and no ``files`` key in lists (the
            # recorded 25.200.001 Customers; what a record with attachments shows is unknown).
            ident = self.store.row_id(row)
            base = f"{self.href_base[: -len('files/')]}"
            graph = GRAPHS.get(self.entity, f"PX.Objects.{self.entity}Maint")
            view = PRIMARY_VIEWS.get(self.entity, "Document")
            return (
                out + f',"_links":{{"self":"{base}{self.entity}/{ident}",'
                f'"files:put":"{base}files/{graph}/{view}/{ident}/{{filename}}"}}}}'
            )
        if (bits >> 253) % 7 == 0:
            ident = make_uuid("file", self.store.base, row)
            name = f"{self.entity} ({row + 1})\\\\attachment.pdf"
            out += (
                f',"files":[{{"id":"{ident}","filename":"{name}",'
                f'"href":"{self.href_base}{ident}"}}]'
            )
        return out + "}"

    # ---- request options ----------------------------------------------------------------

    def parse_expand(self, text: str) -> dict:
        tree: dict = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            edef, node = self.edef, tree
            for part in item.split("/"):
                target = edef.collections.get(part) or edef.linked.get(part)
                if target is None:
                    raise RequestError(
                        f"The entity {edef.name} has no detail or linked entity named {part}."
                    )
                node = node.setdefault(part, {})
                edef = self.contract.defs[target]
        return tree

    def parse_select(self, text: str, expand: dict) -> frozenset[str] | None:
        if not text.strip():
            return None
        names = frozenset(p.strip() for p in text.split(",") if p.strip())
        for item in names:
            head, _, rest = item.partition("/")
            if head in self.edef.scalars and not rest:
                continue
            if head in expand and rest:
                child = self.contract.defs[
                    self.edef.collections.get(head) or self.edef.linked[head]
                ]
                if rest in child.scalars:
                    continue
            if head in expand and not rest:
                continue
            raise RequestError(f"The field {item} of the entity {self.entity} is not found.")
        return names

    def parse_custom(self, text: str) -> tuple[tuple[str, str], ...]:
        known = {(v, n) for v, n, _c, _t in self.customs}
        out = []
        for item in filter(None, (p.strip() for p in text.split(","))):
            view, _, name = item.partition(".")
            if (view, name) not in known:
                raise RequestError(f"The custom field {item} is not found.")
            out.append((view, name))
        return tuple(out)

    def all_custom(self) -> tuple[tuple[str, str], ...]:
        return tuple((v, n) for v, n, _c, _t in self.customs)

    def adhoc_schema(self) -> dict:
        """GET <Entity>/$adHocSchema: the entity skeleton plus custom.<View>.<Field> types."""
        body: dict = {"id": None, "rowNumber": 0, "note": {"value": None}}
        for name in sorted(self.edef.scalars, key=str.lower):
            body[name] = {"value": None}
        custom: dict = {}
        for view, name, ctype, _vt in self.customs:
            custom.setdefault(view, {})[name] = {"type": ctype, "value": None}
        body["custom"] = custom
        return body
