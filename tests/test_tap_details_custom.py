"""Detail lines, linked entities and custom fields, driven by the catalog (issue 6)."""

from __future__ import annotations

import decimal
import json
import urllib.request
from urllib.parse import quote, urlencode

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

VERSION = tapkit.REST_VERSION


def raw_truth(
    sim: SimulatorProcess, entity: str, expand: str = "", custom: bool = False
) -> list[dict]:
    query = urlencode({"expand": expand, "version": VERSION, "custom": "1" if custom else ""})
    with urllib.request.urlopen(
        f"{sim.url}__control/truth/{quote(entity)}?{query}", timeout=120
    ) as response:
        return json.loads(response.read(), parse_float=decimal.Decimal)


def list_queries(sim: SimulatorProcess, entity: str) -> list[dict[str, str]]:
    return [
        r["query"] for r in sim.control.requests(kind="list") if r["path"].endswith(f"/{entity}")
    ]


def set_selected(catalog: dict, stream: str, fields: dict[str, bool]) -> dict:
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] != stream:
            continue
        for md in entry["metadata"]:
            crumb = md["breadcrumb"]
            if len(crumb) == 2 and crumb[1] in fields:
                md["metadata"]["selected"] = fields[crumb[1]]
    return catalog


pytestmark = pytest.mark.simulator(sizes={"SalesOrder": 1500, "Customer": 400}, default_size=5)


@pytest.fixture(scope="module")
def catalog(module_sim: SimulatorProcess) -> dict:
    return tapkit.discover(
        tapkit.config_for(
            module_sim,
            tapkit.QUICK_RETRIES,
            entities=["SalesOrder", "Customer"],
            discover_custom_fields=True,
        )
    )


def test_deselecting_fields_shrinks_select(module_sim: SimulatorProcess, catalog: dict) -> None:
    config = tapkit.config_for(module_sim, tapkit.QUICK_RETRIES, entities=["Customer"])
    selected = tapkit.select(catalog, ["Customer"])
    full = tapkit.run_tap(config, catalog=selected)
    assert full.returncode == 0, full.stderr[-2000:]
    assert "$select" not in list_queries(module_sim, "Customer")[-1]  # all selected: no $select
    narrowed = set_selected(
        selected, "Customer", {"CustomerName": False, "Email": False, "CreditLimit": False}
    )
    run = tapkit.run_tap(config, catalog=narrowed)
    assert run.returncode == 0, run.stderr[-2000:]
    select = list_queries(module_sim, "Customer")[-1]["$select"].split(",")
    assert "CustomerName" not in select
    assert "Email" not in select
    assert "LastModifiedDateTime" in select
    assert "CustomerID" in select
    assert all("CustomerName" not in r for r in run.records["Customer"])
    assert run.count("Customer") == 400


def test_selected_details_equal_ground_truth(module_sim: SimulatorProcess, catalog: dict) -> None:
    # page_size 400, not 1000: the orders take several windows, each with its $expand.
    config = tapkit.config_for(
        module_sim, tapkit.QUICK_RETRIES, entities=["SalesOrder"], page_size=400
    )
    selected = tapkit.select(catalog, ["SalesOrder"], {"SalesOrder": ["Details"]})
    run = tapkit.run_tap(config, catalog=selected)
    assert run.returncode == 0, run.stderr[-2000:]
    assert list_queries(module_sim, "SalesOrder")[-1]["$expand"] == "Details"
    schema = run.schemas["SalesOrder"]
    dates = tapkit.date_fields_of(schema)
    expected = {
        r["id"]: tapkit.unwrap(r, dates) for r in raw_truth(module_sim, "SalesOrder", "Details")
    }
    emitted = tapkit.emitted_by_id(run.records["SalesOrder"])
    assert set(emitted) == set(expected)
    lines = 0
    for record_id, record in emitted.items():
        want = [dict(line) for line in expected[record_id]["Details"]]
        got = [dict(line) for line in record["Details"]]
        for line in want + got:
            line.pop("rowNumber", None)
        assert got == want
        lines += len(got)
    assert lines > 1000
    # Details lines typed in the schema, unwrapped in the records.
    items = schema["properties"]["Details"]["items"]["properties"]
    assert items["OrderQty"]["type"] == ["number", "null"]


def test_custom_fields_discovered_typed_requested_and_emitted(
    module_sim: SimulatorProcess, catalog: dict
) -> None:
    entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == "SalesOrder")
    props = entry["schema"]["properties"]
    customs = {n: p for n, p in props.items() if n.startswith("custom__")}
    assert customs["custom__Document__UsrAmount"]["type"] == ["number", "null"]
    assert customs["custom__Document__UsrReviewedDateTime"]["format"] == "date-time"
    assert customs["custom__Document__UsrFlag"]["type"] == ["boolean", "null"]
    assert customs["custom__Document__UsrExternalGuid"]["format"] == "uuid"
    md = {tuple(m["breadcrumb"]): m["metadata"] for m in entry["metadata"]}
    assert md[("properties", "custom__Document__UsrAmount")]["selected-by-default"] is False

    wanted = [
        "custom__Document__UsrAmount",
        "custom__Document__UsrNote",
        "custom__Document__UsrReviewedDateTime",
    ]
    selected = tapkit.select(catalog, ["SalesOrder"], {"SalesOrder": wanted})
    run = tapkit.run_tap(
        tapkit.config_for(module_sim, tapkit.QUICK_RETRIES, entities=["SalesOrder"]),
        catalog=selected,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(list_queries(module_sim, "SalesOrder")[-1]["$custom"].split(",")) == {
        "Document.UsrAmount",
        "Document.UsrNote",
        "Document.UsrReviewedDateTime",
    }
    truth = {
        r["id"]: r["custom"]["Document"] for r in raw_truth(module_sim, "SalesOrder", custom=True)
    }
    for record in run.records["SalesOrder"]:
        want = truth[record["id"]]
        assert record["custom__Document__UsrAmount"] == want["UsrAmount"].get("value")
        assert record["custom__Document__UsrNote"] == want["UsrNote"].get("value")
        stamp = want["UsrReviewedDateTime"].get("value")
        assert record["custom__Document__UsrReviewedDateTime"] == (
            tapkit.utc_text(stamp) if stamp else None
        )
        assert "custom__Document__UsrFlag" not in record


def test_custom_fields_setting_without_discovery(module_sim: SimulatorProcess) -> None:
    config = tapkit.config_for(
        module_sim,
        tapkit.QUICK_RETRIES,
        entities=["Customer"],
        custom_fields={"Customer": ["BAccount.UsrPriority"]},
    )
    found = tapkit.discover(config)
    props = found["streams"][0]["schema"]["properties"]
    assert [n for n in props if n.startswith("custom__")] == ["custom__BAccount__UsrPriority"]
    run = tapkit.run_tap(config, catalog=tapkit.select(found, ["Customer"]))
    assert run.returncode == 0
    truth = {
        r["id"]: r["custom"]["BAccount"]["UsrPriority"].get("value")
        for r in raw_truth(module_sim, "Customer", custom=True)
    }
    assert {r["id"]: r["custom__BAccount__UsrPriority"] for r in run.records["Customer"]} == truth
    bad = tapkit.run_tap(
        tapkit.config_for(
            module_sim,
            tapkit.QUICK_RETRIES,
            entities=["Customer"],
            custom_fields={"Customer": ["BAccount.NoSuchField"]},
        ),
        extra=["--discover"],
    )
    assert bad.returncode == 1
    assert "BAccount.NoSuchField not found" in bad.stderr


def test_wide_custom_request_is_split_and_merged(
    module_sim: SimulatorProcess, catalog: dict
) -> None:
    every = [
        n
        for n in next(s for s in catalog["streams"] if s["tap_stream_id"] == "SalesOrder")[
            "schema"
        ]["properties"]
        if n.startswith("custom__")
    ]
    selected = tapkit.select(catalog, ["SalesOrder"], {"SalesOrder": every})
    module_sim.control.reset(
        sizes={"SalesOrder": 1500, "Customer": 400}, default_size=5, max_query_string=400
    )
    try:
        run = tapkit.run_tap(
            tapkit.config_for(module_sim, tapkit.QUICK_RETRIES, entities=["SalesOrder"]),
            catalog=selected,
        )
    finally:
        module_sim.control.reset(sizes={"SalesOrder": 1500, "Customer": 400}, default_size=5)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "splitting them" in run.stderr
    truth = {
        r["id"]: r["custom"]["Document"] for r in raw_truth(module_sim, "SalesOrder", custom=True)
    }
    assert run.count("SalesOrder") == 1500
    for record in run.records["SalesOrder"]:
        assert record["custom__Document__UsrBigCounter"] == truth[record["id"]][
            "UsrBigCounter"
        ].get("value")
        assert record["custom__Document__UsrRank"] == truth[record["id"]]["UsrRank"].get("value")


def test_optimization_failure_reads_fields_per_record(
    module_sim: SimulatorProcess, catalog: dict
) -> None:
    selected = tapkit.select(catalog, ["Customer"], {"Customer": ["MainContact"]})
    module_sim.control.faults(optimization_failure={"Customer": ["MainContact"]})
    try:
        run = tapkit.run_tap(
            tapkit.config_for(module_sim, tapkit.QUICK_RETRIES, entities=["Customer"]),
            catalog=selected,
        )
    finally:
        module_sim.control.faults()
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Optimization cannot be performed" in run.stderr
    assert "reading it record by record" in run.stderr
    dates = tapkit.date_fields_of(run.schemas["Customer"])
    expected = {
        r["id"]: tapkit.unwrap(r, dates) for r in raw_truth(module_sim, "Customer", "MainContact")
    }
    emitted = tapkit.emitted_by_id(run.records["Customer"])
    assert set(emitted) == set(expected)
    for record_id, record in emitted.items():
        want = dict(expected[record_id]["MainContact"] or {})
        got = dict(record["MainContact"] or {})
        want.pop("rowNumber", None)
        got.pop("rowNumber", None)
        assert got == want
        assert record["CustomerID"] == expected[record_id]["CustomerID"]
