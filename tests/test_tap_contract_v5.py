"""Endpoint versions 25.200.001 and 26.200.001 (both builds) through real HTTP.

For each, the simulator serves Acumatica's real excerpt, completed (tests/simulator/
excerpts.py), and records in that contract's wire shape (v5 drop-downs as ``{"id",
"description"}``, ``{}`` for no value, UTC stamps with 0 to 7 fraction digits). One
discovery and one full sync per build, every detail collection, linked entity and a few
custom fields selected; then:

* discovery lists the document's top-level entities, every linked entity and detail
  collection (the ones the issue saw vanish with the released build's ``anyOf``);
* every emitted record validates against the SCHEMA the tap emitted (jsonschema, with the
  formats date-time, date and uuid checked);
* every drop-down value the simulator holds comes out as its label ``X`` and its typed id
  ``X__id``, at the top level, in detail lines, in linked entities and in custom fields
  (25.200.001: the label alone, as up to 24.200.001).
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from dataclasses import dataclass

import jsonschema
import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

BUILDS = [("25.200.001", "d509b1cf"), ("26.200.001", "4cf7684"), ("26.200.001", "d1a8f665")]
#: Top-level entities of each served document (the excerpt's, plus Event for d1a8f665:
#: the excerpt's EventTimeActivity is only reachable through it).
ENTITIES = {
    "d509b1cf": {
        "AttributeDefinition",
        "Customer",
        "JournalTransaction",
        "SalesInvoice",
        "SalesOrder",
        "StockItem",
    },
    "4cf7684": {
        "AttributeDefinition",
        "Customer",
        "CustomerLocation",
        "JournalTransaction",
        "SalesInvoice",
        "SalesOrder",
        "StockItem",
    },
    "d1a8f665": {
        "Customer",
        "Event",
        "JournalTransaction",
        "SalesInvoice",
        "SalesOrder",
        "StockItem",
    },
}
#: The issue's lists: what the released build's ``anyOf`` declarations used to hide.
LINKED = {
    "SalesOrder": {
        "BillToAddress",
        "BillToContact",
        "ShipToAddress",
        "ShipToContact",
        "Commissions",
        "FinancialSettings",
        "ShippingSettings",
        "Totals",
    },
    "Customer": {
        "MainContact",
        "PrimaryContact",
        "BillingContact",
        "ShippingContact",
        "CreditVerificationRules",
    },
}
V4_CUSTOM = ["UsrNote", "UsrAmount"]
V5_CUSTOM = [*V4_CUSTOM, "UsrRegion", "UsrTier", "UsrTags"]
VIEWS = {"SalesOrder": "Document", "Customer": "BAccount", "StockItem": "Item"}
SIZE = 40
pytestmark = pytest.mark.simulator(default_size=SIZE)


def nested(schema: dict[str, t.Any]) -> list[str]:
    """The detail collections and linked entities of a stream schema."""
    return [
        name
        for name, prop in schema["properties"].items()
        if name != "files"
        and (
            "properties" in prop.get("items", {})
            or ("object" in prop.get("type", []) and "properties" in prop)
        )
    ]


@dataclass
class Loaded:
    version: str
    build: str
    sim: SimulatorProcess
    catalog: dict[str, t.Any]
    run: tapkit.TapRun

    @property
    def v5(self) -> bool:
        return self.version == "26.200.001"

    def truth(self, entity: str) -> dict[str, dict[str, t.Any]]:
        schema = self.run.schemas[entity]
        records = self.sim.control.truth(
            entity, expand=",".join(nested(schema)), custom=True, version=self.version
        )
        return {r["id"]: r for r in records}


@pytest.fixture(scope="module", params=BUILDS, ids=[f"{v}@{b}" for v, b in BUILDS])
def loaded(request: pytest.FixtureRequest, module_sim: SimulatorProcess) -> Loaded:
    version, build = request.param
    module_sim.configure(versions=[version], contract_builds={version: build}, default_size=SIZE)
    customs = V5_CUSTOM if version == "26.200.001" else V4_CUSTOM
    # Custom fields are read only when named (custom_fields): this test reads some.
    config = tapkit.config_for(
        module_sim,
        endpoint_version=version,
        custom_fields={e: [f"{v}.{f}" for f in customs] for e, v in VIEWS.items()},
    )
    discovered = tapkit.discover(config)
    streams = {e["tap_stream_id"]: e for e in discovered["streams"]}
    fields = {name: nested(entry["schema"]) for name, entry in streams.items()}
    catalog = tapkit.select(discovered, list(streams), fields)
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    return Loaded(version, build, module_sim, discovered, run)


def test_discovery_lists_every_entity_linked_entity_and_detail_collection(
    loaded: Loaded,
) -> None:
    streams = {e["tap_stream_id"]: e["schema"] for e in loaded.catalog["streams"]}
    assert set(streams) == ENTITIES[loaded.build]
    for entity, names in LINKED.items():
        props = streams[entity]["properties"]
        for name in names:
            assert props[name]["type"] == ["object", "null"], (entity, name)
    order = streams["SalesOrder"]["properties"]
    assert order["Details"]["items"]["properties"]["LineType"] == {"type": ["string", "null"]}
    assert "cannot be typed" not in loaded.run.stderr
    stamp = "LastModifiedDateTime" if loaded.v5 else "LastModified"
    entry = next(e for e in loaded.catalog["streams"] if e["tap_stream_id"] == "SalesOrder")
    assert entry["replication_key"] == stamp


def _checker() -> jsonschema.FormatChecker:
    """jsonschema's own checker plus date-time (it needs an optional package for that)."""
    checker = jsonschema.FormatChecker()
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not rfc3339.match(value):
            raise ValueError(value)
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    return checker


def test_every_record_validates_against_the_emitted_schema(loaded: Loaded) -> None:
    checker = _checker()
    assert {"date", "date-time", "uuid"} <= set(checker.checkers)
    formats: set[str] = set()
    for stream, records in loaded.run.records.items():
        schema = loaded.run.schemas[stream]
        validator = jsonschema.Draft7Validator(schema, format_checker=checker)
        assert len(records) == SIZE, stream
        for record in records:
            errors = sorted(validator.iter_errors(record), key=str)
            assert not errors, (stream, record["id"], [e.message for e in errors[:3]])
            assert set(record) <= set(schema["properties"]), stream
        formats |= {p.get("format") for p in schema["properties"].values()}
    if loaded.build == "d1a8f665":
        assert "date" in formats  # JournalTransaction.TransactionDate: a DateOnlyValue


def _selects(raw: t.Any, path: str, out: list[tuple[str, t.Any, t.Any]]) -> None:
    """(path, raw value, field) of every drop-down value in a raw truth record."""
    if not isinstance(raw, dict):
        return
    for key, value in raw.items():
        if isinstance(value, list):
            for line in value:
                _selects(line, f"{path}{key}[{line.get('id')}].", out)
        elif isinstance(value, dict) and "value" in value:
            inner = value["value"]
            if isinstance(inner, dict) or (
                isinstance(inner, list) and inner and isinstance(inner[0], dict)
            ):
                out.append((path + key, inner, value))
        elif key == "custom" and isinstance(value, dict):
            for view, fields in value.items():
                for name, field in fields.items():
                    inner = field.get("value")
                    if isinstance(inner, dict | list):
                        out.append((f"{path}custom__{view}__{name}", inner, field))
        elif isinstance(value, dict):
            _selects(value, f"{path}{key}.", out)


def _emitted(record: dict[str, t.Any], path: str) -> dict[str, t.Any]:
    """The emitted object a truth path points into, and the column name at its end."""
    node: t.Any = record
    parts = re.findall(r"([^.\[\]]+)(?:\[([^\]]+)\])?", path)
    for key, line_id in parts[:-1]:
        node = node[key]
        if line_id:
            node = next(line for line in node if line["id"] == line_id)
    return t.cast("dict[str, t.Any]", node)


def test_select_values_round_trip_at_every_level(loaded: Loaded) -> None:
    levels = {"top": 0, "detail": 0, "linked": 0, "custom": 0}
    for stream, records in loaded.run.records.items():
        truth = loaded.truth(stream)
        for record in records:
            found: list[tuple[str, t.Any, t.Any]] = []
            _selects(truth[record["id"]], "", found)
            for path, inner, _field in found:
                node = _emitted(record, path)
                name = path.rsplit(".", 1)[-1]
                if name.startswith("custom__") and stream not in VIEWS:
                    continue  # custom fields were named for the VIEWS entities only
                if isinstance(inner, list):
                    labels = [i.get("description") for i in inner]
                    ids = [i.get("id") for i in inner]
                else:
                    labels, ids = inner.get("description"), inner.get("id")
                assert node[name] == labels, (stream, path)
                assert node[name + "__id"] == ids, (stream, path)
                level = (
                    "custom"
                    if name.startswith("custom__")
                    else "detail"
                    if "[" in path
                    else "linked"
                    if "." in path
                    else "top"
                )
                levels[level] += 1
    if not loaded.v5:
        assert levels == {"top": 0, "detail": 0, "linked": 0, "custom": 0}
        return
    assert min(levels["top"], levels["detail"], levels["custom"]) > 0, levels
    if loaded.build == "d1a8f665":
        assert levels["linked"], levels  # Event.TimeActivity: IntSingleSelectValue


def test_integer_ids_and_multi_select_arrays_are_typed(loaded: Loaded) -> None:
    if not loaded.v5:
        return
    orders = loaded.run.records["SalesOrder"]
    tiers = {r["custom__Document__UsrTier__id"] for r in orders} - {None}
    assert tiers
    assert all(isinstance(v, int) for v in tiers)
    tags = [r["custom__Document__UsrTags__id"] for r in orders if r["custom__Document__UsrTags"]]
    assert tags
    assert all(isinstance(v, list) for v in tags)
    if loaded.build == "d1a8f665":
        spans = [
            r["TimeActivity"]["TimeSpent__id"]
            for r in loaded.run.records["Event"]
            if r["TimeActivity"] and r["TimeActivity"]["TimeSpent__id"] is not None
        ]
        assert spans
        assert all(isinstance(v, int) for v in spans)


def test_v4_drop_downs_stay_plain_labels(loaded: Loaded) -> None:
    """25.200.001 is contract v4: the label is the value, and no ``__id`` column exists."""
    if loaded.v5:
        return
    for stream, schema in loaded.run.schemas.items():
        assert not [p for p in schema["properties"] if p.endswith("__id")], stream
    truth = loaded.truth("SalesOrder")
    for record in loaded.run.records["SalesOrder"]:
        assert record["Status"] == truth[record["id"]]["Status"].get("value")


def test_linked_entities_carry_their_data(loaded: Loaded) -> None:
    truth = loaded.truth("Customer")
    for record in loaded.run.records["Customer"]:
        for name in LINKED["Customer"]:
            assert record[name]["id"] == truth[record["id"]][name]["id"], name


def test_one_column_of_a_drop_down_selected_reads_its_field_once(loaded: Loaded) -> None:
    """``Status`` deselected, ``Status__id`` kept: ``$select`` names the field ``Status``
    (never ``Status__id``, which the ERP does not know) and the id still comes out."""
    if not loaded.v5:
        return
    config = tapkit.config_for(loaded.sim, endpoint_version=loaded.version)
    catalog = tapkit.select(loaded.catalog, ["SalesOrder"])
    for md in catalog["streams"][0]["metadata"]:
        if md["breadcrumb"] in (["properties", "Status"], ["properties", "Hold"]):
            md["metadata"]["selected"] = False
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    truth = loaded.truth("SalesOrder")
    for record in run.records["SalesOrder"]:
        assert "Status" not in record
        assert "Hold" not in record
        inner = truth[record["id"]]["Status"].get("value") or {}
        assert record["Status__id"] == inner.get("id")
    selects = {
        name
        for request in loaded.sim.control.requests("list")
        for name in request["query"].get("$select", "").split(",")
    }
    assert "Status" in selects
    assert "Status__id" not in selects


def test_full_table_reads_hold_every_record(loaded: Loaded) -> None:
    """``replication-method: FULL_TABLE`` (Meltano's ``metadata:``): overlapping ``$skip``
    pages in this contract's shape; every record, none twice, no bookmark."""
    config = tapkit.config_for(loaded.sim, endpoint_version=loaded.version)
    catalog = tapkit.select(loaded.catalog, ["SalesOrder", "Customer"])
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        root["replication-method"] = "FULL_TABLE"
    # A page smaller than the entity: several overlapping pages are read.
    run = tapkit.run_tap({**config, "page_size": 15}, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    for entity in ("SalesOrder", "Customer"):
        ids = [r["id"] for r in run.records[entity]]
        assert len(ids) == len(set(ids)) == SIZE, entity
        assert set(ids) == set(loaded.truth(entity)), entity
        assert "replication_key_value" not in (run.last_state or {}).get("bookmarks", {}).get(
            entity, {}
        )
