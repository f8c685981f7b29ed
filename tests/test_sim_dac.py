"""The simulator's DAC-based OData service over real HTTP, in both URL families."""

from __future__ import annotations

import decimal
import typing as t
import xml.etree.ElementTree as ET

import pytest
import requests

from tests.simulator.process import SimulatorProcess

ROOTS = {"v4": "t/Company/api/odata/dac/", "legacy": "ODatav4/Company/", "bare": "ODatav4/"}
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


pytestmark = pytest.mark.simulator(seed=5, dac={"forbidden": ["ARInvoice"]})


@pytest.fixture
def http(sim: SimulatorProcess) -> requests.Session:
    session = requests.Session()
    session.auth = (sim.credentials["username"], sim.credentials["password"])
    return session


def rows(response: requests.Response) -> list[dict[str, t.Any]]:
    assert response.status_code == 200, response.text
    return t.cast("list[dict[str, t.Any]]", response.json(parse_float=decimal.Decimal)["value"])


@pytest.mark.parametrize("family", list(ROOTS))
def test_service_document_lists_each_dac_under_three_names(sim, http, family) -> None:
    body = http.get(sim.url + ROOTS[family]).json()
    names = {v["name"] for v in body["value"]}
    assert {"PX_Objects_SO_SOOrder", "SalesOrder", "SOOrder", "PX_Objects_AR_Customer"} <= names
    assert body["@odata.context"].endswith("$metadata")


def test_paths_match_in_any_letter_case(sim, http) -> None:
    for path in ("t/company/API/OData/DAC/SOOrder", "odatav4/SOOrder", "ODATAV4/company/soorder"):
        assert len(rows(http.get(sim.url + path, params={"$top": 2}))) == 2, path


def test_metadata_has_base_type_keys_and_navigation(sim, http) -> None:
    response = http.get(sim.url + ROOTS["v4"] + "$metadata")
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    types = {e.get("Name"): e for e in root.iter(f"{EDM}EntityType")}
    customer = types["Customer"]
    assert customer.get("BaseType") == "PX.Objects.CR.BAccount"
    assert customer.find(f"{EDM}Key") is None  # inherited from BAccount
    assert "AcctCD" not in {p.get("Name") for p in customer.iter(f"{EDM}Property")}
    keys = [r.get("Name") for r in types["SOLine"].iter(f"{EDM}PropertyRef")]
    assert keys == ["OrderType", "OrderNbr", "LineNbr"]
    navs = {n.get("Name") for n in types["SOOrder"].iter(f"{EDM}NavigationProperty")}
    assert {"SOLineCollection", "CustomerByCustomerID"} <= navs
    sets = [s.get("Name") for s in root.iter(f"{EDM}EntitySet")]
    assert {"PX_Objects_SO_SOOrder", "SalesOrder", "SOOrder"} <= set(sets)


def test_values_shaped_like_the_recorded_responses(sim, http) -> None:
    item = rows(http.get(sim.url + ROOTS["legacy"] + "InventoryItem", params={"$top": 1}))[0]
    assert len(item["InventoryCD"]) == 10
    assert item["InventoryCD"].endswith(" ")
    assert isinstance(item["BasePrice"], decimal.Decimal)
    assert item["tstamp"]
    assert len(__import__("base64").b64decode(item["tstamp"])) == 8
    order = rows(http.get(sim.url + ROOTS["v4"] + "SOOrder", params={"$top": 5}))
    offsets = {o["LastModifiedDateTime"][23:] for o in order}
    assert len(offsets) > 1  # one instant written with different offsets


def test_default_order_is_the_key_and_orderby_filter_select_top_skip(sim, http) -> None:
    url = sim.url + ROOTS["v4"] + "SOLine"
    every = rows(http.get(url))
    keys = [(r["OrderType"], r["OrderNbr"], r["LineNbr"]) for r in every]
    assert keys == sorted(keys)
    stamp = sorted(r["LastModifiedDateTime"] for r in every)[len(every) // 2]
    params = {
        "$filter": f"LastModifiedDateTime gt {stamp} or (OrderType eq 'SO' and LineNbr ge 3)",
        "$orderby": "LastModifiedDateTime desc,OrderNbr,LineNbr",
        "$select": "orderNbr,LineNbr,LastModifiedDateTime",
        "$top": 7,
        "$skip": 2,
    }
    got = rows(http.get(url, params=params))
    assert len(got) == 7
    assert set(got[0]) == {"OrderNbr", "LineNbr", "LastModifiedDateTime"}


def test_ieee754_compatible_writes_decimals_and_int64_as_strings(sim, http) -> None:
    url = sim.url + ROOTS["v4"] + "SOOrder"
    accept = {"Accept": "application/json;odata.metadata=minimal;IEEE754Compatible=true"}
    response = http.get(
        url, params={"$top": 1, "$select": "CuryOrderTotal,CuryInfoID"}, headers=accept
    )
    row = response.json()["value"][0]
    assert isinstance(row["CuryOrderTotal"], str)
    assert isinstance(row["CuryInfoID"], str)
    assert "IEEE754Compatible=true" in response.headers["Content-Type"]


def test_deleted_records_feed_and_untracked_dac(sim, http) -> None:
    done = sim.control._call("POST", "dac/mutate", {"dac": "SOOrder", "delete": 3})
    url = sim.url + ROOTS["v4"] + "SOOrder/px.GetDeletedRecords()"
    got = rows(http.get(url, params={"$filter": "DeleteDate ge 2024-11-01T00:00:00Z"}))
    assert {d["NoteID"] for d in done["deleted"]} <= {g["NoteID"] for g in got}
    assert all(set(g) == {"NoteID", "DeleteDate"} for g in got)
    untracked = http.get(sim.url + ROOTS["v4"] + "InventoryItem/px.GetDeletedRecords()")
    assert untracked.status_code == 400
    assert "SM207010" in untracked.json()["error"]["message"]


def test_soft_deleted_rows_only_with_px_apideleted_show(sim, http) -> None:
    done = sim.control._call("POST", "dac/mutate", {"dac": "Customer", "delete": 1})
    bacct = done["deleted"][0]["BAccountID"]
    flt = {"$filter": f"BAccountID eq {bacct}"}
    url = sim.url + ROOTS["v4"] + "Customer"
    assert rows(http.get(url, params=flt)) == []
    shown = rows(http.get(url, params=flt, headers={"PX-ApiDeleted": "SHOW"}))
    assert shown
    assert shown[0]["DeletedDatabaseRecord"] is True


def test_forbidden_dac_unknown_tenant_and_bad_password(sim, http) -> None:
    response = http.get(sim.url + ROOTS["v4"] + "PX_Objects_AR_ARInvoice")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "You do not have access to this entity set."
    assert http.get(sim.url + "t/Nowhere/api/odata/dac/SOOrder").status_code == 404
    assert http.get(sim.url + "ODatav4/Nowhere/SOOrder").status_code == 404
    bad = requests.get(sim.url + ROOTS["v4"] + "SOOrder", auth=("admin", "wrong"))
    assert bad.status_code == 401


def test_unknown_property_is_a_400(sim, http) -> None:
    response = http.get(sim.url + ROOTS["v4"] + "SOOrder", params={"$select": "Nope"})
    assert response.status_code == 400
    assert "Nope" in response.json()["error"]["message"]


def test_control_truth_and_live_mutation(sim, http) -> None:
    before = sim.control._call("GET", "dac/truth/SOOrder")
    sim.control._call("POST", "dac/live", {"dac": "SOOrder", "every": 1, "update": 1, "insert": 1})
    try:
        rows(http.get(sim.url + ROOTS["v4"] + "SOOrder", params={"$top": 1}))
    finally:
        sim.control._call("POST", "dac/live", {})
    after = sim.control._call("GET", "dac/truth/SOOrder")
    assert len(after) == len(before) + 1
    assert isinstance(after[0]["CuryOrderTotal"], str)  # exact decimals in the truth


@pytest.mark.simulator(dac={"synthetic_types": 300})
def test_synthetic_metadata_for_the_discovery_benchmark(sim: SimulatorProcess) -> None:
    size = sim.control._call("GET", "dac/metadata-size")["bytes"]
    response = requests.get(
        sim.url + "t/Company/api/odata/dac/$metadata",
        auth=(sim.credentials["username"], sim.credentials["password"]),
    )
    assert len(response.content) == size
    count = sum(1 for _ in ET.fromstring(response.content).iter(f"{EDM}EntityType"))
    assert count == 300 + 7
    assert size > 300 * 6000  # ~8 KB per type, like a real 20 MB / 2,265-type document
