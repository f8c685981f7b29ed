"""DAC-based OData v4: every data access class (table) of the tenant as an entity set.

Two URL families, one data set (facts: ../shared/docs/ACUMATICA_DAC_ODATA.md):

* ``<base>/t/<tenant>/api/odata/dac/<subpath>`` (Acumatica's paths since 2024-05);
* ``<base>/ODatav4/<tenant?>/<subpath>`` (legacy; the tenant segment may be left out, as
  Acumatica's 2021 collection does). Both prefixes match in any letter case (IIS).

What is modelled, and why:

* A DAC is addressable under its qualified name (``PX_Objects_SO_SOOrder``), its display
  name and its short name (``SOOrder``) - the same data [DG]. ``$metadata`` (EDMX 4.0) has
  one EntityType per DAC in a Schema per namespace, one EntitySet per name, ``<Key>``,
  ``NavigationProperty <Type>By<Field>`` / ``<Detail>Collection`` with
  ReferentialConstraint, and ``BaseType`` (Customer : BAccount lists only its own fields
  and no ``<Key>``: the key is inherited) [FT, unverified].
* Values like the recorded responses: CHAR columns space-padded (``"AALEGO500 "``),
  decimals JSON numbers keeping their scale (strings with ``IEEE754Compatible=true``, as
  are Int64), DateTimeOffset with varying offsets (one instant; ``Z`` for UTC, fractions
  trimmed: ``2022-09-14T21:26:36.33Z``), NoteID Guid, ``tstamp`` Edm.Binary (base64 of the
  8-byte SQL rowversion, *decision*: the encoding is not documented).
* Without ``$orderby`` rows come sorted by the key fields ascending [DG]. ``$orderby``
  ties are broken by an internal hash of (row, version), not by the key: SQL Server gives
  no order among ties, so a client must order by a unique column set to page safely.
  Strings compare as SQL Server does (case-insensitive, trailing spaces ignored).
* Property names in ``$select``/``$filter``/``$orderby`` match case-insensitively; the
  response uses the metadata's casing (the recorded ``EMail`` asked as ``Email``).
* Deletion tracking (SM207010) for the DACs listed in ``tracking``:
  ``<set>/px.GetDeletedRecords()`` answers ``{NoteID, DeleteDate}`` of removed rows kept
  ``retention_days`` (default 10) [DG]; the field names are a *decision* (DG: "NoteID and
  removal time"; [FT] says RefNoteID). On a DAC without tracking it answers 400
  "Deleted records tracking is not enabled …" (*decision*: Acumatica's text is unknown).
* Soft delete: DACs with ``DeletedDatabaseRecord`` (BAccount and so Customer) keep removed
  rows, hidden unless the request has header ``PX-ApiDeleted: SHOW`` [DG]. A soft delete
  bumps ``LastModifiedDateTime`` (*decision*: otherwise no incremental reader could see it).
* Auth is the server's (HTTP Basic per request, Bearer, or a session cookie). A DAC in
  ``forbidden`` (``"*"``: all, as for a user without the role "OData4 User" and without
  screen rights) answers 403 ``You do not have access to this entity set.`` ([DS],
  unverified) but stays in ``$metadata``.
* Not modelled (answered 501 so a client relying on them notices): ``$expand``, key
  lookups ``SOOrder(OrderType='SO',OrderNbr='000058')``; ``$count`` is a 400 like any
  other unsupported option; no ``@odata.nextLink`` (Acumatica's page limits are silent).
* Archived documents (option ``archive`` of the simulator, archive.py): SOOrder, SOLine and
  ARInvoice rows the policy archives are hidden unless the request has header
  ``PX-ApiArchive: SHOW`` [DG], and never changed by ``mutate``.
* ``synthetic_types: N`` adds N generated entity types (about 8 KB of EDMX each, so 2,500
  give ~20 MB, the size of a real 2026 R2 document) to ``$metadata`` for the discovery
  benchmark; they hold no rows.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import quoteattr

from .archive import Policy, shows_archived
from .filtering import FilterSyntaxError, parse_filter

__all__ = ["Dac", "DacService", "Prop", "is_dac_path"]

DEFAULT_OPTIONS: dict[str, Any] = {
    "sizes": {},  # short DAC name -> rows
    "forbidden": [],  # short names answering 403; "*" = every DAC
    "tracking": ["SOOrder", "SOLine", "ARInvoice", "BAccount", "Customer"],
    "retention_days": 10,
    "synthetic_types": 0,
    "offsets": [0, -240, 180, 330],  # minutes: how date-times are written
}
_DEFAULT_SIZES = {
    "SOOrder": 300,
    "SOLine": 900,
    "BAccount": 200,
    "InventoryItem": 120,
    "ARInvoice": 250,
    "INSiteStatus": 150,
}


@dataclass(frozen=True)
class Prop:
    name: str
    type: str  # String Int16 Int32 Int64 Byte Decimal Double Single Boolean DateTimeOffset Guid Binary
    nullable: bool = True
    pad: int = 0  # CHAR(n): values stored space-padded
    scale: int = 0

    @property
    def edm(self) -> str:
        return "Edm." + self.type


@dataclass
class Dac:
    namespace: str
    name: str
    display: str
    keys: tuple[str, ...]
    props: tuple[Prop, ...]  # own properties (a derived DAC lists only what it adds)
    navs: tuple[tuple[str, str, str, str], ...] = ()  # (name, type, property, referenced)
    base: Dac | None = None
    soft_delete: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.namespace}.{self.name}".replace(".", "_")

    @property
    def type_ref(self) -> str:
        return f"{self.namespace}.{self.name}"

    @property
    def all_props(self) -> tuple[Prop, ...]:
        return (self.base.all_props if self.base else ()) + self.props

    @property
    def all_keys(self) -> tuple[str, ...]:
        return self.keys or (self.base.all_keys if self.base else ())

    @property
    def table(self) -> str:
        """Rows live in the root DAC's table (Customer rows are BAccount rows)."""
        return self.base.table if self.base else self.name


@dataclass
class _Row:
    values: dict[str, Any]
    version: int = 0
    deleted: bool = False
    order: bytes = b""
    archived: bool = False


@dataclass
class _Table:
    rows: dict[tuple, _Row] = field(default_factory=dict)
    generated: int = 0
    removed: list[tuple[str, datetime]] = field(default_factory=list)  # (NoteID, DeleteDate)
    sorted_cache: list[_Row] | None = None


class _Error(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- the DACs ---------------------------------------------------------------------------------


def _audit(soft: bool = False) -> tuple[Prop, ...]:
    props = [
        Prop("NoteID", "Guid"),
        Prop("CreatedByID", "Guid", nullable=False),
        Prop("CreatedDateTime", "DateTimeOffset", nullable=False),
        Prop("LastModifiedByID", "Guid", nullable=False),
        Prop("LastModifiedByScreenID", "String", nullable=False, pad=8),
        Prop("LastModifiedDateTime", "DateTimeOffset", nullable=False),
    ]
    if soft:
        props.append(Prop("DeletedDatabaseRecord", "Boolean", nullable=False))
    props.append(Prop("tstamp", "Binary"))
    return tuple(props)


def build_dacs() -> list[Dac]:
    users = ("UsersByCreatedByID", "PX.SM.Users", "CreatedByID", "PKID")
    baccount = Dac(
        "PX.Objects.CR",
        "BAccount",
        "BusinessAccount",
        ("BAccountID",),
        (
            Prop("BAccountID", "Int32", nullable=False),
            Prop("AcctCD", "String", nullable=False, pad=10),
            Prop("AcctName", "String"),
            Prop("Type", "String", nullable=False, pad=2),
            Prop("Status", "String", pad=1),
            Prop("ParentBAccountID", "Int32"),
            Prop("DefContactID", "Int32"),
            Prop("DefAddressID", "Int32"),
            *_audit(soft=True),
        ),
        (users, ("ContactByDefContactID", "PX.Objects.CR.Contact", "DefContactID", "ContactID")),
        soft_delete=True,
    )
    customer = Dac(
        "PX.Objects.AR",
        "Customer",
        "Customer",
        (),
        (
            Prop("CustomerClassID", "String", pad=10),
            Prop("CreditLimit", "Decimal", scale=4),
            Prop("TermsID", "String", pad=10),
            Prop("CuryID", "String", pad=5),
            Prop("DefBillContactID", "Int32"),
            Prop("PrintInvoices", "Boolean", nullable=False),
        ),
        (
            (
                "BAccountByParentBAccountID",
                "PX.Objects.CR.BAccount",
                "ParentBAccountID",
                "BAccountID",
            ),
            ("ContactByDefBillContactID", "PX.Objects.CR.Contact", "DefBillContactID", "ContactID"),
        ),
        base=baccount,
        soft_delete=True,
    )
    soorder = Dac(
        "PX.Objects.SO",
        "SOOrder",
        "SalesOrder",
        ("OrderType", "OrderNbr"),
        (
            Prop("OrderType", "String", nullable=False, pad=2),
            Prop("OrderNbr", "String", nullable=False, pad=15),
            Prop("CustomerID", "Int32"),
            Prop("OrderDate", "DateTimeOffset"),
            Prop("Status", "String", pad=1),
            Prop("Hold", "Boolean", nullable=False),
            Prop("LineCntr", "Int32", nullable=False),
            Prop("OrderQty", "Decimal", scale=6),
            Prop("CuryOrderTotal", "Decimal", scale=4),
            Prop("CuryInfoID", "Int64"),
            Prop("GotReadyForArchiveAt", "DateTimeOffset"),
            *_audit(),
        ),
        (
            users,
            ("CustomerByCustomerID", "PX.Objects.AR.Customer", "CustomerID", "BAccountID"),
            ("SOLineCollection", "Collection(PX.Objects.SO.SOLine)", "", ""),
        ),
    )
    soline = Dac(
        "PX.Objects.SO",
        "SOLine",
        "SalesOrderLine",
        ("OrderType", "OrderNbr", "LineNbr"),
        (
            Prop("OrderType", "String", nullable=False, pad=2),
            Prop("OrderNbr", "String", nullable=False, pad=15),
            Prop("LineNbr", "Int32", nullable=False),
            Prop("SortOrder", "Int16"),
            Prop("InventoryID", "Int32"),
            Prop("TranDesc", "String"),
            Prop("OrderQty", "Decimal", scale=6),
            Prop("CuryUnitPrice", "Decimal", scale=6),
            Prop("CuryLineAmt", "Decimal", scale=4),
            Prop("DiscPct", "Decimal", scale=6),
            Prop("IsFree", "Boolean", nullable=False),
            *_audit(),
        ),
        (
            users,
            ("SOOrderByOrderType", "PX.Objects.SO.SOOrder", "OrderType", "OrderType"),
            (
                "InventoryItemByInventoryID",
                "PX.Objects.IN.InventoryItem",
                "InventoryID",
                "InventoryID",
            ),
        ),
    )
    inventory = Dac(
        "PX.Objects.IN",
        "InventoryItem",
        "StockItem",
        ("InventoryID",),
        (
            Prop("InventoryID", "Int32", nullable=False),
            Prop("InventoryCD", "String", nullable=False, pad=10),
            Prop("Descr", "String"),
            Prop("ItemStatus", "String", pad=2),
            Prop("StkItem", "Boolean", nullable=False),
            Prop("BaseUnit", "String", pad=6),
            Prop("BasePrice", "Decimal", scale=6),
            Prop("BaseWeight", "Double"),
            Prop("MarkupPct", "Single"),
            Prop("ValMethod", "String", pad=1),
            Prop("CycleDays", "Byte"),
            *_audit(),
        ),
        (
            users,
            ("INSiteStatusCollection", "Collection(PX.Objects.IN.INSiteStatus)", "", ""),
        ),
    )
    invoice = Dac(
        "PX.Objects.AR",
        "ARInvoice",
        "ARInvoice",
        ("DocType", "RefNbr"),
        (
            Prop("DocType", "String", nullable=False, pad=3),
            Prop("RefNbr", "String", nullable=False, pad=15),
            Prop("CustomerID", "Int32"),
            Prop("DocDate", "DateTimeOffset"),
            Prop("DueDate", "DateTimeOffset"),
            Prop("Status", "String", pad=1),
            Prop("Released", "Boolean", nullable=False),
            Prop("FinPeriodID", "String", pad=6),
            Prop("CuryOrigDocAmt", "Decimal", scale=4),
            Prop("CuryDocBal", "Decimal", scale=4),
            Prop("CuryInfoID", "Int64"),
            Prop("LineCntr", "Int16"),
            *_audit(),
        ),
        (users, ("CustomerByCustomerID", "PX.Objects.AR.Customer", "CustomerID", "BAccountID")),
    )
    # An accumulator table: no audit fields, so no LastModifiedDateTime (read in full).
    site_status = Dac(
        "PX.Objects.IN",
        "INSiteStatus",
        "INSiteStatus",
        ("InventoryID", "SubItemID", "SiteID"),
        (
            Prop("InventoryID", "Int32", nullable=False),
            Prop("SubItemID", "Int32", nullable=False),
            Prop("SiteID", "Int32", nullable=False),
            Prop("QtyOnHand", "Decimal", scale=6),
            Prop("QtyAvail", "Decimal", scale=6),
            Prop("tstamp", "Binary"),
        ),
        (
            (
                "InventoryItemByInventoryID",
                "PX.Objects.IN.InventoryItem",
                "InventoryID",
                "InventoryID",
            ),
        ),
    )
    return [baccount, customer, soorder, soline, inventory, invoice, site_status]


# --- deterministic rows -----------------------------------------------------------------------

_NAMES = ["Jersey Central", "Microchip", "Jevy Computers", "KRK Consulting", "O'Hara & Sons"]
_NOUNS = ["Office Equip", "Restaurant", "Trading", "Service", "Zürich AG", "Foods"]


def _money(rng: random.Random, lo: float, hi: float, scale: int) -> Decimal:
    return Decimal(str(round(rng.uniform(lo, hi), 2))).quantize(Decimal(1).scaleb(-scale))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class _Maker:
    """Row values of each root table from (seed, table, index)."""

    def __init__(self, seed: int, anchor: datetime) -> None:
        self.seed = seed
        self.anchor = anchor
        rng = random.Random(f"{seed}:dac:bulk")
        self.bulk = [
            _ms(anchor - timedelta(seconds=rng.uniform(3600, 600 * 86400))) for _ in range(3)
        ]
        self.admin = _guid(random.Random(f"{seed}:admin"))

    def stamp(self, rng: random.Random) -> datetime:
        if rng.random() < 0.15:  # bulk imports: many rows share one stamp
            return rng.choice(self.bulk)
        return _ms(self.anchor - timedelta(seconds=rng.uniform(60, 700 * 86400)))

    def audit(self, rng: random.Random, stamp: datetime, soft: bool) -> dict[str, Any]:
        out = {
            "NoteID": _guid(rng),
            "CreatedByID": self.admin,
            "CreatedDateTime": _ms(stamp - timedelta(seconds=rng.uniform(0, 90 * 86400))),
            "LastModifiedByID": self.admin,
            "LastModifiedByScreenID": rng.choice(["SO301000", "AR303000", "IN202500", "00000000"]),
            "LastModifiedDateTime": stamp,
        }
        if soft:
            out["DeletedDatabaseRecord"] = False
        return out

    def make(self, table: str, i: int) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{table}:{i}")
        stamp = self.stamp(rng)
        if table == "BAccount":
            customer = rng.random() < 0.8
            values = {
                "BAccountID": 100 + i,
                "AcctCD": f"{'C' if customer else 'V'}{i + 1:06d}",
                "AcctName": f"{rng.choice(_NAMES)} {rng.choice(_NOUNS)}",
                "Type": "CU" if customer else "VE",
                "Status": rng.choice("AAAHI"),
                "ParentBAccountID": None if rng.random() < 0.9 else 100 + rng.randrange(max(1, i)),
                "DefContactID": 5000 + 2 * i,
                "DefAddressID": 5001 + 2 * i,
                **self.audit(rng, stamp, soft=True),
            }
            if customer:
                values.update(
                    CustomerClassID=rng.choice(["DEFAULT", "INTL", "LOCAL"]),
                    CreditLimit=_money(rng, 0, 50000, 4),
                    TermsID=rng.choice(["30D", "COD", "15D"]),
                    CuryID="USD",
                    DefBillContactID=5000 + 2 * i,
                    PrintInvoices=rng.random() < 0.5,
                )
            return values
        if table == "SOOrder":
            return {
                "OrderType": rng.choice(["SO", "SO", "QT", "RC"]),
                "OrderNbr": f"{i + 1:06d}",
                "CustomerID": 100 + rng.randrange(200),
                "OrderDate": _ms(stamp - timedelta(days=rng.randint(0, 30))).replace(
                    hour=0, minute=0, second=0, microsecond=0
                ),
                "Status": rng.choice("NHCSL"),
                "Hold": rng.random() < 0.2,
                "LineCntr": rng.randint(1, 9),
                "OrderQty": _money(rng, 1, 500, 6),
                "CuryOrderTotal": _money(rng, 10, 25000, 4),
                "CuryInfoID": 9_007_199_254_740_993 + 7 * i,
                "GotReadyForArchiveAt": None,
                **self.audit(rng, stamp, soft=False),
            }
        if table == "SOLine":
            order, line = divmod(i, 3)
            return {
                "OrderType": "SO",
                "OrderNbr": f"{order + 1:06d}",
                "LineNbr": line + 1,
                "SortOrder": line + 1,
                "InventoryID": 10 + rng.randrange(120),
                "TranDesc": rng.choice(
                    ["Lego 500 piece set", 'Cable 3" "shielded"', "Café crème", None]
                ),
                "OrderQty": _money(rng, 1, 100, 6),
                "CuryUnitPrice": _money(rng, 1, 999, 6),
                "CuryLineAmt": _money(rng, 1, 9999, 4),
                "DiscPct": _money(rng, 0, 20, 6),
                "IsFree": rng.random() < 0.05,
                **self.audit(rng, stamp, soft=False),
            }
        if table == "InventoryItem":
            return {
                "InventoryID": 10 + i,
                "InventoryCD": f"{rng.choice(['AALEGO', 'COMP', 'CONB'])}{i:03d}",
                "Descr": f"Item {i}, {rng.choice(['500 pieces', 'blue', 'kit'])}",
                "ItemStatus": rng.choice(["AC", "AC", "IN", "NS"]),
                "StkItem": rng.random() < 0.7,
                "BaseUnit": rng.choice(["PIECE", "EA", "BOX"]),
                "BasePrice": _money(rng, 1, 999, 6),
                "BaseWeight": round(rng.uniform(0, 50), 3),
                "MarkupPct": rng.choice([0.0, 12.5, 25.0, 7.25]),
                "ValMethod": rng.choice("ASF"),
                "CycleDays": rng.randint(0, 255),
                **self.audit(rng, stamp, soft=False),
            }
        if table == "ARInvoice":
            doc = _ms(stamp - timedelta(days=rng.randint(0, 60))).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            total = _money(rng, 10, 90000, 4)
            return {
                "DocType": rng.choice(["INV", "INV", "CRM", "DRM"]),
                "RefNbr": f"AR{i + 1:06d}",
                "CustomerID": 100 + rng.randrange(200),
                "DocDate": doc,
                "DueDate": doc + timedelta(days=30),
                "Status": rng.choice("NBOC"),
                "Released": rng.random() < 0.6,
                "FinPeriodID": doc.strftime("%Y%m"),
                "CuryOrigDocAmt": total,
                "CuryDocBal": total if rng.random() < 0.5 else Decimal("0.0000"),
                "CuryInfoID": 9_007_199_254_740_993 + 11 * i,
                "LineCntr": rng.randint(1, 30),
                **self.audit(rng, stamp, soft=False),
            }
        if table == "INSiteStatus":
            item, site = divmod(i, 3)
            qty = Decimal(rng.randint(0, 2500)).quantize(Decimal("0.000001"))
            return {
                "InventoryID": 10 + item,
                "SubItemID": 0,
                "SiteID": 1 + site,
                "QtyOnHand": qty,
                "QtyAvail": (qty * Decimal("0.9")).quantize(Decimal("0.000001")),
            }
        raise KeyError(table)

    def touch(self, table: str, rng: random.Random, values: dict[str, Any]) -> None:
        if table == "BAccount":
            values["AcctName"] = f"{rng.choice(_NAMES)} {rng.choice(_NOUNS)}"
            values["Status"] = rng.choice("AHI")
        elif table == "SOOrder":
            values["Status"] = rng.choice("NHCSL")
            values["CuryOrderTotal"] = _money(rng, 10, 25000, 4)
        elif table == "SOLine":
            values["OrderQty"] = _money(rng, 1, 100, 6)
        elif table == "InventoryItem":
            values["Descr"] = f"Item changed {rng.randint(0, 999)}"
        elif table == "ARInvoice":
            values["CuryDocBal"] = Decimal("0.0000")
            values["Status"] = "C"
        elif table == "INSiteStatus":
            values["QtyOnHand"] = Decimal(rng.randint(0, 2500)).quantize(Decimal("0.000001"))


# --- rendering --------------------------------------------------------------------------------


def _render(prop: Prop, value: Any, offset_minutes: int, ieee754: bool) -> str:
    if value is None:
        return "null"
    kind = prop.type
    if kind == "Decimal":
        text = str(Decimal(value).quantize(Decimal(1).scaleb(-prop.scale)))
        return json.dumps(text) if ieee754 else text
    if kind == "Int64":
        return json.dumps(str(value)) if ieee754 else str(int(value))
    if kind == "DateTimeOffset":
        local = value.astimezone(timezone(timedelta(minutes=offset_minutes)))
        frac = f"{local.microsecond:06d}".rstrip("0")
        text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "")
        if offset_minutes == 0:
            text += "Z"
        else:
            sign = "-" if offset_minutes < 0 else "+"
            text += f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
        return json.dumps(text)
    if kind == "String" and prop.pad:
        return json.dumps(str(value).ljust(prop.pad), ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def _sort_key(value: Any) -> tuple[Any, ...]:
    """SQL Server order: NULL lowest, strings case-insensitive ignoring trailing spaces."""
    if value is None:
        return (0,)
    if isinstance(value, str):
        return (1, value.rstrip(" ").casefold())
    return (1, value)


def is_dac_path(raw_path: str) -> bool:
    """``t/<tenant>/api/odata/dac…`` or ``odatav4…``, in any letter case (IIS)."""
    parts = raw_path.split("/")
    head = parts[0].lower()
    if head == "odatav4":
        return True
    return head == "t" and [p.lower() for p in parts[2:5]] == ["api", "odata", "dac"]


# --- the service ------------------------------------------------------------------------------


class DacService:
    """Every DAC of the (one) data set, answering both URL families."""

    _SUPPORTED = frozenset(
        ["$top", "$skip", "$filter", "$orderby", "$select", "$format", "$expand"]
    )

    def __init__(
        self,
        *,
        seed: int,
        options: Mapping[str, Any] | None,
        clock: Callable[[], datetime],
        counters: Any,
        archive: Policy | None = None,
    ) -> None:
        unknown = set(options or {}) - set(DEFAULT_OPTIONS)
        if unknown:
            raise ValueError(f"unknown dac options: {sorted(unknown)}")
        self.options = {**DEFAULT_OPTIONS, **dict(options or {})}
        self.seed = seed
        self.clock = clock
        self.counters = counters
        self.archive = archive or Policy(None, seed)
        self.lock = threading.RLock()
        self.dacs = build_dacs()
        self._by_name: dict[str, Dac] = {}
        for dac in self.dacs:
            for name in (dac.qualified, dac.display, dac.name):
                self._by_name.setdefault(name.lower(), dac)
        now = clock().astimezone(timezone.utc)
        self.maker = _Maker(seed, now.replace(hour=0, minute=0, second=0, microsecond=0))
        self.tables: dict[str, _Table] = {}
        self._rowversion = 0x7D0
        self._mutations = 0
        self.live: dict[str, Any] = {}
        self._live_count = 0
        sizes = {**_DEFAULT_SIZES, **self.options["sizes"]}
        for dac in self.dacs:
            if dac.base is None:
                table = self.tables[dac.name] = _Table()
                for _ in range(int(sizes.get(dac.name, 50))):
                    self._insert(dac, table, None)
        self._metadata_cache: bytes | None = None

    # -- rows ----------------------------------------------------------------------------------

    def dac(self, name: str) -> Dac:
        dac = self._by_name.get(name.lower())
        if dac is None:
            raise KeyError(f"unknown DAC {name!r}")
        return dac

    def _root(self, dac: Dac) -> Dac:
        return dac.base if dac.base else dac

    def _next_tstamp(self) -> str:
        self._rowversion += 1
        return base64.b64encode(self._rowversion.to_bytes(8, "big")).decode()

    def _key(self, dac: Dac, values: Mapping[str, Any]) -> tuple:
        return tuple(values[k] for k in self._root(dac).keys)

    def _order(self, table: str, row: _Row) -> bytes:
        text = f"{self.seed}|{table}|{row.values.get('NoteID')}|{row.version}|{id(row)}"
        return hashlib.blake2b(text.encode(), digest_size=8).digest()

    def _insert(self, dac: Dac, table: _Table, stamp: datetime | None) -> _Row:
        values = self.maker.make(dac.name, table.generated)
        table.generated += 1
        if stamp is not None and "LastModifiedDateTime" in values:
            values["LastModifiedDateTime"] = values["CreatedDateTime"] = stamp
        values["tstamp"] = self._next_tstamp()
        row = _Row(values)
        row.order = self._order(dac.name, row)
        if stamp is None and "LastModifiedDateTime" in values:
            # An order's lines are decided with it (hashed as the order), each by its own age.
            table_name = "SOOrder" if dac.name == "SOLine" else dac.name
            ident = values.get("OrderNbr") or values.get("RefNbr")
            modified = int(values["LastModifiedDateTime"].timestamp() * 1000)
            row.archived = self.archive.applies(dac.name) and self.archive.archived(
                table_name, ident, modified
            )
        key = self._key(dac, values)
        table.rows[key] = row
        table.sorted_cache = None
        return row

    def _visible(
        self, dac: Dac, row: _Row, show_deleted: bool, show_archived: bool = False
    ) -> bool:
        if row.deleted and not show_deleted:
            return False
        if row.archived and not show_archived:
            return False
        if dac.base is not None:  # Customer: the BAccount rows that are customers
            return row.values.get("Type") == "CU"
        return True

    def mutate(
        self, name: str, update: int = 0, insert: int = 0, delete: int = 0
    ) -> dict[str, Any]:
        """A user changed, added and removed rows now (stamps: the server's now, ms)."""
        dac = self.dac(name)
        root = self._root(dac)
        with self.lock:
            self._mutations += 1
            rng = random.Random(f"{self.seed}:{dac.name}:mutate:{self._mutations}")
            now = _ms(self.clock().astimezone(timezone.utc))
            table = self.tables[root.name]
            live = [
                (k, r)
                for k, r in table.rows.items()
                if not r.deleted and self._visible(dac, r, False)
            ]
            chosen = rng.sample(live, min(len(live), update + delete))
            updated, deleted = [], []
            for _key, row in chosen[:update]:
                self.maker.touch(root.name, rng, row.values)
                self._bump(row, now)
                row.order = self._order(root.name, row)
                updated.append(self._public_key(dac, row))
            for key, row in chosen[update:]:
                deleted.append({**self._public_key(dac, row), "NoteID": row.values.get("NoteID")})
                if root.soft_delete:
                    row.deleted = True
                    row.values["DeletedDatabaseRecord"] = True
                    self._bump(row, now)
                else:
                    del table.rows[key]
                    table.sorted_cache = None
                if root.name in self.options["tracking"] and row.values.get("NoteID"):
                    table.removed.append((row.values["NoteID"], now))
            inserted = []
            for _ in range(insert):
                row = self._insert(root, table, now)
                if dac.base is not None and row.values["Type"] != "CU":  # a new customer
                    row.values.update(
                        Type="CU",
                        AcctCD="C" + row.values["AcctCD"][1:],
                        CustomerClassID="DEFAULT",
                        CreditLimit=Decimal("0.0000"),
                        TermsID="30D",
                        CuryID="USD",
                        DefBillContactID=row.values["DefContactID"],
                        PrintInvoices=False,
                    )
                inserted.append(self._public_key(dac, row))
            self.counters.incr("mutations")
            return {"updated": updated, "inserted": inserted, "deleted": deleted}

    def _bump(self, row: _Row, now: datetime) -> None:
        row.version += 1
        if "LastModifiedDateTime" in row.values:
            row.values["LastModifiedDateTime"] = now
        row.values["tstamp"] = self._next_tstamp()

    def _public_key(self, dac: Dac, row: _Row) -> dict[str, Any]:
        return {k: row.values[k] for k in dac.all_keys}

    def truth(
        self, name: str, show_deleted: bool = False, show_archived: bool = False
    ) -> list[dict[str, Any]]:
        """Every visible row (all properties) as a v4 response renders it, with decimals as
        strings (exact) and date-times in UTC."""
        dac = self.dac(name)
        with self.lock:
            rows = self._rows(dac, show_deleted, show_archived)
            props = dac.all_props
            return [json.loads(self._row_json(r, props, ieee754=True, offset=0)) for r in rows]

    def deleted(self, name: str) -> list[dict[str, Any]]:
        dac = self.dac(name)
        with self.lock:
            return [
                {"NoteID": n, "DeleteDate": d.isoformat()}
                for n, d in self.tables[dac.table].removed
            ]

    def _rows(self, dac: Dac, show_deleted: bool, show_archived: bool = False) -> list[_Row]:
        table = self.tables[dac.table]
        keys = self._root(dac).keys
        # The clustered index: key order, kept until a row is added or removed.
        if table.sorted_cache is None:
            table.sorted_cache = sorted(
                table.rows.values(), key=lambda r: tuple(_sort_key(r.values[k]) for k in keys)
            )
        return [r for r in table.sorted_cache if self._visible(dac, r, show_deleted, show_archived)]

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        raw_path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        base_url: str,
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        """-> (status, headers, body, DAC read or None). ``raw_path`` is below the instance."""
        parts = raw_path.split("/")
        if parts[0].lower() == "t":
            root = f"{base_url}/{'/'.join(parts[:5])}/"
            rest = parts[5:]
        else:
            rest = parts[1:]
            root = f"{base_url}/{parts[0]}/"
            head = unquote(rest[0]) if rest else ""
            if (
                head
                and not head.startswith("$")
                and "(" not in head
                and head.lower() not in self._by_name
            ):
                root += rest[0] + "/"  # the optional tenant segment
                rest = rest[1:]
        return self._answer(method, "/".join(rest), query, headers, root)

    def _answer(
        self,
        method: str,
        subpath: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        root: str,
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        path = unquote(subpath).strip("/")
        hdrs = {k.lower(): v for k, v in headers.items()}
        try:
            if method not in ("GET", "HEAD"):
                raise _Error(
                    405,
                    f"The HTTP method '{method}' is not supported by the DAC-based OData interface.",
                )
            if path == "$metadata":
                return (
                    200,
                    {"Content-Type": "application/xml; charset=utf-8", "OData-Version": "4.0"},
                    self.metadata(),
                    None,
                )
            ieee754 = (
                "ieee754compatible=true"
                in (hdrs.get("accept", "") + ";" + query.get("$format", ""))
                .replace(" ", "")
                .lower()
            )
            ctype = {
                "Content-Type": "application/json; odata.metadata=minimal"
                + ("; IEEE754Compatible=true" if ieee754 else ""),
                "OData-Version": "4.0",
                "Cache-Control": "private",
            }
            if path == "":
                return 200, ctype, self._service_document(root), None
            with self.lock:
                body, name = self._query(root, path, query, hdrs, ieee754)
            return 200, ctype, body, name
        except _Error as exc:
            body = json.dumps({"error": {"code": "", "message": exc.message}}).encode()
            return (
                exc.status,
                {
                    "Content-Type": "application/json; odata.metadata=minimal",
                    "OData-Version": "4.0",
                },
                body,
                None,
            )

    def _service_document(self, root: str) -> bytes:
        value = []
        for dac in self.dacs:
            for name in dict.fromkeys((dac.qualified, dac.display, dac.name)):
                value.append({"name": name, "kind": "EntitySet", "url": name})
        return json.dumps({"@odata.context": root + "$metadata", "value": value}).encode()

    def metadata(self) -> bytes:
        if self._metadata_cache is None:
            self._metadata_cache = self._build_metadata()
        return self._metadata_cache

    def _build_metadata(self) -> bytes:
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
            "<edmx:DataServices>",
        ]
        by_ns: dict[str, list[str]] = {}
        sets: list[str] = []
        for dac in self.dacs:
            by_ns.setdefault(dac.namespace, []).append(_entity_type_xml(dac))
            for name in dict.fromkeys((dac.qualified, dac.display, dac.name)):
                sets.append(f'<EntitySet Name="{name}" EntityType="{dac.type_ref}"/>')
        for n in range(int(self.options["synthetic_types"])):
            dac = _synthetic(n)
            by_ns.setdefault(dac.namespace, []).append(_entity_type_xml(dac))
            for name in (dac.qualified, dac.name):
                sets.append(f'<EntitySet Name="{name}" EntityType="{dac.type_ref}"/>')
        for ns, types in by_ns.items():
            out.append(f'<Schema Namespace="{ns}" xmlns="http://docs.oasis-open.org/odata/ns/edm">')
            out += types
            out.append("</Schema>")
        out.append('<Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm">')
        out.append('<EntityContainer Name="Default">')
        out += sets
        out += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>", ""]
        return "\n".join(out).encode()

    # -- data ----------------------------------------------------------------------------------

    def _query(
        self, root: str, path: str, query: Mapping[str, str], hdrs: Mapping[str, str], ieee754: bool
    ) -> tuple[bytes, str]:
        for opt in query:
            if opt.startswith("$") and opt not in self._SUPPORTED:
                raise _Error(400, f"The query parameter '{opt}' is not supported.")
        name, _, action = path.partition("/")
        m = re.fullmatch(r"([^()]+)(?:\((.*)\))?", name)
        if m is None or m.group(1).lower() not in self._by_name:
            raise _Error(404, f"Resource not found for the segment '{name}'.")
        dac = self._by_name[m.group(1).lower()]
        forbidden = self.options["forbidden"]
        if "*" in forbidden or dac.name in forbidden or dac.qualified in forbidden:
            raise _Error(403, "You do not have access to this entity set.")
        if m.group(2) is not None:
            raise _Error(501, "Key lookups are not modelled by this simulator; use $filter.")
        if action:
            if action.lower() != "px.getdeletedrecords()":
                raise _Error(404, f"Resource not found for the segment '{action}'.")
            return self._deleted_records(dac, root, query), dac.name
        if query.get("$expand"):
            raise _Error(501, "$expand is not modelled by this simulator.")
        props = {p.name.lower(): p for p in dac.all_props}

        def prop(text: str) -> Prop:
            found = props.get(text.strip().lower())
            if found is None:
                raise _Error(
                    400,
                    f"Could not find a property named '{text.strip()}' on type '{dac.type_ref}'.",
                )
            return found

        show_deleted = hdrs.get("px-apideleted", "").strip().upper() == "SHOW"
        rows = self._rows(dac, show_deleted, shows_archived(hdrs))
        raw_filter = query.get("$filter", "").strip()
        if raw_filter:
            try:
                flt = parse_filter(raw_filter, dialect="odata4")
            except FilterSyntaxError as exc:
                raise _Error(400, str(exc)) from None
            for field_name in flt.fields:
                prop(field_name)
            getters = {f: prop(f).name for f in flt.fields}
            rows = [r for r in rows if flt.matches(lambda f, v=r.values: v.get(getters.get(f, f)))]
        order = []
        for part in filter(None, (p.strip() for p in query.get("$orderby", "").split(","))):
            om = re.fullmatch(r"(\S+)(?:\s+(asc|desc))?", part, re.IGNORECASE)
            if om is None:
                raise _Error(400, f"Syntax error in $orderby at '{part}'.")
            order.append((prop(om.group(1)).name, (om.group(2) or "").lower() == "desc"))
        top = _non_negative(query, "$top")
        skip = _non_negative(query, "$skip") or 0
        if order and not any(desc for _, desc in order):
            # One composite key, ties by the internal hash; a TOP n sort keeps n rows
            # (as SQL Server's top-N sort does), still reading every filtered row.
            def sort_key(r: _Row) -> tuple:
                return (*(_sort_key(r.values.get(n)) for n, _ in order), r.order)

            if top is not None:
                rows = heapq.nsmallest(skip + top, rows, key=sort_key)
            else:
                rows.sort(key=sort_key)
        elif order:
            rows.sort(key=lambda r: r.order)
            for pname, desc in reversed(order):
                rows.sort(key=lambda r, n=pname: _sort_key(r.values.get(n)), reverse=desc)
        rows = rows[skip:] if top is None else rows[skip : skip + top]
        chosen = list(dac.all_props)
        raw_select = query.get("$select", "").strip()
        if raw_select and raw_select != "*":
            chosen = list(dict.fromkeys(prop(p) for p in raw_select.split(",")))
        offsets = self.options["offsets"]
        body = ",".join(
            self._row_json(r, chosen, ieee754=ieee754, offset=offsets[i % len(offsets)])
            for i, r in enumerate(rows)
        )
        context = root + "$metadata#" + dac.qualified
        if raw_select and raw_select != "*":
            context += "(" + ",".join(p.name for p in chosen) + ")"
        self.counters.incr("dac_rows_served", len(rows))
        return f'{{"@odata.context":{json.dumps(context)},"value":[{body}]}}'.encode(), dac.name

    def _row_json(
        self, row: _Row, props: list[Prop] | tuple[Prop, ...], *, ieee754: bool, offset: int
    ) -> str:
        values = row.values
        return (
            "{"
            + ",".join(
                f'"{p.name}":{_render(p, values.get(p.name), offset, ieee754)}' for p in props
            )
            + "}"
        )

    def _deleted_records(self, dac: Dac, root: str, query: Mapping[str, str]) -> bytes:
        if dac.name not in self.options["tracking"] or dac.table not in self.options["tracking"]:
            raise _Error(
                400,
                f"Deleted records tracking is not enabled for the '{dac.type_ref}' entity. "
                "Add it on the Deleted Records Tracking (SM207010) form.",
            )
        table = self.tables[dac.table]
        cutoff = self.clock().astimezone(timezone.utc) - timedelta(
            days=float(self.options["retention_days"])
        )
        table.removed = [(n, d) for n, d in table.removed if d >= cutoff]
        rows = [{"NoteID": n, "DeleteDate": d} for n, d in table.removed]
        raw_filter = query.get("$filter", "").strip()
        if raw_filter:
            try:
                flt = parse_filter(raw_filter, dialect="odata4")
            except FilterSyntaxError as exc:
                raise _Error(400, str(exc)) from None
            for f in flt.fields:
                if f.lower() not in ("noteid", "deletedate"):
                    raise _Error(
                        400,
                        f"Could not find a property named '{f}' on type 'PX.Api.DeletedRecord'.",
                    )
            rows = [
                r
                for r in rows
                if flt.matches(
                    lambda f, r=r: r["DeleteDate" if f.lower() == "deletedate" else "NoteID"]
                )
            ]
        rows.sort(key=lambda r: (r["DeleteDate"], r["NoteID"]))
        if query.get("$orderby", "").strip().lower().endswith("desc"):
            rows.reverse()
        top = _non_negative(query, "$top")
        skip = _non_negative(query, "$skip") or 0
        rows = rows[skip:] if top is None else rows[skip : skip + top]
        stamp = Prop("DeleteDate", "DateTimeOffset")
        body = ",".join(
            f'{{"NoteID":{json.dumps(r["NoteID"])},"DeleteDate":{_render(stamp, r["DeleteDate"], 0, False)}}}'
            for r in rows
        )
        context = root + "$metadata#Collection(PX.Api.DeletedRecord)"
        return f'{{"@odata.context":{json.dumps(context)},"value":[{body}]}}'.encode()

    # -- live changes between pages -------------------------------------------------------------

    def after_read(self, name: str | None) -> None:
        """After every Nth data response of the configured DAC, the ERP changes."""
        live = self.live
        if not live or name is None or self.dac(live["dac"]).name != name:
            return
        with self.lock:
            self._live_count += 1
            if self._live_count % max(1, int(live.get("every", 1))):
                return
        self.mutate(
            live["dac"],
            int(live.get("update", 0)),
            int(live.get("insert", 0)),
            int(live.get("delete", 0)),
        )


def _non_negative(query: Mapping[str, str], opt: str) -> int | None:
    raw = query.get(opt)
    if raw is None or raw.strip() == "":
        return None
    if not re.fullmatch(r"\d+", raw.strip()):
        raise _Error(400, f"Invalid value '{raw}' for {opt} query option found.")
    return int(raw)


def _entity_type_xml(dac: Dac) -> str:
    base = f" BaseType={quoteattr(dac.base.type_ref)}" if dac.base else ""
    lines = [f'<EntityType Name="{dac.name}"{base}>']
    if dac.keys:
        lines.append("<Key>" + "".join(f'<PropertyRef Name="{k}"/>' for k in dac.keys) + "</Key>")
    for p in dac.props:
        extra = "" if p.nullable else ' Nullable="false"'
        if p.type == "Decimal":
            extra += ' Scale="Variable"'
        lines.append(f'<Property Name="{p.name}" Type="{p.edm}"{extra}/>')
    for nav, target, prop, ref in dac.navs:
        if prop:
            lines.append(
                f'<NavigationProperty Name="{nav}" Type="{target}">'
                f'<ReferentialConstraint Property="{prop}" ReferencedProperty="{ref}"/></NavigationProperty>'
            )
        else:
            lines.append(f'<NavigationProperty Name="{nav}" Type="{target}"/>')
    lines.append(
        '<Annotation Term="Org.OData.Core.V1.Description" String=' + quoteattr(dac.display) + "/>"
    )
    lines.append("</EntityType>")
    return "\n".join(lines)


_SYN_TYPES = [
    "String",
    "Int32",
    "Decimal",
    "DateTimeOffset",
    "Boolean",
    "Guid",
    "Int16",
    "Int64",
    "Double",
    "Binary",
]


def _synthetic(n: int) -> Dac:
    """A generated DAC of about 8 KB of EDMX (72 properties, 24 navigation properties)."""
    rng = random.Random(n)
    props = [Prop(f"Synth{n}ID", "Int32", nullable=False), Prop(f"Synth{n}CD", "String", pad=15)]
    props += [
        Prop(
            f"Field{j:02d}Value{rng.choice(['Amt', 'Qty', 'Descr', 'Date'])}",
            _SYN_TYPES[j % len(_SYN_TYPES)],
        )
        for j in range(64)
    ]
    props += list(_audit())
    navs = tuple(
        (
            f"Related{j}BySynth{n}Field{j:02d}",
            f"PX.Objects.Synth{(n + j) % 40}.Synth{n + j}",
            f"Field{j:02d}",
            f"Synth{n + j}ID",
        )
        for j in range(24)
    )
    return Dac(
        f"PX.Objects.Synth{n % 40}",
        f"Synth{n}",
        f"Synthetic{n}",
        (f"Synth{n}ID",),
        tuple(props),
        navs,
    )


def quote_set(name: str) -> str:
    return quote(name, safe="")
