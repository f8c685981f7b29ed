"""Pure logic: swagger parsing, JSON schema mapping, record unwrapping, settings."""

from __future__ import annotations

import decimal
import gzip
import json
from pathlib import Path

import pytest

from tap_acumatica.datetimes import normalize_datetime, parse_start_date
from tap_acumatica.errors import ConfigError
from tap_acumatica.http.client import decode_json
from tap_acumatica.rest.metadata import load_swagger, parse_entities
from tap_acumatica.rest.records import compile_schema
from tap_acumatica.settings import validate_config
from tap_acumatica.urls import normalize_base_url
from tests import tapkit

FIXTURES = Path(__file__).parent / "fixtures" / "acumatica"
EXPECTED_COUNTS = tapkit.ENTITY_COUNTS


def swagger(version: str) -> dict:
    return load_swagger(gzip.open(FIXTURES / f"swagger-Default-{version}.json.gz").read())


@pytest.mark.parametrize("version", sorted(EXPECTED_COUNTS))
def test_entity_counts_and_stamps(version: str) -> None:
    specs = parse_entities(swagger(version))
    assert len(specs) == EXPECTED_COUNTS[version]
    assert specs["SalesOrder"].stamp == "LastModified"
    assert specs["Customer"].stamp == "LastModifiedDateTime"
    expected_stock = "LastModifiedDateTime" if version >= "24" else "LastModified"
    assert specs["StockItem"].stamp == expected_stock
    assert "ShipVia" not in specs or specs["ShipVia"].stamp is None


def test_bom_is_accepted() -> None:
    raw = "\ufeff" + json.dumps({"swagger": "2.0", "paths": {}, "definitions": {}})
    assert load_swagger(raw.encode("utf-8"))["swagger"] == "2.0"


def test_schema_types_from_swagger() -> None:
    schema = parse_entities(swagger("20.200.001"), only={"SalesOrder"})["SalesOrder"].json_schema()
    props = schema["properties"]
    assert props["OrderTotal"] == {"type": ["number", "null"]}
    assert props["LastModified"] == {"type": ["string", "null"], "format": "date-time"}
    assert props["Hold"] == {"type": ["boolean", "null"]}
    assert props["OrderNbr"] == {"type": ["string", "null"]}
    assert props["id"]["format"] == "uuid"
    details = props["Details"]
    assert details["type"] == ["array", "null"]
    assert details["items"]["properties"]["OrderQty"] == {"type": ["number", "null"]}
    assert props["BillToAddress"]["type"] == ["object", "null"]


def test_record_unwrapping_matches_real_sample() -> None:
    spec = parse_entities(swagger("20.200.001"), only={"SalesOrder"})["SalesOrder"]
    raw = decode_json(
        (
            FIXTURES / "sample-SalesOrder-put-expand-Details-Default-20.200.001-jetbuilt.json"
        ).read_bytes()
    )
    transform = compile_schema(spec.json_schema())
    record = transform(raw)
    assert record["OrderNbr"] == raw["OrderNbr"]["value"]
    assert record["ContactID"] is None  # {} means "no value"
    assert isinstance(record["OrderTotal"], decimal.Decimal)
    assert record["LastModified"].endswith("+00:00")
    assert isinstance(record["Details"], list)
    assert record["Details"]
    line = record["Details"][0]
    assert "value" not in json.dumps(line, default=str)  # fully unwrapped
    assert line["note"] is None


def test_datetime_normalisation_to_one_utc_format() -> None:
    assert normalize_datetime("2020-03-20T17:41:27.34+00:00") == "2020-03-20T17:41:27.340000+00:00"
    assert normalize_datetime("2020-03-20T09:41:27.34-08:00") == "2020-03-20T17:41:27.340000+00:00"
    assert normalize_datetime("2020-03-20T23:11:27+05:30") == "2020-03-20T17:41:27.000000+00:00"
    assert normalize_datetime("2020-03-20T17:41:27.1234567Z") == "2020-03-20T17:41:27.123456+00:00"
    assert normalize_datetime("") is None


def test_decimals_keep_every_digit() -> None:
    assert decode_json(b"[123456789012345.6789]")[0] == decimal.Decimal("123456789012345.6789")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://erp.example.com/AcumaticaERP", "https://erp.example.com/AcumaticaERP/"),
        ("https://erp.example.com/AcumaticaERP/entity/", "https://erp.example.com/AcumaticaERP/"),
        ("https://erp.example.com/entity/Default/24.200.001", "https://erp.example.com/"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ],
)
def test_base_url_normalisation(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


def test_bad_settings_have_clear_messages() -> None:
    with pytest.raises(ConfigError, match="'url' is required"):
        validate_config({})
    with pytest.raises(ConfigError, match="must not contain credentials"):
        normalize_base_url("https://user:pw@host/")
    with pytest.raises(ConfigError, match="needs setting"):
        validate_config({"url": "https://h/", "auth_scheme": "Basic", "username": "u"})
    with pytest.raises(ConfigError, match="start_date"):
        parse_start_date("yesterday-ish")
    assert parse_start_date("2024-01-01").isoformat() == "2024-01-01T00:00:00+00:00"
