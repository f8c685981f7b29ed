"""Drop-down (select) fields: their (id, description) pairs and how each contract writes them.

Contract v5 (26.200.001) declares drop-downs as ``StringSingleSelectValue``,
``IntSingleSelectValue`` or ``StringMultiSelectValue``: on the wire (inferred from the
schemas, ACUMATICA_CONTRACT_V5.md section 1) ``{"value": {"id": "A", "description":
"Active"}}``, a multi-select ``{"value": [{...}, ...]}``. Up to 25.200.001 the same fields
are ``StringValue``s holding the label, as the recorded 20.200.001 responses show
(``"Status": {"value": "Completed"}``, ``"LineType": {"value": "Goods for Inventory"}``,
``"ItemType": {"value": "Finished Good"}``), except order types, whose recorded value is
the code (``"OrderType": {"value": "SO"}``).

One ERP database serves every endpoint version, so a row's drop-down values come from one
pool whatever the version; only the rendering differs (the label in v3/v4 and wherever the
v5 document keeps a ``StringValue``, the object where it declares a select type). Which
fields are drop-downs is read from the two real 26.200.001 excerpts (the union of their
select-typed fields), so 17.200.001-25.200.001 write real labels in those fields too.

Ids and labels are Acumatica's where known (Customer, sales order, invoice, batch and
stock-item statuses, line and item types, attribute control types); the time-span ids of
``EventTimeActivity`` (minutes) and the generic pairs of any other drop-down are this
simulator's choice (unverified). Each pool also holds, pessimistically, a stored value the
list does not know: sent with a ``null`` description, or without one.
"""

from __future__ import annotations

import functools
import json
import random

from .values import POOL, dumps, stable_hash

SINGLE_TYPES = frozenset({"StringSingleSelectValue", "IntSingleSelectValue"})
MULTI_TYPES = frozenset({"StringMultiSelectValue"})
SELECT_TYPES = SINGLE_TYPES | MULTI_TYPES
CUSTOM_SELECT_TYPES = {
    "CustomStringSingleSelectField": "StringSingleSelectValue",
    "CustomIntSingleSelectField": "IntSingleSelectValue",
    "CustomStringMultiSelectField": "StringMultiSelectValue",
}
#: A description left out of the object (the schema does not require one).
ABSENT = object()

_MINUTES = (
    (0, "00:00"),
    (15, "00:15"),
    (30, "00:30"),
    (60, "01:00"),
    (90, "01:30"),
    (480, "08:00"),
)
PAIRS: dict[tuple[str, str], tuple[tuple[object, str], ...]] = {
    ("Customer", "Status"): (
        ("A", "Active"),
        ("H", "On Hold"),
        ("C", "Credit Hold"),
        ("I", "Inactive"),
        ("T", "One-Time"),
        ("R", "Prospect"),
    ),
    ("CustomerLocation", "Status"): (("A", "Active"), ("I", "Inactive")),
    ("SalesOrder", "Status"): (
        ("N", "Open"),
        ("H", "On Hold"),
        ("C", "Completed"),
        ("L", "Canceled"),
        ("B", "Back Order"),
        ("S", "Shipping"),
        ("R", "Credit Hold"),
        ("I", "Invoiced"),
        ("P", "Pending Approval"),
    ),
    ("SalesOrder", "OrderType"): (
        ("SO", "Sales Order"),
        ("QT", "Quote"),
        ("RM", "RMA Order"),
        ("IN", "Invoice"),
        ("TR", "Transfer"),
    ),
    ("SalesOrderDetail", "LineType"): (
        ("GI", "Goods for Inventory"),
        ("GN", "Non-Inventory Goods"),
        ("MI", "Misc. Charge"),
    ),
    ("SalesOrderDetail", "InvoiceType"): (
        ("INV", "Invoice"),
        ("DRM", "Debit Memo"),
        ("CRM", "Credit Memo"),
        ("CSL", "Cash Sale"),
    ),
    ("SalesInvoice", "Type"): (("INV", "Invoice"), ("DRM", "Debit Memo"), ("CRM", "Credit Memo")),
    ("SalesInvoice", "Status"): (
        ("H", "On Hold"),
        ("B", "Balanced"),
        ("N", "Open"),
        ("C", "Closed"),
        ("V", "Voided"),
        ("S", "Scheduled"),
        ("P", "Pending Print"),
    ),
    ("JournalTransaction", "Status"): (
        ("H", "On Hold"),
        ("B", "Balanced"),
        ("U", "Unposted"),
        ("P", "Posted"),
        ("C", "Completed"),
        ("V", "Voided"),
    ),
    ("StockItem", "ItemStatus"): (
        ("AC", "Active"),
        ("NS", "No Sales"),
        ("NP", "No Purchases"),
        ("NR", "No Request"),
        ("IN", "Inactive"),
        ("MD", "Marked for Deletion"),
    ),
    ("StockItem", "ItemType"): (
        ("F", "Finished Good"),
        ("M", "Component Part"),
        ("A", "Subassembly"),
    ),
    ("AttributeDefinition", "ControlType"): (
        (1, "Text"),
        (2, "Combo"),
        (4, "Checkbox"),
        (5, "Datetime"),
        (6, "Multi Select Combo"),
        (7, "Selector"),
    ),
    ("EventTimeActivity", "TimeSpent"): _MINUTES,
    ("EventTimeActivity", "Overtime"): _MINUTES,
    ("EventTimeActivity", "BillableTime"): _MINUTES,
    ("EventTimeActivity", "BillableOvertime"): _MINUTES,
    # The custom drop-downs of the simulator's user-defined fields (contract v5 only).
    ("#custom", "UsrRegion"): (("NA", "North America"), ("EU", "Europe"), ("AP", "Asia Pacific")),
    ("#custom", "UsrTier"): ((1, "Bronze"), (2, "Silver"), (3, "Gold")),
    ("#custom", "UsrTags"): (("B2B", "Business"), ("VIP", "Key account"), ("EXP", "Export")),
}
#: Drop-downs whose v3/v4 ``StringValue`` holds the id (order types are user-defined codes).
V4_HOLDS_ID = frozenset({("SalesOrder", "OrderType")})


@functools.cache
def registry() -> dict[tuple[str, str], str]:
    """(definition, field) -> select type, for every drop-down of the 26.200.001 excerpts."""
    from .excerpts import EXCERPTS, excerpt

    found: dict[tuple[str, str], str] = {}
    for build in EXCERPTS["26.200.001"]:
        for name, schema in excerpt("26.200.001", build)["components"]["schemas"].items():
            for part in schema.get("allOf", [schema]):
                for field, prop in part.get("properties", {}).items():
                    text = json.dumps(prop)
                    for kind in SELECT_TYPES:
                        if f'/{kind}"' in text:
                            found.setdefault((name, field), kind)
    return found


def kind_of(definition: str, field: str, value_type: str) -> str | None:
    """The select type of a field (its own, or the v5 documents'), or None."""
    if value_type in SELECT_TYPES:
        return value_type
    return registry().get((definition.partition("#")[0], field))


def pairs_for(definition: str, field: str, kind: str) -> tuple[tuple[object, str], ...]:
    key = ("#custom", field) if "#custom" in definition else (definition, field)
    pairs = PAIRS.get(key)
    if pairs:
        return pairs
    if kind == "IntSingleSelectValue":
        return tuple((i, f"{field} {i}") for i in range(1, 5))
    return tuple((c, f"{field} {c}") for c in "ABCD")


def pool(
    definition: str, field: str, kind: str, value_type: str, seed: int
) -> list[tuple[object, str | None]]:
    """POOL (typed value, rendered JSON value or None) for one drop-down field.

    Drawn the same way whatever the version (``kind`` is the field's select type in the v5
    documents); rendered as an object when ``value_type`` is a select type, else as the
    v3/v4 ``StringValue`` label."""
    pairs = pairs_for(definition, field, kind)
    is_int = kind == "IntSingleSelectValue"
    odd = 99 if is_int else "ZZ"
    rng = random.Random(stable_hash("select-pool", seed, definition, field))
    out: list[tuple[object, str | None]] = []
    as_object = value_type in SELECT_TYPES
    holds_id = (definition, field) in V4_HOLDS_ID
    for i in range(POOL):
        if rng.random() < 0.06:
            out.append((None, None))  # an empty field: {}
            continue
        if kind in MULTI_TYPES:
            chosen = rng.sample(pairs, rng.randint(0, len(pairs)))
            items = [(ident, label) for ident, label in chosen]
            if i == 11:
                items.append((odd, None))
            typed = [ident for ident, _ in items]
            if as_object:
                out.append((typed, "[" + ",".join(_object(a, b) for a, b in items) + "]"))
            else:  # not written by v3/v4 (the select custom fields are v5 only)
                out.append((typed, dumps(",".join(str(b or a) for a, b in items))))
            continue
        ident, label = rng.choice(pairs)
        description: object = label
        if i == 7:
            ident, description = odd, ABSENT  # a stored value the list does not know
        elif i == 13:
            ident, description = odd, None
        if as_object:
            out.append((ident, _object(ident, description)))
            continue
        shown = ident if holds_id or description in (None, ABSENT) else description
        out.append((str(shown), dumps(str(shown))))
    return out


def _object(ident: object, description: object) -> str:
    if description is ABSENT:
        return f'{{"id":{dumps(ident)}}}'
    return f'{{"id":{dumps(ident)},"description":{dumps(description)}}}'
