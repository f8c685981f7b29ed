"""Generic inquiries (GIs) served over OData, as Acumatica exposes them.

Two URL families, one data set:

* ``"v4"`` - ``<base>/t/<tenant>/api/odata/gi/<subpath>`` (2024 R2+; OData v4, EDMX 4.0);
* ``"v3"`` - ``<base>/odata/<tenant?>/<subpath>`` (legacy; OData v3, EDMX 1.0).

What is modelled, and why (facts from tests/fixtures/acumatica/odata-gi-*; the rest marked
*decision* where Acumatica's own material says nothing):

* Entity set = the inquiry's title verbatim, spaces and hyphens included (the real fragment has
  ``EntitySet Name="PM-Project Summary"`` and a context URL ``#Customer%20Contacts``); the
  EntityType name is the title with every non-identifier character stripped
  (``BI-LeadConversion`` -> ``BILeadConversion``). Clients must percent-encode set names.
* A parameterised inquiry has a ``Function`` named by the title and a ``FunctionImport``
  ``<TypeName>_WithParameters``; v4 calls it ``…_WithParameters(Warehouse='WHOLESALE')``,
  v3 (*decision*, unverified) as a service operation ``…_WithParameters?Warehouse='WHOLESALE'``.
  The plain entity set answers every row (parameters left empty mean "no restriction").
* An inquiry with grouping has no ``<Key>`` (invalid CSDL, but Acumatica emits it).
* CHAR columns keep their space padding (``"AALEGO500 "``); Decimal columns carry their scale.
  v3 JSON writes Edm.Decimal and Edm.Int64 as strings (OData v3 JSON rule; the docs' sample
  shows ``"1999.000000"``); v4 writes them as JSON numbers (``1999.000000``) unless the client
  asks ``IEEE754Compatible=true`` (then strings), per the OData v4 JSON format.
* Date-times (*decision*): stored as UTC instants with millisecond precision. v4 renders
  Edm.DateTimeOffset in the instance time zone ``tz`` (``Z`` when UTC) with trailing zero
  fractions trimmed (``…T10:00:00Z``, ``…T10:00:00.12Z``); v3 renders Edm.DateTime as the
  instance's wall-clock time with no offset, and reads ``datetime'…'`` literals in that same
  zone, so a value read back into a filter round-trips. Edm.Date (v4) is ``"2022-07-13"``;
  v3 has no Date type and writes midnight ``"2022-07-13T00:00:00"``.
* Without ``$orderby`` rows come back in the order of an internal hash of (row, version):
  stable between requests while nothing changes, but an updated or inserted row moves, so
  ``$skip`` paging without ``$orderby`` skips or repeats rows. ``$orderby`` ties are broken by
  the same hash, so a client must order by a unique key set to page safely.
* Calculated columns (formulas) cannot be filtered or sorted: 400. GI OData has no
  navigation properties: ``$expand`` is a 400; counting (``$count``, ``/$count``,
  ``$inlinecount``) is 501 (*decision*). Errors carry the OData error body of each version.
* Filters are typed like OData: a v3 Edm.DateTime column takes ``datetime'…'`` only (a
  ``datetimeoffset'…'`` literal is "incompatible types"), a v4 Edm.DateTimeOffset column takes
  bare date-times (an offset-less one is read in ``tz``), an Edm.Date column bare dates.
* v3's default format is Atom XML; this simulator never writes Atom: it answers JSON when the
  client asks for nothing (header ``X-Simulator-Note`` says so) and 406 when it asks for Atom
  or XML only.
* A forbidden inquiry (unticked "Expose via OData", or missing rights) stays in the service
  document and ``$metadata`` but answers 403 (*decision*: what a user without rights sees).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, unquote
from xml.sax.saxutils import quoteattr

from .filtering import FilterSyntaxError, parse_filter

__all__ = ["Column", "Inquiry", "ODataService"]


class Counters(Protocol):
    def incr(self, key: str, n: int = 1) -> None: ...


# --- model ------------------------------------------------------------------------------------

# Logical column types -> EDM type per family. "DateTime" is an instant (DateTimeOffset in v4).
_EDM = {
    "v4": {"DateTime": "Edm.DateTimeOffset", "Date": "Edm.Date"},
    "v3": {"DateTime": "Edm.DateTime", "Date": "Edm.DateTime"},
}
_NUMERIC_KINDS = frozenset(["int", "decimal", "double"])
_LITERAL_EDM = {
    "string": "Edm.String",
    "int": "Edm.Int32",
    "decimal": "Edm.Decimal",
    "double": "Edm.Double",
    "bool": "Edm.Boolean",
    "datetime": "Edm.DateTime",
    "datetimeoffset": "Edm.DateTimeOffset",
    "date": "Edm.Date",
    "guid": "Edm.Guid",
}


@dataclass(frozen=True)
class Column:
    """One GI result column. `pad` = CHAR(n) width (values are stored space-padded)."""

    name: str
    type: str  # String Int16 Int32 Int64 Decimal Double Boolean DateTime Date Guid
    nullable: bool = True
    scale: int = 0
    pad: int = 0
    calculated: bool = False

    def edm(self, family: str) -> str:
        return _EDM[family].get(self.type, "Edm." + self.type)

    def accepts(self, kind: str, family: str) -> bool:
        """Whether a literal of `kind` may be compared with this column (OData typing)."""
        if kind == "null":
            return True
        t = self.type
        if t == "String":
            return kind == "string"
        if t in ("Int16", "Int32", "Int64", "Decimal", "Double"):
            return kind in _NUMERIC_KINDS
        if t == "Boolean":
            return kind == "bool"
        if t == "Guid":
            return kind == "guid"
        if family == "v3":  # Edm.DateTime for both
            return kind == "datetime"
        if t == "DateTime":
            return kind in ("datetimeoffset", "datetime")
        return kind == "date"


@dataclass
class _Row:
    rid: int
    values: dict[str, Any]
    version: int = 0
    order: bytes = b""


@dataclass
class Inquiry:
    """One exposed generic inquiry and its rows."""

    title: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...]
    make_row: Callable[[int], dict[str, Any]]
    touch: Callable[[random.Random, dict[str, Any], datetime], None]
    parameters: tuple[tuple[str, str], ...] = ()  # (parameter, column it restricts)
    stamp: str | None = None
    rows: list[_Row] = field(default_factory=list)
    generated: int = 0

    @property
    def type_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9_]", "", self.title)

    @property
    def function_import(self) -> str | None:
        return f"{self.type_name}_WithParameters" if self.parameters else None

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


# --- deterministic data -----------------------------------------------------------------------

_ADJ = [
    "Jersey",
    "Pacific",
    "Northern",
    "Golden",
    "Summit",
    "Blue Ridge",
    "Lakeside",
    "Metro",
    "O'Hara",
    "Evergreen",
    "Sterling",
    "Harbor",
]
_NOUN = [
    "Central Office Equip",
    "Trading",
    "Supplies",
    "Foods",
    "Logistics",
    "Builders",
    "Outfitters",
    "Electronics",
    "Bakery & Cafe",
    "Print Shop",
]
_CITY = [
    "Johannesburg",
    "New York",
    "Chicago",
    "Austin",
    "Seattle",
    "Denver",
    "Toronto",
    "São Paulo",
    "Zürich",
    "Portland",
]
_STREET = [
    "De Villiers & Harrison St",
    "Main St",
    "O'Connell Ave",
    "Elm Rd",
    "Market St",
    "5th Ave",
    "Riverside Dr",
]
_STATES = ["NY", "IL", "TX", "WA", "CO", "OR", "ON", "GP"]
_ITEMS = [
    ("LEGO", "Lego {n} piece set", "TOYS"),
    ("COMP", "Computer part {n}", "HARDWARE"),
    ("CONB", "Consulting block {n}h", "SERVICES"),
    ("EQUI", "Equipment kit {n}", "HARDWARE"),
]
_WAREHOUSES = ["MAIN", "WHOLESALE", "RETAIL"]


def _ms(dt: datetime) -> datetime:
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def _money(rng: random.Random, lo: float, hi: float, scale: int) -> Decimal:
    value = Decimal(str(round(rng.uniform(lo, hi), min(scale, 2))))
    return value.quantize(Decimal(1).scaleb(-scale))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Stamps:
    """Modification stamps over the past ~2 years; ~12% share one of a few bulk-import stamps."""

    def __init__(self, seed: int, title: str, anchor: datetime) -> None:
        rng = random.Random(f"{seed}:{title}:bulk")
        self.anchor = anchor
        self.bulk = [
            _ms(anchor - timedelta(seconds=rng.uniform(3600, 700 * 86400))) for _ in range(3)
        ]

    def pick(self, rng: random.Random) -> datetime:
        if rng.random() < 0.12:
            return rng.choice(self.bulk)
        return _ms(self.anchor - timedelta(seconds=rng.uniform(60, 730 * 86400)))


def _build_inquiries(seed: int, anchor: datetime) -> list[Inquiry]:
    def rng_for(title: str, i: int) -> random.Random:
        return random.Random(f"{seed}:{title}:{i}")

    # 1. The docs' "Customer Contacts" (space in the entity set name), with keys.
    cc_title = "Customer Contacts"

    def cc_row(i: int) -> dict[str, Any]:
        r = rng_for(cc_title, i)
        name = f"{r.choice(_ADJ)} {r.choice(_NOUN)}"
        return {
            "CustomerID": f"C{i + 1:09d}",
            "CustomerName": name,
            "CustomerClass": r.choice(["DEFAULT", "DEFAULT", "INTL", "LOCAL", "WHOLESALE"]),
            "Email": None
            if r.random() < 0.05
            else re.sub(r"[^a-z]", "", name.lower())[:12] + f"{i}@mail.con",
            "Phone1": f"+1 ({r.randint(200, 999)}) {r.randint(200, 999)}-{r.randint(0, 9999):04d}",
            "City": r.choice(_CITY),
            "State": None if r.random() < 0.3 else r.choice(_STATES),
            "PostalCode": None if r.random() < 0.2 else f"{r.randint(10000, 99999)}",
            "AddressLine1": f"{r.randint(1, 999)} {r.choice(_STREET)}",
            "AddressLine2": f"Suite {r.randint(1, 50)}" if r.random() < 0.15 else None,
            "ContactID": 5000 + 3 * i + 1,
            "AddressID": 5000 + 3 * i + 2,
        }

    def cc_touch(r: random.Random, v: dict[str, Any], now: datetime) -> None:
        v["Phone1"] = f"+1 ({r.randint(200, 999)}) {r.randint(200, 999)}-{r.randint(0, 9999):04d}"
        v["City"] = r.choice(_CITY)

    contacts = Inquiry(
        title=cc_title,
        columns=(
            Column("CustomerID", "String", nullable=False),
            Column("CustomerName", "String"),
            Column("CustomerClass", "String"),
            Column("Email", "String"),
            Column("Phone1", "String"),
            Column("City", "String"),
            Column("State", "String"),
            Column("PostalCode", "String"),
            Column("AddressLine1", "String"),
            Column("AddressLine2", "String"),
            Column("ContactID", "Int32", nullable=False),
            Column("AddressID", "Int32", nullable=False),
        ),
        keys=("CustomerID", "ContactID"),
        make_row=cc_row,
        touch=cc_touch,
    )

    # 2. Incremental: modification-stamped orders, every EDM type, a calculated column.
    so_title = "BI-SalesOrders"
    so_stamps = _Stamps(seed, so_title, anchor)

    def so_row(i: int) -> dict[str, Any]:
        r = rng_for(so_title, i)
        modified = so_stamps.pick(r)
        created = _ms(modified - timedelta(seconds=r.uniform(0, 90 * 86400)))
        total = _money(r, 10, 25000, 4)
        cost = total * Decimal(str(round(r.uniform(0.4, 0.95), 4)))
        return {
            "OrderType": r.choice(["SO", "SO", "SO", "RC", "QT"]),
            "OrderNbr": f"SO{i + 1:06d}",
            "CustomerID": f"C{r.randint(1, 300):09d}",
            "Status": r.choice(["Open", "Completed", "On Hold", "Cancelled", "Shipping"]),
            "OrderDate": created.date(),
            "LineCount": r.randint(1, 40),
            "CuryInfoID": 9_007_199_254_740_993 + 7 * i,  # > 2**53: floats lose it
            "OrderQty": _money(r, 1, 500, 6),
            "OrderTotal": total,
            "DiscountPct": None if r.random() < 0.3 else round(r.uniform(0, 25), 3),
            "Approved": r.random() < 0.7,
            "NoteID": _guid(r),
            "ShipVia": None if r.random() < 0.25 else r.choice(["FEDEX", "UPS", "DHL", "LOCAL"]),
            "MarginPct": ((total - cost) / total * 100).quantize(Decimal("0.01")),
            "CreatedOn": created,
            "LastModifiedOn": modified,
        }

    def so_touch(r: random.Random, v: dict[str, Any], now: datetime) -> None:
        v["Status"] = r.choice(["Open", "Completed", "On Hold", "Cancelled", "Shipping"])
        v["OrderTotal"] = _money(r, 10, 25000, 4)
        v["Approved"] = not v["Approved"]
        v["LastModifiedOn"] = now

    orders = Inquiry(
        title=so_title,
        columns=(
            Column("OrderType", "String", nullable=False, pad=2),
            Column("OrderNbr", "String", nullable=False),
            Column("CustomerID", "String"),
            Column("Status", "String"),
            Column("OrderDate", "Date"),
            Column("LineCount", "Int16"),
            Column("CuryInfoID", "Int64"),
            Column("OrderQty", "Decimal", scale=6),
            Column("OrderTotal", "Decimal", scale=4),
            Column("DiscountPct", "Double"),
            Column("Approved", "Boolean", nullable=False),
            Column("NoteID", "Guid"),
            Column("ShipVia", "String"),
            Column("MarginPct", "Decimal", scale=2, calculated=True),
            Column("CreatedOn", "DateTime"),
            Column("LastModifiedOn", "DateTime", nullable=False),
        ),
        keys=("OrderType", "OrderNbr"),
        make_row=so_row,
        touch=so_touch,
        stamp="LastModifiedOn",
    )

    # 3. Grouped (aggregate) inquiry: no <Key>, plain identifier name.
    sp_title = "SalesByCustomerPeriod"

    def sp_row(i: int) -> dict[str, Any]:
        r = rng_for(sp_title, i)
        month = (anchor.year * 12 + anchor.month - 1) - i // 97
        last = _ms(anchor - timedelta(days=(i // 97) * 30 + r.uniform(0, 28)))
        return {
            "CustomerID": f"C{i % 97 + 1:09d}",
            "FinPeriod": f"{month // 12}{month % 12 + 1:02d}",
            "InvoiceCount": r.randint(1, 60),
            "SalesAmount": _money(r, 0, 90000, 4),
            "AvgDaysToPay": None if r.random() < 0.2 else round(r.uniform(3, 75), 2),
            "LastInvoiceDate": last,
        }

    def sp_touch(r: random.Random, v: dict[str, Any], now: datetime) -> None:
        v["InvoiceCount"] += 1
        v["SalesAmount"] += _money(r, 1, 900, 4)

    periods = Inquiry(
        title=sp_title,
        columns=(
            Column("CustomerID", "String"),
            Column("FinPeriod", "String"),
            Column("InvoiceCount", "Int32"),
            Column("SalesAmount", "Decimal", scale=4),
            Column("AvgDaysToPay", "Double"),
            Column("LastInvoiceDate", "DateTime"),
        ),
        keys=(),
        make_row=sp_row,
        touch=sp_touch,
    )

    # 4. Parameterised, like the docs' ItemAvailabilityData_WithParameters.
    ia_title = "Item Availability Data"

    def ia_row(i: int) -> dict[str, Any]:
        item, wh = divmod(i, len(_WAREHOUSES))
        pfx, desc, cls = _ITEMS[item % len(_ITEMS)]
        r = rng_for(ia_title, i)
        on_hand = _money(r, 0, 2500, 6).quantize(Decimal(1)).quantize(Decimal("0.000001"))
        return {
            "InventoryID": f"{pfx}{item:05d}".ljust(10),
            "Warehouse": _WAREHOUSES[wh].ljust(10),
            "Subitem": "0",
            "Description": desc.format(n=100 + item),
            "ItemClass": cls,
            "QtyOnHand": on_hand,
            "QtyAvailable": (on_hand * Decimal(str(round(r.uniform(0.5, 1), 2)))).quantize(
                Decimal("1.000000")
            ),
            "LastCountDate": None
            if r.random() < 0.3
            else (anchor - timedelta(days=r.randint(1, 400))).date(),
        }

    def ia_touch(r: random.Random, v: dict[str, Any], now: datetime) -> None:
        v["QtyOnHand"] = Decimal(r.randint(0, 2500)).quantize(Decimal("1.000000"))
        v["QtyAvailable"] = v["QtyOnHand"]

    availability = Inquiry(
        title=ia_title,
        columns=(
            Column("InventoryID", "String", nullable=False, pad=10),
            Column("Warehouse", "String", nullable=False, pad=10),
            Column("Subitem", "String", nullable=False),
            Column("Description", "String"),
            Column("ItemClass", "String"),
            Column("QtyOnHand", "Decimal", scale=6),
            Column("QtyAvailable", "Decimal", scale=6),
            Column("LastCountDate", "Date"),
        ),
        keys=("InventoryID", "Warehouse", "Subitem"),
        make_row=ia_row,
        touch=ia_touch,
        parameters=(("Warehouse", "Warehouse"), ("ItemClass", "ItemClass")),
    )
    return [contacts, orders, periods, availability]


_DEFAULT_SIZES = {
    "Customer Contacts": 300,
    "BI-SalesOrders": 500,
    "SalesByCustomerPeriod": 200,
    "Item Availability Data": 360,
}


# --- rendering --------------------------------------------------------------------------------


def _fmt_fraction(dt: datetime) -> str:
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "")


def _render(col: Column, value: Any, family: str, tz: tzinfo, *, ieee754: bool) -> str:
    """One value as JSON text (numbers written by hand so Decimal keeps its scale)."""
    if value is None:
        return "null"
    t = col.type
    if t == "Decimal":
        text = str(Decimal(value).quantize(Decimal(1).scaleb(-col.scale)))
        return json.dumps(text) if family == "v3" or ieee754 else text
    if t == "Int64":
        return json.dumps(str(value)) if family == "v3" or ieee754 else str(int(value))
    if t == "DateTime":
        local = value.astimezone(tz)
        text = _fmt_fraction(local)
        if family == "v4":
            off = local.utcoffset() or timedelta(0)
            if off == timedelta(0):
                text += "Z"
            else:
                sign = "-" if off < timedelta(0) else "+"
                minutes = abs(int(off.total_seconds())) // 60
                text += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
        return json.dumps(text)
    if t == "Date":
        return json.dumps(value.isoformat() if family == "v4" else value.isoformat() + "T00:00:00")
    return json.dumps(value, ensure_ascii=False)


class _RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- the service ------------------------------------------------------------------------------


class ODataService:
    """All exposed generic inquiries of one tenant, answering both OData families."""

    _SUPPORTED = frozenset(["$top", "$skip", "$filter", "$orderby", "$select", "$format"])

    def __init__(
        self,
        *,
        seed: int,
        sizes: Mapping[str, int] | None,
        counters: Counters,
        clock: Callable[[], datetime],
        forbidden: Iterable[str] = (),
        tz: tzinfo = timezone.utc,
    ) -> None:
        self.seed = seed
        self.counters = counters
        self.clock = clock
        self.tz = tz
        self._mutations = 0
        #: Long transactions not yet visible: (commit time, inquiry, changes).
        self._pending: list[tuple[datetime, Inquiry, list]] = []
        # The HTTP server is threaded: requests read rows while the control API mutates them.
        self._lock = threading.RLock()
        now = clock().astimezone(timezone.utc)
        anchor = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self._inquiries = _build_inquiries(seed, anchor)
        self._by_title = {inq.title: inq for inq in self._inquiries}
        self._by_function = {inq.function_import: inq for inq in self._inquiries if inq.parameters}
        sizes = dict(sizes or {})
        for inq in self._inquiries:
            count = sizes.get(inq.title, sizes.get(inq.type_name, _DEFAULT_SIZES[inq.title]))
            for _ in range(count):
                self._append(inq, inq.make_row(inq.generated))
        self._forbidden: frozenset[str] = frozenset()
        self.set_forbidden(forbidden)

    # -- control surface -----------------------------------------------------------------------

    def inquiry_names(self) -> list[str]:
        return [inq.title for inq in self._inquiries]

    def set_forbidden(self, names: Iterable[str]) -> None:
        """Make these inquiries (title or type name) answer 403."""
        titles = set()
        for name in names:
            inq = self._lookup(name)
            if inq is None:
                raise KeyError(f"unknown generic inquiry {name!r}")
            titles.add(inq.title)
        self._forbidden = frozenset(titles)

    def truth(self, name: str, family: str = "v4") -> list[dict[str, Any]]:
        """Every current row as the service renders it (Decimal and Int64 kept exact as text in
        v3, Decimal as text in v4 since a JSON float would lose its scale)."""
        inq = self._require(name)
        with self._lock:
            self._commit_due()
            return [
                json.loads(
                    self._row_json(inq, row.values, inq.columns, family, ieee754=False, truth=True)
                )
                for row in inq.rows
            ]

    def mutate(
        self, name: str, update: int, insert: int, commit_after_seconds: float = 0
    ) -> dict[str, Any]:
        """Update `update` random rows and insert `insert` new ones, stamping them with the
        server's now (ms precision); returns the keys (``{"_row": n}`` for key-less inquiries).

        With ``commit_after_seconds`` the change is a long transaction: stamped now, visible
        only that many seconds later (until then the old rows are served and the inserted
        ones do not exist). A row held by an uncommitted transaction is locked: a later
        change of it waits for that commit. Stamps of one row never go back in time."""
        inq = self._require(name)
        with self._lock:
            self._commit_due()
            return self._mutate(inq, update, insert, commit_after_seconds)

    def _mutate(
        self, inq: Inquiry, update: int, insert: int, commit_after_seconds: float = 0
    ) -> dict[str, Any]:
        self._mutations += 1
        rng = random.Random(f"{self.seed}:{inq.title}:mutate:{self._mutations}")
        now = _ms(self.clock().astimezone(timezone.utc))
        changes: list[tuple[_Row | None, int, dict[str, Any]]] = []
        updated = []
        for row in rng.sample(inq.rows, min(update, len(inq.rows))):
            values = dict(row.values)
            inq.touch(rng, values, now)
            # Only the columns this change wrote: a change queued behind another one's
            # lock must not undo that one's columns.
            diff = {k: v for k, v in values.items() if row.values.get(k) != v}
            changes.append((row, row.rid, diff))
            updated.append(self._key_of(inq, row))
        inserted = []
        for _ in range(insert):
            rid = inq.generated  # reserved now: keys derive from it, rows appear at commit
            inq.generated += 1
            values = inq.make_row(rid)
            if inq.stamp:
                values[inq.stamp] = now
                if "CreatedOn" in values:
                    values["CreatedOn"] = now
                    values["OrderDate"] = now.date()
            changes.append((None, rid, values))
            inserted.append({k: values[k] for k in inq.keys} if inq.keys else {"_row": rid})
        commit_at = now + timedelta(seconds=max(0.0, float(commit_after_seconds)))
        rows = {id(row) for row, _, _ in changes if row is not None}
        for pending in self._pending:
            if rows & {id(row) for row, _, _ in pending[2] if row is not None}:
                commit_at = max(commit_at, pending[0])
        transaction = (commit_at, inq, changes)
        if commit_at > self.clock():
            self._pending.append(transaction)
        else:
            self._apply(transaction)
        return {
            "updated": updated,
            "inserted": inserted,
            "stamp": now.isoformat(timespec="milliseconds"),
            "commit_at": commit_at.isoformat(timespec="milliseconds"),
        }

    def _apply(self, transaction: tuple[datetime, Inquiry, list]) -> None:
        _, inq, changes = transaction
        for row, rid, values in changes:
            if row is None:
                self._append(inq, values, rid)
                continue
            old, new = row.values.get(inq.stamp or ""), values.get(inq.stamp or "")
            if old is not None and new is not None and old > new:
                values = {**values, inq.stamp: old}  # never back in time
            row.values.update(values)
            row.version += 1
            row.order = self._order_key(inq, row)

    def _commit_due(self) -> None:
        """Commit the long transactions whose time has come, in commit order."""
        if not self._pending:
            return
        now = self.clock()
        due = sorted((t for t in self._pending if t[0] <= now), key=lambda t: t[0])
        for transaction in due:
            self._pending.remove(transaction)
            self._apply(transaction)

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        family: str,
        tenant: str | None,
        subpath: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        *,
        service_root: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request. `subpath` is raw (percent-encoded) after the service root;
        `service_root` (absolute, ending in "/") feeds the context URLs; without it one is
        rebuilt from the Host header (no instance path)."""
        if family not in ("v3", "v4"):
            raise ValueError(f"unknown OData family {family!r}")
        hdrs = {k.lower(): v for k, v in headers.items()}
        root = service_root or self._default_root(family, tenant, hdrs)
        path = unquote(subpath).lstrip("/")
        is_metadata = path.rstrip("/") == "$metadata"
        self.counters.incr("odata_metadata" if is_metadata else "odata")
        try:
            if method.upper() not in ("GET", "HEAD"):
                raise _RequestError(
                    405,
                    f"The HTTP method '{method}' is not allowed: generic inquiries are read-only.",
                )
            if is_metadata:
                status, out_headers, body = self._metadata(family)
            else:
                json_headers, note, ieee754 = self._negotiate(family, query, hdrs)
                with self._lock:
                    self._commit_due()
                    if path.rstrip("/") == "":
                        body = self._service_document(family, root)
                    else:
                        body = self._query(family, root, path, query, ieee754)
                status, out_headers = 200, json_headers
                if note:
                    out_headers["X-Simulator-Note"] = note
        except _RequestError as exc:
            status, out_headers, body = self._error(family, exc.status, exc.message)
        if method.upper() == "HEAD":
            body = b""
        return status, out_headers, body

    # -- internals -----------------------------------------------------------------------------

    def _lookup(self, name: str) -> Inquiry | None:
        inq = self._by_title.get(name)
        if inq is None:
            inq = next((i for i in self._inquiries if i.type_name == name), None)
        return inq

    def _require(self, name: str) -> Inquiry:
        inq = self._lookup(name)
        if inq is None:
            raise KeyError(f"unknown generic inquiry {name!r}; known: {self.inquiry_names()}")
        return inq

    def _append(self, inq: Inquiry, values: dict[str, Any], rid: int | None = None) -> _Row:
        """Add a row (``rid``: one reserved earlier by a transaction, else the next)."""
        if rid is None:
            rid = inq.generated
            inq.generated += 1
        row = _Row(rid, values)
        row.order = self._order_key(inq, row)
        inq.rows.append(row)
        return row

    def _order_key(self, inq: Inquiry, row: _Row) -> bytes:
        text = f"{self.seed}|{inq.title}|{row.rid}|{row.version}"
        return hashlib.blake2b(text.encode(), digest_size=8).digest()

    @staticmethod
    def _key_of(inq: Inquiry, row: _Row) -> dict[str, Any]:
        if not inq.keys:
            return {"_row": row.rid}
        return {k: row.values[k] for k in inq.keys}

    @staticmethod
    def _default_root(family: str, tenant: str | None, hdrs: Mapping[str, str]) -> str:
        host = hdrs.get("host", "localhost")
        if family == "v4":
            return f"http://{host}/t/{quote(tenant or '')}/api/odata/gi/"
        return f"http://{host}/odata/" + (f"{quote(tenant)}/" if tenant else "")

    @staticmethod
    def _content_type(family: str, ieee754: bool = False) -> dict[str, str]:
        if family == "v4":
            return {
                "Content-Type": "application/json; odata.metadata=minimal; odata.streaming=true; "
                f"IEEE754Compatible={'true' if ieee754 else 'false'}; charset=utf-8",
                "OData-Version": "4.0",
            }
        return {
            "Content-Type": "application/json;odata=minimalmetadata;streaming=true;charset=utf-8",
            "DataServiceVersion": "3.0;",
        }

    def _negotiate(
        self, family: str, query: Mapping[str, str], hdrs: Mapping[str, str]
    ) -> tuple[dict[str, str], str, bool]:
        """Pick the JSON flavour (headers, a note, and whether v4 numbers are written as
        strings: IEEE754Compatible); refuse Atom/XML, which this simulator never writes."""
        fmt = query.get("$format", "").strip().lower()
        accept = hdrs.get("accept", "").lower()
        wanted = fmt or accept
        note = ""
        if fmt:
            if "json" not in fmt:
                raise _RequestError(
                    406,
                    f"Unsupported $format '{query['$format']}': only JSON "
                    "is served (Atom/XML is not simulated).",
                )
        elif (
            accept
            and "json" not in accept
            and "*/*" not in accept
            and "application/*" not in accept
        ):
            raise _RequestError(
                406,
                f"Unsupported Accept '{hdrs['accept']}': only JSON "
                "is served (Atom/XML is not simulated).",
            )
        if family == "v3" and "json" not in wanted:
            note = (
                "Acumatica's OData v3 answers Atom XML by default; this simulator answers "
                "JSON. Send $format=json or Accept: application/json."
            )
        ieee754 = family == "v4" and "ieee754compatible=true" in wanted.replace(" ", "")
        return self._content_type(family, ieee754), note, ieee754

    def _error(self, family: str, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        if family == "v4":
            body = {"error": {"code": "", "message": message}}
        else:
            body = {"odata.error": {"code": "", "message": {"lang": "en-US", "value": message}}}
        return status, self._content_type(family), json.dumps(body).encode()

    def _service_document(self, family: str, root: str) -> bytes:
        names = self.inquiry_names()
        if family == "v4":
            doc: dict[str, Any] = {
                "@odata.context": root + "$metadata",
                "value": [{"name": n, "kind": "EntitySet", "url": n} for n in names],
            }
        else:
            doc = {
                "odata.metadata": root + "$metadata",
                "value": [{"name": n, "url": n} for n in names],
            }
        return json.dumps(doc, ensure_ascii=False).encode()

    def _metadata(self, family: str) -> tuple[int, dict[str, str], bytes]:
        ns = "GenericInquiry"
        lines = ['<?xml version="1.0" encoding="utf-8"?>']
        if family == "v4":
            lines += [
                '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
                "  <edmx:DataServices>",
                f'    <Schema Namespace="{ns}" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
            ]
        else:
            lines += [
                '<edmx:Edmx Version="1.0" '
                'xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">',
                '  <edmx:DataServices m:DataServiceVersion="3.0" m:MaxDataServiceVersion="3.0" '
                'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">',
                f'    <Schema Namespace="{ns}" '
                'xmlns="http://schemas.microsoft.com/ado/2009/11/edm">',
            ]
        for inq in self._inquiries:
            lines.append(f"      <EntityType Name={quoteattr(inq.type_name)}>")
            if inq.keys:
                lines.append("        <Key>")
                lines += [f'          <PropertyRef Name="{k}"/>' for k in inq.keys]
                lines.append("        </Key>")
            for col in inq.columns:
                nullable = "" if col.nullable else ' Nullable="false"'
                lines.append(
                    f'        <Property Name="{col.name}" Type="{col.edm(family)}"{nullable}/>'
                )
            lines.append("      </EntityType>")
        functions = [inq for inq in self._inquiries if inq.parameters]
        if family == "v4":
            for inq in functions:
                lines.append(f"      <Function Name={quoteattr(inq.title)}>")
                lines += [
                    f'        <Parameter Name="{p}" Type="Edm.String"/>' for p, _ in inq.parameters
                ]
                lines.append(
                    f'        <ReturnType Type="Collection({ns}.{inq.type_name})" '
                    'Nullable="false"/>'
                )
                lines.append("      </Function>")
            lines.append('      <EntityContainer Name="Default">')
        else:
            lines.append('      <EntityContainer Name="Default" m:IsDefaultEntityContainer="true">')
        for inq in self._inquiries:
            lines.append(
                f"        <EntitySet Name={quoteattr(inq.title)} "
                f'EntityType="{ns}.{inq.type_name}"/>'
            )
        for inq in functions:
            if family == "v4":
                lines.append(
                    f'        <FunctionImport Name="{inq.function_import}" '
                    f"Function={quoteattr(ns + '.' + inq.title)} "
                    f"EntitySet={quoteattr(inq.title)}/>"
                )
            else:
                lines.append(
                    f'        <FunctionImport Name="{inq.function_import}" '
                    f'ReturnType="Collection({ns}.{inq.type_name})" '
                    f'EntitySet={quoteattr(inq.title)} m:HttpMethod="GET">'
                )
                lines += [
                    f'          <Parameter Name="{p}" Type="Edm.String" Mode="In"/>'
                    for p, _ in inq.parameters
                ]
                lines.append("        </FunctionImport>")
        lines += [
            "      </EntityContainer>",
            "    </Schema>",
            "  </edmx:DataServices>",
            "</edmx:Edmx>",
            "",
        ]
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        headers.update(
            {"OData-Version": "4.0"} if family == "v4" else {"DataServiceVersion": "3.0;"}
        )
        return 200, headers, "\n".join(lines).encode()

    # -- data requests -------------------------------------------------------------------------

    def _resolve(
        self, family: str, path: str, query: Mapping[str, str]
    ) -> tuple[Inquiry, dict[str, str]]:
        """Entity set or `<Type>_WithParameters` call -> (inquiry, parameter values)."""
        name, sep, rest = path.partition("/")
        if sep and rest.strip("/"):
            if rest.strip("/") == "$count":
                raise _RequestError(
                    501, "Counting ($count) is not supported for generic inquiries."
                )
            raise _RequestError(404, f"Resource not found for the segment '{rest}'.")
        m = re.fullmatch(r"(.+?)(?:\((.*)\))?", name, re.DOTALL)
        assert m is not None
        base, args = m.group(1), m.group(2)
        inq = self._by_title.get(base)
        if inq is not None:
            self._check_access(inq)
            if args is not None:
                raise _RequestError(
                    501,
                    f"Key lookups on '{base}' are not supported for "
                    "generic inquiries; use $filter.",
                )
            return inq, {}
        inq = self._by_function.get(base)
        if inq is None:
            raise _RequestError(404, f"Resource not found for the segment '{base}'.")
        self._check_access(inq)
        if family == "v4":
            if args is None:
                raise _RequestError(
                    400,
                    f"The function '{base}' must be called with "
                    "parentheses, e.g. "
                    f"{base}(Warehouse='MAIN').",
                )
            raw = self._parse_call_args(args, query)
        else:
            if args not in (None, ""):
                raise _RequestError(
                    400,
                    f"Service operation '{base}' takes its parameters "
                    "in the query string, e.g. ?Warehouse='MAIN'.",
                )
            allowed = {p for p, _ in inq.parameters}
            raw = {k: v for k, v in query.items() if k in allowed}
        params: dict[str, str] = {}
        known = dict(inq.parameters)
        for pname, literal in raw.items():
            if pname not in known:
                raise _RequestError(
                    400, f"The parameter '{pname}' is not defined for the function '{inq.title}'."
                )
            value = self._string_literal(literal, pname)
            if value:
                params[pname] = value
        return inq, params

    def _parse_call_args(self, args: str, query: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        pos = 0
        arg_re = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*('(?:[^']|'')*'|@\w+|[^,)\s]+)\s*(,|$)")
        while pos < len(args):
            m = arg_re.match(args, pos)
            if m is None:
                raise _RequestError(400, f"Bad function call syntax near '{args[pos:]}'.")
            pname, literal = m.group(1), m.group(2)
            if literal.startswith("@"):
                if literal not in query:
                    raise _RequestError(400, f"Parameter alias '{literal}' has no value.")
                literal = query[literal]
            if pname in out:
                raise _RequestError(400, f"The parameter '{pname}' is given twice.")
            out[pname] = literal
            pos = m.end()
        return out

    @staticmethod
    def _string_literal(literal: str, pname: str) -> str:
        text = literal.strip()
        if text == "null":
            return ""
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1].replace("''", "'")
        raise _RequestError(
            400,
            f"The value {literal!r} of parameter '{pname}' is not an "
            "Edm.String literal; quote it: 'value'.",
        )

    def _check_access(self, inq: Inquiry) -> None:
        if inq.title in self._forbidden:
            raise _RequestError(
                403,
                f"The generic inquiry '{inq.title}' is not accessible: it "
                "is not exposed via OData or you have insufficient rights.",
            )

    def _query(
        self,
        family: str,
        root: str,
        path: str,
        query: Mapping[str, str],
        ieee754: bool,
    ) -> bytes:
        for opt in query:
            if not opt.startswith("$") or opt in self._SUPPORTED:
                continue
            if opt == "$expand":
                raise _RequestError(
                    400,
                    "The query option $expand is not supported: generic "
                    "inquiries have no navigation properties.",
                )
            if opt in ("$count", "$inlinecount"):
                if query[opt].strip().lower() in ("false", "none"):
                    continue
                raise _RequestError(
                    501, f"The query option {opt} is not supported for generic inquiries."
                )
            raise _RequestError(400, f"The query option '{opt}' is not supported.")
        inq, params = self._resolve(family, path, query)
        type_ref = f"GenericInquiry.{inq.type_name}"

        def column(name: str, purpose: str) -> Column:
            col = inq.column(name)
            if col is None:
                raise _RequestError(
                    400, f"Could not find a property named '{name}' on type '{type_ref}'."
                )
            if col.calculated and purpose in ("filter", "sort"):
                raise _RequestError(
                    400,
                    f"The field '{name}' is a calculated field of "
                    f"'{inq.title}' and cannot be used to {purpose}.",
                )
            return col

        top = self._non_negative(query, "$top")
        skip = self._non_negative(query, "$skip") or 0
        select = [c.name for c in inq.columns]
        raw_select = query.get("$select", "").strip()
        if raw_select and raw_select != "*":
            select = []
            for part in raw_select.split(","):
                name = part.strip()
                if name == "*":
                    select = [c.name for c in inq.columns]
                    break
                column(name, "select")
                if name not in select:
                    select.append(name)
        order: list[tuple[str, bool]] = []
        for part in filter(None, (p.strip() for p in query.get("$orderby", "").split(","))):
            m = re.fullmatch(r"(\S+)(?:\s+(asc|desc))?", part)
            if m is None:
                raise _RequestError(400, f"Syntax error in $orderby at '{part}'.")
            order.append((column(m.group(1), "sort").name, m.group(2) == "desc"))

        rows = inq.rows
        for pname, value in params.items():
            col_name = dict(inq.parameters)[pname]
            wanted = value.rstrip(" ").casefold()
            rows = [
                r for r in rows if str(r.values[col_name] or "").rstrip(" ").casefold() == wanted
            ]
        raw_filter = query.get("$filter", "").strip()
        if raw_filter:
            try:
                flt = parse_filter(raw_filter, dialect="odata" + family[1], local_tz=self.tz)
            except FilterSyntaxError as exc:
                raise _RequestError(400, str(exc)) from None
            for name in sorted(flt.fields):
                col = column(name, "filter")
                for kind in sorted(flt.literal_kinds.get(name, ())):
                    if not col.accepts(kind, family):
                        raise _RequestError(
                            400,
                            "A binary operator with incompatible types was detected. "
                            f"Found operand types '{col.edm(family)}' and "
                            f"'{_LITERAL_EDM.get(kind, kind)}' for the property '{name}'.",
                        )
            rows = [r for r in rows if flt.matches(r.values.__getitem__)]
        rows = sorted(rows, key=lambda r: r.order)
        for name, desc in reversed(order):
            rows.sort(key=lambda r, n=name: _sort_key(r.values[n]), reverse=desc)
        rows = rows[skip:] if top is None else rows[skip : skip + top]

        cols = tuple(c for c in inq.columns if c.name in select)
        context = root + "$metadata#" + quote(inq.title, safe="")
        if raw_select and raw_select != "*":
            context += f"({','.join(select)})" if family == "v4" else f"&$select={','.join(select)}"
        key = "@odata.context" if family == "v4" else "odata.metadata"
        body = ",".join(self._row_json(inq, r.values, cols, family, ieee754=ieee754) for r in rows)
        return f'{{{json.dumps(key)}:{json.dumps(context)},"value":[{body}]}}'.encode()

    def _row_json(
        self,
        inq: Inquiry,
        values: Mapping[str, Any],
        cols: tuple[Column, ...],
        family: str,
        *,
        ieee754: bool,
        truth: bool = False,
    ) -> str:
        parts = []
        for col in cols:
            text = _render(col, values[col.name], family, self.tz, ieee754=ieee754)
            if truth and col.type == "Decimal" and not text.startswith(('"', "n")):
                text = json.dumps(text)
            parts.append(f"{json.dumps(col.name)}:{text}")
        return "{" + ",".join(parts) + "}"

    @staticmethod
    def _non_negative(query: Mapping[str, str], opt: str) -> int | None:
        raw = query.get(opt)
        if raw is None or raw.strip() == "":
            return None
        if not re.fullmatch(r"\d+", raw.strip()):
            raise _RequestError(
                400,
                f"Invalid value '{raw}' for {opt} query option found. "
                f"The {opt} query option requires a non-negative integer "
                "value.",
            )
        return int(raw)


def _sort_key(value: Any) -> tuple[Any, ...]:
    """SQL Server order: NULL lowest, strings case-insensitive ignoring trailing spaces."""
    if value is None:
        return (0,)
    if isinstance(value, str):
        return (1, value.rstrip(" ").casefold())
    if isinstance(value, date) and not isinstance(value, datetime):
        return (1, value.toordinal())
    return (1, value)
