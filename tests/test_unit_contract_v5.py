"""Pure logic of endpoint versions 25.200.001 and 26.200.001 (contract v5).

The documents are Acumatica's real OpenAPI excerpts (tests/fixtures/acumatica/), served by
the simulator completed from 24.200.001 (tests/simulator/excerpts.py; the same function
builds them here, without a server). Records are in the wire shape ACUMATICA_CONTRACT_V5.md
derives from the schemas (no live v5 payload was ever recorded).
"""

from __future__ import annotations

import json
import logging
import typing as t

import pytest

from tap_acumatica.errors import ConfigError
from tap_acumatica.http.client import decode_json
from tap_acumatica.rest.metadata import custom_fields_of, load_swagger, parse_entities
from tap_acumatica.rest.records import ListDecoder, compile_schema, selected_schema
from tap_acumatica.sync.renamed_keys import carry_bookmark
from tests.simulator import excerpts

BUILDS = [("25.200.001", "d509b1cf"), ("26.200.001", "4cf7684"), ("26.200.001", "d1a8f665")]
#: The linked entities the issue found missing with the released build's declarations.
LINKED = {
    "SalesOrder": [
        "BillToAddress",
        "BillToContact",
        "ShipToAddress",
        "ShipToContact",
        "Commissions",
        "FinancialSettings",
        "ShippingSettings",
        "Totals",
    ],
    "Customer": [
        "MainContact",
        "PrimaryContact",
        "BillingContact",
        "ShippingContact",
        "CreditVerificationRules",
    ],
}
DETAILS = {
    "SalesOrder": ["Details", "Payments", "Shipments", "TaxDetails", "DiscountDetails"],
    "Customer": ["Contacts", "Attributes", "Salespersons"],
    "JournalTransaction": ["Details"],
}


def served(version: str, build: str, complete: bool = True) -> dict[str, t.Any]:
    return load_swagger(excerpts.completed(version, build, complete))


@pytest.mark.parametrize(("version", "build"), BUILDS)
def test_every_linked_entity_and_detail_collection_is_typed(version: str, build: str) -> None:
    specs = parse_entities(served(version, build))
    for entity, names in {**LINKED}.items():
        props = specs[entity].json_schema()["properties"]
        for name in names:
            assert props[name]["type"] == ["object", "null"], (entity, name)
            assert props[name]["properties"], (entity, name)
    for entity, names in DETAILS.items():
        props = specs[entity].json_schema()["properties"]
        for name in names:
            assert props[name]["type"] == ["array", "null"], (entity, name)
            assert props[name]["items"]["properties"], (entity, name)
    assert all(spec.untyped == [] for spec in specs.values()), {
        n: s.untyped for n, s in specs.items() if s.untyped
    }


def test_the_released_build_declares_linked_entities_as_any_of() -> None:
    """The shape that used to make them vanish is really in the document served."""
    doc = served("26.200.001", "d1a8f665")
    declared = doc["components"]["schemas"]["SalesOrder"]["allOf"][1]["properties"]
    assert declared["BillToAddress"] == {
        "anyOf": [{"$ref": "#/components/schemas/Address"}],
        "nullable": True,
    }
    assert declared["Details"]["nullable"] is True


@pytest.mark.parametrize(("version", "build"), BUILDS)
def test_stamps_and_renamed_fields_follow_the_documents(version: str, build: str) -> None:
    specs = parse_entities(served(version, build))
    v5 = version == "26.200.001"
    assert specs["SalesOrder"].stamp == ("LastModifiedDateTime" if v5 else "LastModified")
    assert specs["StockItem"].stamp == "LastModifiedDateTime"
    stock = specs["StockItem"].json_schema()["properties"]
    assert ("LastModified" in stock) is not v5
    line = specs["SalesOrder"].json_schema()["properties"]["Details"]["items"]["properties"]
    if v5:
        assert line["LastModifiedDateTime"] == {"type": ["string", "null"], "format": "date-time"}
        assert "LastModifiedDate" not in line
    else:
        assert line["LastModifiedDate"] == {"type": ["string", "null"]}


def test_v5_select_values_become_a_label_and_a_typed_id() -> None:
    specs = parse_entities(served("26.200.001", "d1a8f665"))
    order = specs["SalesOrder"].json_schema()["properties"]
    assert order["Status"] == {"type": ["string", "null"]}
    assert order["Status__id"] == {"type": ["string", "null"]}
    assert order["OrderType"] == {"type": ["string", "null"]}  # StringValue again here
    assert "OrderType__id" not in order
    line = order["Details"]["items"]["properties"]
    assert line["LineType__id"] == {"type": ["string", "null"]}
    time = specs["Event"].json_schema()["properties"]["TimeActivity"]["properties"]
    assert time["TimeSpent"] == {"type": ["string", "null"]}
    assert time["TimeSpent__id"] == {"type": ["integer", "null"]}
    journal = specs["JournalTransaction"].json_schema()["properties"]
    assert journal["TransactionDate"] == {"type": ["string", "null"], "format": "date"}
    early = parse_entities(served("26.200.001", "4cf7684"))
    control = early["AttributeDefinition"].json_schema()["properties"]
    assert control["ControlType__id"] == {"type": ["integer", "null"]}
    v4 = parse_entities(served("25.200.001", "d509b1cf"))["SalesOrder"].json_schema()
    assert not [p for p in v4["properties"] if p.endswith("__id")]


def test_custom_select_fields_give_two_columns() -> None:
    adhoc = {
        "custom": {
            "Document": {
                "UsrRegion": {"type": "CustomStringSingleSelectField", "value": None},
                "UsrTier": {"type": "CustomIntSingleSelectField", "value": None},
                "UsrTags": {"type": "CustomStringMultiSelectField", "value": None},
                "UsrNote": {"type": "CustomStringField", "value": None},
            }
        }
    }
    props = custom_fields_of(adhoc)
    assert props["custom__Document__UsrTier__id"] == {"type": ["integer", "null"]}
    assert props["custom__Document__UsrTags"]["items"] == {"type": ["string", "null"]}
    assert props["custom__Document__UsrNote"] == {"type": ["string", "null"]}
    assert "custom__Document__UsrNote__id" not in props


#: A v5 SalesOrder as the released contract puts it on the wire (shape from the schemas).
V5_ORDER = {
    "id": "6f2d4a30-7c1e-4f0e-9a39-0b7c1c5e2a11",
    "rowNumber": 1,
    "note": {"value": ""},
    "Status": {"value": {"id": "N", "description": "Open"}},
    "OrderNbr": {"value": "SO000001"},
    "LastModifiedDateTime": {"value": "2026-03-20T08:38:58.9830000+00:00"},
    "Details": [
        {
            "id": "0c8f0e53-3b1a-4f53-8f0e-1b7d3c1a9e21",
            "rowNumber": 1,
            "note": None,
            "LineType": {"value": {"id": "GI"}},
            "InvoiceType": {"value": {"id": "INV", "description": None}},
        }
    ],
    "custom": {
        "Document": {
            "UsrTier": {
                "type": "CustomIntSingleSelectField",
                "value": {"id": 3, "description": "Gold"},
            },
            "UsrTags": {
                "type": "CustomStringMultiSelectField",
                "value": [{"id": "B2B", "description": "Business"}, {"id": "VIP"}],
            },
        }
    },
    "_links": {"self": "/AcumaticaERP/entity/Default/26.200.001/SalesOrder/6f2d…"},
}


def order_schema() -> dict[str, t.Any]:
    spec = parse_entities(served("26.200.001", "d1a8f665"), only={"SalesOrder"})["SalesOrder"]
    schema = spec.json_schema()
    schema["properties"].update(
        custom_fields_of(
            {
                "custom": {
                    "Document": {
                        "UsrTier": {"type": "CustomIntSingleSelectField"},
                        "UsrTags": {"type": "CustomStringMultiSelectField"},
                    }
                }
            }
        )
    )
    return schema


def test_select_values_unwrap_at_every_level_in_both_decoders() -> None:
    schema = order_schema()
    body = json.dumps([V5_ORDER, {**V5_ORDER, "Status": {}}]).encode()
    typed = ListDecoder(schema)
    for records in (typed.decode(body), [compile_schema(schema)(r) for r in decode_json(body)]):
        first, second = records
        assert (first["Status"], first["Status__id"]) == ("Open", "N")
        assert (second["Status"], second["Status__id"]) == (None, None)  # {}: no value
        line = first["Details"][0]
        assert (line["LineType"], line["LineType__id"]) == (None, "GI")  # no description
        assert (line["InvoiceType"], line["InvoiceType__id"]) == (None, "INV")
        assert first["custom__Document__UsrTier"] == "Gold"
        assert first["custom__Document__UsrTier__id"] == 3
        assert first["custom__Document__UsrTags"] == ["Business", None]
        assert first["custom__Document__UsrTags__id"] == ["B2B", "VIP"]
        assert first["LastModifiedDateTime"] == "2026-03-20T08:38:58.983000+00:00"
        assert "_links" not in first
    assert typed.fallbacks == 0


def test_a_deselected_id_column_leaves_the_label_right() -> None:
    schema = order_schema()
    deselected = {("properties", "Status__id"), ("properties", "custom__Document__UsrTier")}
    kept = selected_schema(schema, lambda crumb: crumb not in deselected)
    [record] = ListDecoder(kept).decode(json.dumps([V5_ORDER]).encode())
    assert record["Status"] == "Open"
    assert "Status__id" not in record
    assert record["custom__Document__UsrTier__id"] == 3
    assert "custom__Document__UsrTier" not in record


def test_an_uncompleted_excerpt_reports_what_it_cannot_type() -> None:
    """The released excerpt as stored: its linked entities name definitions it lacks."""
    specs = parse_entities(served("26.200.001", "d1a8f665", complete=False))
    untyped = dict(specs["SalesOrder"].untyped)
    assert untyped["BillToAddress"] == "its $ref Address is not in the document"
    assert untyped["Shipments"] == "its items' $ref SalesOrderShipment is not in the document"
    props = specs["SalesOrder"].json_schema()["properties"]
    assert props["BillToAddress"] == {}  # kept, as any JSON
    assert props["Status__id"] == {"type": ["string", "null"]}  # the rest is typed
    transform = compile_schema(specs["SalesOrder"].json_schema())
    raw = {"BillToAddress": {"value": "x"}, "Totals": {"OrderTotal": {"value": 1}}}
    assert transform(raw)["BillToAddress"] == "x"  # {"value": …} unwrapped
    assert transform(raw)["Totals"] == {"OrderTotal": {"value": 1}}  # else as it is


def test_a_bookmark_under_the_old_stamp_name_is_carried_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test")
    state = {
        "replication_key": "LastModified",
        "replication_key_value": "2026-01-02T03:04:05+00:00",
    }
    with caplog.at_level(logging.INFO, logger="test"):
        carry_bookmark(state, "LastModifiedDateTime", "SalesOrder", logger)
    assert state == {
        "replication_key": "LastModifiedDateTime",
        "replication_key_value": "2026-01-02T03:04:05+00:00",
    }
    [line] = [r.getMessage() for r in caplog.records]
    assert "LastModified" in line
    assert "LastModifiedDateTime" in line
    assert "no re-sync" in line
    same = dict(state)
    carry_bookmark(same, "LastModifiedDateTime", "SalesOrder", logger)
    assert same == state
    with pytest.raises(ConfigError, match="written under replication key 'CreatedDateTime'"):
        carry_bookmark(
            {"replication_key": "CreatedDateTime", "replication_key_value": "2026-01-01"},
            "LastModifiedDateTime",
            "SalesOrder",
            logger,
        )
