"""OData pieces without a server: EDMX parsing, bodies, values, literals."""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import pytest

from tap_acumatica.http.client import decode_json
from tap_acumatica.inquiries.metadata import parse_metadata, type_name_of
from tap_acumatica.odata import compile_record
from tap_acumatica.odata import rows_of as _rows_of
from tap_acumatica.query import odata_literal

FIXTURES = Path(__file__).parent / "fixtures" / "acumatica"

V3_METADATA = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">
  <edmx:DataServices m:DataServiceVersion="3.0"
      xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
    <Schema Namespace="GenericInquiry" xmlns="http://schemas.microsoft.com/ado/2009/11/edm">
      <EntityType Name="ItemAvailabilityData">
        <Key><PropertyRef Name="InventoryID"/></Key>
        <Property Name="InventoryID" Type="Edm.String" Nullable="false"/>
        <Property Name="QtyOnHand" Type="Edm.Decimal"/>
        <Property Name="LastCount" Type="Edm.DateTime"/>
      </EntityType>
      <EntityContainer Name="Default" m:IsDefaultEntityContainer="true">
        <EntitySet Name="Item Availability Data" EntityType="GenericInquiry.ItemAvailabilityData"/>
        <FunctionImport Name="ItemAvailabilityData_WithParameters"
            ReturnType="Collection(GenericInquiry.ItemAvailabilityData)"
            EntitySet="Item Availability Data" m:HttpMethod="GET">
          <Parameter Name="Warehouse" Type="Edm.String" Mode="In"/>
        </FunctionImport>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"""


def test_real_v4_fragment() -> None:
    specs = parse_metadata(
        (FIXTURES / "odata-gi-metadata-FRAGMENT-acumatica-docs-v4.xml").read_bytes()
    )
    lead = specs["BI-LeadConversion"]
    assert lead.type_name == "BILeadConversion"
    assert lead.keys[:3] == ["LeadID", "OpportunityID", "BusinessAccount"]
    assert lead.columns["LeadID"] == "Edm.Int32"
    assert lead.json_schema()["properties"]["LeadID"] == {"type": ["integer", "null"]}
    assert not lead.parameterised
    storage = specs["DB-StorageDetails"]
    assert storage.function_import == "DBStorageDetails_WithParameters"
    assert storage.parameters == ["Warehouse"]
    # An entity type missing from the fragment still yields a (column-less) spec.
    assert specs["BI-Cases"].columns == {}


def test_v3_metadata_with_service_operation() -> None:
    spec = parse_metadata(V3_METADATA)["Item Availability Data"]
    assert spec.keys == ["InventoryID"]
    assert spec.function_import == "ItemAvailabilityData_WithParameters"
    assert spec.parameters == ["Warehouse"]
    props = spec.json_schema()["properties"]
    assert props["QtyOnHand"] == {"type": ["number", "null"]}
    assert props["LastCount"]["format"] == "date-time"


def test_bodies_of_both_versions() -> None:
    v3 = decode_json(
        (
            FIXTURES / "odata-gi-response-ItemAvailabilityData_WithParameters-acumatica-docs.json"
        ).read_bytes()
    )
    rows, link = _rows_of(v3)
    assert link is None
    assert rows[0]["InventoryID"] == "AALEGO500 "
    v4 = decode_json(
        json.dumps({"@odata.context": "x", "value": [{"A": 1}], "@odata.nextLink": "next"}).encode()
    )
    assert _rows_of(v4) == ([{"A": 1}], "next")
    assert _rows_of({"d": {"results": [{"A": 2}]}}) == ([{"A": 2}], None)
    with pytest.raises(Exception, match="'value' array"):
        _rows_of({"error": {"message": "x"}})


def test_values_by_schema() -> None:
    schema = parse_metadata(V3_METADATA)["Item Availability Data"].json_schema()
    schema["properties"]["Big"] = {"type": ["integer", "null"]}
    transform = compile_record(schema)
    record = transform(
        {
            "InventoryID": "AALEGO500 ",
            "QtyOnHand": "1999.000000",
            "LastCount": "2022-07-13T10:00:00.12",
            "Big": "9007199254740993",
            "odata.etag": "W/x",
        }
    )
    assert record == {
        "InventoryID": "AALEGO500 ",  # CHAR padding kept
        "QtyOnHand": decimal.Decimal("1999.000000"),
        "LastCount": "2022-07-13T10:00:00.120000+00:00",
        "Big": 9007199254740993,
    }
    assert str(record["QtyOnHand"]) == "1999.000000"
    offset = transform({"LastCount": "2022-07-13T10:00:00+02:00", "QtyOnHand": None})
    assert offset == {"LastCount": "2022-07-13T08:00:00.000000+00:00", "QtyOnHand": None}


def test_literals_and_names() -> None:
    assert odata_literal("O'Hara") == "'O''Hara'"
    assert odata_literal(5) == "5"
    assert odata_literal(True) == "true"
    assert odata_literal(None) == "null"
    assert type_name_of("PM-Project Summary") == "PMProjectSummary"
