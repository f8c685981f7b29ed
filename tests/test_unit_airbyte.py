"""The Airbyte source's pure parts: spec, catalog and state mapping, message shapes, and the
message writer fed Singer messages. The console script against the simulator is
tests/test_tap_airbyte.py; PyAirbyte driving it, tests/test_e2e_pyairbyte.py."""

from __future__ import annotations

import copy
import decimal
import json
import typing as t

import jsonschema
import pytest
from airbyte_protocol.models import AirbyteMessage, ConfiguredAirbyteCatalog
from singer_sdk.singerlib.encoding.simple import RecordMessage, SchemaMessage, StateMessage

from tap_acumatica.airbyte import protocol
from tap_acumatica.airbyte.catalog import ANNOTATION, airbyte_stream, parse_configured, read_plan
from tap_acumatica.airbyte.spec import SINGER_ONLY, connection_specification
from tap_acumatica.airbyte.state import singer_bookmarks
from tap_acumatica.airbyte.writer import AirbyteMessageWriter
from tap_acumatica.config_schema import CONFIG_SCHEMA
from tap_acumatica.errors import ConfigError
from tap_acumatica.settings import DEFAULTS, SECRET_SETTINGS

STAMP = "LastModifiedDateTime"
#: A REST entity entry as the tap's discovery writes it (shape of a real Customer entry).
REST_ENTRY: dict[str, t.Any] = {
    "tap_stream_id": "SalesOrder",
    "stream": "SalesOrder",
    "key_properties": ["id"],
    "replication_key": STAMP,
    "replication_method": "INCREMENTAL",
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": ["string"], "format": "uuid"},
            "OrderNbr": {"type": ["string", "null"]},
            STAMP: {"type": ["string", "null"], "format": "date-time"},
            "Details": {
                "type": ["array", "null"],
                "items": {
                    "type": ["object"],
                    "properties": {
                        "InventoryID": {"type": ["string", "null"]},
                        "Allocations": {
                            "type": ["array", "null"],
                            "items": {"properties": {"Qty": {"type": ["number", "null"]}}},
                        },
                    },
                },
            },
            "BillToContact": {
                "type": ["object", "null"],
                "properties": {
                    "Email": {"type": ["string", "null"]},
                    "Address": {"type": ["object", "null"], "properties": {"City": {}}},
                },
            },
        },
    },
    "metadata": [
        {"breadcrumb": ["properties", "Details"], "metadata": {"selected-by-default": False}},
        {
            "breadcrumb": [],
            "metadata": {
                "inclusion": "available",
                "selected-by-default": True,
                "table-key-properties": ["id"],
                "replication-key": STAMP,
                "valid-replication-keys": [STAMP],
            },
        },
    ],
}
#: A generic inquiry without a chosen key: its date-time columns are the user's to choose.
GI_ENTRY: dict[str, t.Any] = {
    "tap_stream_id": "BI-SalesOrders",
    "stream": "BI-SalesOrders",
    "key_properties": ["OrderType", "OrderNbr"],
    "schema": {
        "properties": {
            "OrderType": {"type": ["string", "null"]},
            "OrderNbr": {"type": ["string", "null"]},
            "CreatedOn": {"type": ["string", "null"], "format": "date-time"},
            "LastModifiedOn": {"type": ["string", "null"], "format": "date-time"},
        }
    },
    "metadata": [
        {
            "breadcrumb": [],
            "metadata": {
                "table-key-properties": ["OrderType", "OrderNbr"],
                "valid-replication-keys": ["CreatedOn", "LastModifiedOn"],
            },
        }
    ],
}
#: A DAC: its entity set is not its stream name.
DAC_ENTRY: dict[str, t.Any] = {
    "tap_stream_id": "SOOrder",
    "stream": "SOOrder",
    "table_name": "PX_Objects_SO_SOOrder",
    "key_properties": ["OrderType", "OrderNbr"],
    "replication_key": STAMP,
    "schema": {"properties": {"OrderType": {}, "OrderNbr": {}, STAMP: {}}},
    "metadata": [
        {
            "breadcrumb": [],
            "metadata": {"valid-replication-keys": [STAMP], "replication-key": STAMP},
        }
    ],
}


def configured(
    stream: dict[str, t.Any], sync_mode: str, cursor: list[str] | None = None
) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {
        "stream": stream,
        "sync_mode": sync_mode,
        "destination_sync_mode": "append_dedup",
    }
    if cursor is not None:
        out["cursor_field"] = cursor
    return out


def plan_of(*streams: dict[str, t.Any]):  # -> ReadPlan
    return read_plan(parse_configured({"streams": list(streams)}, "catalog.json"))


def root_of(entry: dict[str, t.Any]) -> dict[str, t.Any]:
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])


# --- spec ------------------------------------------------------------------------------


def test_spec_is_the_tap_settings_with_defaults_from_settings_and_secrets_marked() -> None:
    spec = connection_specification()
    jsonschema.Draft7Validator.check_schema(spec)
    props = spec["properties"]
    assert set(props) == set(CONFIG_SCHEMA["properties"]) - set(SINGER_ONLY)
    assert spec["required"] == ["url"]
    for name, prop in props.items():
        if name in DEFAULTS and "default" in CONFIG_SCHEMA["properties"][name]:
            assert prop["default"] == DEFAULTS[name], name  # the one place a default lives
        assert prop.get("airbyte_secret", False) is (name in SECRET_SETTINGS), name
        assert isinstance(prop["type"], str), name  # one type per setting
    assert props["entities"]["items"]["type"] == "string"
    jsonschema.validate({"url": "https://erp.example.com", "page_size": 500}, spec)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"url": "https://erp.example.com", "page_size": "500"}, spec)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"username": "admin"}, spec)  # no url


# --- discover: Singer entry -> AirbyteStream -------------------------------------------------


def test_entity_stream_has_its_stamp_as_source_defined_cursor() -> None:
    stream = airbyte_stream(REST_ENTRY)
    assert stream["name"] == "SalesOrder"
    assert stream["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert stream["source_defined_cursor"] is True
    assert stream["default_cursor_field"] == [STAMP]
    assert stream["source_defined_primary_key"] == [["id"]]
    assert stream["json_schema"][ANNOTATION] == {"metadata": {"valid-replication-keys": [STAMP]}}
    assert "x-singer" not in REST_ENTRY["schema"]  # the tap's catalog is left as it was


def test_schema_keeps_one_level_of_nesting() -> None:
    props = airbyte_stream(REST_ENTRY)["json_schema"]["properties"]
    assert set(props["Details"]["items"]["properties"]) == {"InventoryID"}  # no Allocations
    assert set(props["BillToContact"]["properties"]) == {"Email"}  # no Address
    assert props["OrderNbr"] == REST_ENTRY["schema"]["properties"]["OrderNbr"]
    nested = REST_ENTRY["schema"]["properties"]["Details"]["items"]["properties"]
    assert "Allocations" in nested  # untouched


def test_inquiry_cursor_is_the_users_choice_and_a_dac_keeps_its_entity_set() -> None:
    inquiry = airbyte_stream(GI_ENTRY)
    assert inquiry["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert inquiry["source_defined_cursor"] is False
    assert "default_cursor_field" not in inquiry
    assert inquiry["source_defined_primary_key"] == [["OrderType"], ["OrderNbr"]]
    dac = airbyte_stream(DAC_ENTRY)
    assert dac["json_schema"][ANNOTATION]["table_name"] == "PX_Objects_SO_SOOrder"
    flat = airbyte_stream({**DAC_ENTRY, "replication_key": None, "metadata": []})
    assert flat["supported_sync_modes"] == ["full_refresh"]
    assert flat["source_defined_cursor"] is False
    # Every stream is a valid AirbyteStream for the protocol models.
    message = protocol.catalog([inquiry, dac, flat, airbyte_stream(REST_ENTRY)])
    assert AirbyteMessage.model_validate_json(protocol.line(message)).catalog is not None


# --- read: configured catalog -> Singer catalog ---------------------------------------------


def test_incremental_stream_round_trips_to_the_singer_entry() -> None:
    plan = plan_of(configured(airbyte_stream(REST_ENTRY), "incremental"))
    [entry] = plan.catalog["streams"]
    assert plan.streams == ["SalesOrder"]
    assert plan.full_table == set()
    assert plan.notes == []
    assert entry["replication_method"] == "INCREMENTAL"
    assert entry["replication_key"] == STAMP
    assert entry["key_properties"] == ["id"]
    assert ANNOTATION not in entry["schema"]
    root = root_of(entry)
    assert root["selected"] is True
    assert root["replication-method"] == "INCREMENTAL"
    assert root["replication-key"] == STAMP
    assert root["valid-replication-keys"] == [STAMP]
    selected = {tuple(m["breadcrumb"]) for m in entry["metadata"] if m["metadata"].get("selected")}
    assert ("properties", "Details") in selected
    assert ("properties", "Details", "items", "properties", "InventoryID") in selected
    assert ("properties", "BillToContact", "properties", "Email") in selected


def test_field_selection_leaves_out_what_the_schema_no_longer_holds() -> None:
    stream = airbyte_stream(REST_ENTRY)
    stream["json_schema"]["properties"].pop("Details")  # deselected in Airbyte
    [entry] = plan_of(configured(stream, "full_refresh")).catalog["streams"]
    crumbs = [m["breadcrumb"] for m in entry["metadata"]]
    assert ["properties", "Details"] not in crumbs
    assert "Details" not in entry["schema"]["properties"]


def test_full_refresh_and_the_cursor_choices() -> None:
    plan = plan_of(
        configured(airbyte_stream(REST_ENTRY), "full_refresh"),
        configured(airbyte_stream(GI_ENTRY), "incremental", ["LastModifiedOn"]),
        configured(airbyte_stream(DAC_ENTRY), "incremental", []),  # [] = not chosen
    )
    rest, inquiry, dac = plan.catalog["streams"]
    assert rest["replication_method"] == "FULL_TABLE"
    assert "replication_key" not in rest
    assert plan.full_table == {"SalesOrder"}
    assert inquiry["replication_key"] == "LastModifiedOn"  # the user's cursor_field
    assert root_of(inquiry)["valid-replication-keys"] == ["CreatedOn", "LastModifiedOn"]
    assert dac["replication_key"] == STAMP  # the default cursor
    assert dac["table_name"] == "PX_Objects_SO_SOOrder"


def test_incremental_without_any_cursor_reads_the_full_table_with_a_note() -> None:
    plan = plan_of(configured(airbyte_stream(GI_ENTRY), "incremental"))
    assert plan.catalog["streams"][0]["replication_method"] == "FULL_TABLE"
    assert plan.full_table == {"BI-SalesOrders"}
    [note] = plan.notes
    assert "'BI-SalesOrders'" in note
    assert "full table" in note


def test_nested_cursor_and_bad_catalog_are_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="top-level field only"):
        plan_of(configured(airbyte_stream(GI_ENTRY), "incremental", ["a", "b"]))
    with pytest.raises(ConfigError, match="not an Airbyte configured catalog") as exc:
        parse_configured({"streams": [REST_ENTRY]}, "catalog.json")  # a Singer catalog
    assert "catalog.json" in str(exc.value)
    assert "\n" not in str(exc.value)


# --- state ---------------------------------------------------------------------------------

MARK = {"replication_key": STAMP, "replication_key_value": "2024-01-01T00:00:00.000000+00:00"}


def stream_message(name: str, blob: dict | None) -> dict[str, t.Any]:
    return {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": name, "namespace": None}, "stream_state": blob},
    }


def test_state_list_of_stream_messages_as_platform_and_pyairbyte_send_it() -> None:
    raw = [stream_message("Customer", MARK), stream_message("StockItem", {"x": None})]
    assert singer_bookmarks(raw, "s.json") == {"Customer": MARK, "StockItem": {"x": None}}
    # A later null stream_state resets the stream.
    raw.append(stream_message("Customer", None))
    assert singer_bookmarks(raw, "s.json") == {"StockItem": {"x": None}}
    assert singer_bookmarks([], "s.json") == {}
    assert singer_bookmarks(stream_message("Customer", MARK), "s.json") == {"Customer": MARK}


def test_state_global_legacy_and_singer_forms() -> None:
    glob = {
        "type": "GLOBAL",
        "global": {
            "shared_state": {"cdc": 1},
            "stream_states": [
                {"stream_descriptor": {"name": "Customer"}, "stream_state": MARK},
            ],
        },
    }
    assert singer_bookmarks([glob], "s.json") == {"Customer": MARK}
    legacy = {"type": "LEGACY", "data": {"bookmarks": {"Customer": MARK}}}
    assert singer_bookmarks([legacy], "s.json") == {"Customer": MARK}
    assert singer_bookmarks({"data": {"bookmarks": {"Customer": MARK}}}, "s.json") == {
        "Customer": MARK
    }
    assert singer_bookmarks({"bookmarks": {"Customer": MARK}}, "s.json") == {"Customer": MARK}


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ([{"type": "STREAM"}], "STREAM state message without its stream part"),
        ([{"type": "BOGUS"}], "item 0 is not an Airbyte state message"),
        ({"bookmarks": [1]}, "neither a list of Airbyte state messages nor a Singer state"),
        ([{"type": "LEGACY", "data": {"x": 1}}], "nor a Singer state"),
    ],
)
def test_bad_state_is_one_clear_line(raw: t.Any, phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase) as exc:
        singer_bookmarks(raw, "state.json")
    assert "state.json" in str(exc.value)


# --- messages --------------------------------------------------------------------------------


def test_record_fast_path_is_a_valid_record_message_with_exact_decimals() -> None:
    data = {"id": "a", "Amount": decimal.Decimal("12345678901234.5678"), "Note": None}
    raw = protocol.record_line("Customer", data, 1_700_000_000_123)
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1
    message = AirbyteMessage.model_validate_json(raw)
    assert message.record is not None
    assert message.record.stream == "Customer"
    assert message.record.emitted_at == 1_700_000_000_123
    assert json.loads(raw, parse_float=decimal.Decimal)["record"]["data"] == data


def test_messages_leave_out_what_is_not_set() -> None:
    line = json.loads(protocol.line(protocol.stream_state("Customer", {"a": None})))
    assert line == {
        "type": "STATE",
        "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "Customer"}, "stream_state": {"a": None}},
        },
    }
    log = json.loads(protocol.line(protocol.log(30, "careful")))
    assert log == {"type": "LOG", "log": {"level": "WARN", "message": "careful"}}


# --- the writer --------------------------------------------------------------------------


def lines(capsysbinary: pytest.CaptureFixture[bytes]) -> list[dict[str, t.Any]]:
    out = capsysbinary.readouterr().out.decode()
    messages = [json.loads(line) for line in out.splitlines()]
    for message in messages:
        AirbyteMessage.model_validate(message)
    return messages


def kinds(messages: list[dict[str, t.Any]]) -> list[str]:
    out = []
    for m in messages:
        if m["type"] == "TRACE":
            out.append(m["trace"]["stream_status"]["status"])
        elif m["type"] == "STATE":
            out.append("STATE " + m["state"]["stream"]["stream_descriptor"]["name"])
        else:
            out.append(m["type"])
    return out


def test_writer_turns_singer_messages_into_airbyte_ones(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = AirbyteMessageWriter()
    writer.configure(["Customer", "StockItem"], {"StockItem": dict(MARK)})
    state: dict[str, t.Any] = {"bookmarks": {"StockItem": dict(MARK)}}
    writer.write_message(StateMessage(value=state))  # the input state, unchanged: nothing
    writer.write_message(SchemaMessage(stream="Customer", schema={}, key_properties=["id"]))
    writer.write_message(RecordMessage(stream="Customer", record={"id": "1"}))
    writer.write_message(RecordMessage(stream="Customer", record={"id": "2"}))
    state["bookmarks"]["Customer"] = {**MARK, "replication_key_value": "2024-02-01"}
    writer.write_message(StateMessage(value=state))
    writer.write_message(StateMessage(value=state))  # unchanged: nothing
    state["bookmarks"]["Customer"]["replication_key_value"] = "2024-03-01"  # in place
    writer.write_message(StateMessage(value=state))
    state["bookmarks"]["Other"] = {"x": 1}  # not configured: never written
    writer.write_message(StateMessage(value=state))
    writer.finish(complete=True)
    messages = lines(capsysbinary)
    assert kinds(messages) == [
        "STARTED",
        "RUNNING",
        "RECORD",
        "RECORD",
        "STATE Customer",
        "STATE Customer",
        "STATE Customer",  # the end: every stream's final state, then its status
        "COMPLETE",
        "STARTED",  # StockItem wrote nothing: it still starts and ends
        "STATE StockItem",
        "COMPLETE",
    ]
    customer = [m["state"]["stream"]["stream_state"] for m in messages if m["type"] == "STATE"]
    assert customer[0]["replication_key_value"] == "2024-02-01"
    assert customer[1]["replication_key_value"] == "2024-03-01"
    assert customer[3] == MARK  # StockItem's final state is the one it started from


def test_writer_after_an_error_ends_started_streams_incomplete(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = AirbyteMessageWriter()
    writer.configure(["Customer", "StockItem"], {})
    writer.write_message(RecordMessage(stream="Customer", record={"id": "1"}))
    writer.finish(complete=False)
    assert kinds(lines(capsysbinary)) == ["STARTED", "RUNNING", "RECORD", "INCOMPLETE"]


def test_writer_buffers_records_and_flushes_before_anything_else(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    writer = AirbyteMessageWriter()
    writer.configure(["Customer"], {})
    writer.write_message(RecordMessage(stream="Customer", record={"id": "1"}))
    assert capsysbinary.readouterr().out == b""  # held in the buffer
    writer.write_airbyte(protocol.log(20, "hello"))
    assert kinds(lines(capsysbinary)) == ["STARTED", "RUNNING", "RECORD", "LOG"]
    big = {"id": "x" * 70_000}
    writer.write_message(RecordMessage(stream="Customer", record=copy.deepcopy(big)))
    assert kinds(lines(capsysbinary)) == ["RECORD"]  # over BUFFER_BYTES: written at once


def test_configured_catalog_model_accepts_what_pyairbyte_writes() -> None:
    """PyAirbyte dumps the configured catalog with exclude_none and its own defaults."""
    raw = {
        "streams": [
            {
                "stream": airbyte_stream(REST_ENTRY),
                "sync_mode": "incremental",
                "destination_sync_mode": "overwrite",
                "cursor_field": [STAMP],
                "primary_key": [["id"]],
            }
        ]
    }
    ConfiguredAirbyteCatalog.model_validate(raw)
    assert plan_of(*raw["streams"]).catalog["streams"][0]["replication_key"] == STAMP
