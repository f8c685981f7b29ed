"""DAC-based OData end to end: the tap CLI against the simulator, both URL families.

Ground truth comes from the simulator's control API (``__control/dac/truth``), rendered
independently of the tap; expected records are computed from the schema the tap announced.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import typing as t
from urllib.parse import quote

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

FAMILIES = ["v4", "legacy"]


def control(sim: SimulatorProcess, method: str, path: str, body: dict | None = None) -> t.Any:
    return sim.control._call(method, path, body)


def truth(sim: SimulatorProcess, dac: str, deleted: bool = False) -> list[dict[str, t.Any]]:
    return t.cast(
        "list[dict[str, t.Any]]",
        control(sim, "GET", f"dac/truth/{quote(dac)}" + ("?deleted=1" if deleted else "")),
    )


def expected(row: dict[str, t.Any], schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """A truth row as the tap must emit it (from the schema it announced)."""
    out: dict[str, t.Any] = {}
    for name, value in row.items():
        prop = schema["properties"][name]
        if value is None:
            out[name] = None
        elif prop.get("format") == "date-time":
            out[name] = tapkit.utc_text(value)
        elif "number" in prop["type"]:
            out[name] = decimal.Decimal(str(value))
        elif "integer" in prop["type"]:
            out[name] = int(value)  # the truth writes Int64 as text (IEEE754Compatible)
        else:
            out[name] = value
    return out


def by_key(
    records: list[dict[str, t.Any]], keys: list[str], changed_twice: bool = False
) -> dict[tuple, dict[str, t.Any]]:
    """Records by key. A key may come twice only with ``changed_twice``: a row changed
    during the run reappears after its new stamp (still inside the run's upper bound), and
    the later record must then be the newer version (what an upserting target keeps)."""
    out: dict[tuple, dict[str, t.Any]] = {}
    for record in records:
        key = tuple(record[k] for k in keys)
        if key in out:
            assert changed_twice, f"duplicate {key}"
            first = out[key]["LastModifiedDateTime"]
            assert record["LastModifiedDateTime"] > first, f"{key} came back without a change"
        out[key] = {k: v for k, v in record.items() if k != "_sdc_deleted_at"}
    return out


pytestmark = pytest.mark.simulator(seed=21)


# --- discovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_discovery_names_types_and_keys_through_base_type(sim, family) -> None:
    catalog = tapkit.discover(tapkit.config_for(sim, schema="DAC", odata_url_style=family))
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    # One stream per EntityType although each DAC is listed under three entity sets.
    assert set(streams) == {
        "BAccount",
        "Customer",
        "SOOrder",
        "SOLine",
        "InventoryItem",
        "ARInvoice",
        "INSiteStatus",
    }
    customer = streams["Customer"]
    assert customer["key_properties"] == ["BAccountID"]  # inherited from BAccount
    props = customer["schema"]["properties"]
    assert {"AcctCD", "AcctName", "CreditLimit", "NoteID", "_sdc_deleted_at"} <= set(props)
    assert "BAccountByParentBAccountID" not in props  # navigation properties are not fields
    assert customer["table_name"] == "PX_Objects_AR_Customer"
    assert streams["SOLine"]["key_properties"] == ["OrderType", "OrderNbr", "LineNbr"]
    assert streams["SOOrder"]["replication_key"] == "LastModifiedDateTime"
    assert streams["INSiteStatus"].get("replication_key") is None  # no stamp: full table
    order = streams["SOOrder"]["schema"]["properties"]
    assert order["CuryOrderTotal"]["type"] == ["number", "null"]
    assert order["CuryInfoID"]["type"] == ["integer", "null"]
    assert order["LastModifiedDateTime"]["format"] == "date-time"
    assert order["NoteID"]["format"] == "uuid"
    assert order["tstamp"] == {"type": ["string", "null"], "contentEncoding": "base64"}
    assert order["Hold"]["type"] == ["boolean", "null"]
    item = streams["InventoryItem"]["schema"]["properties"]
    assert item["CycleDays"]["type"] == ["integer", "null"]  # Edm.Byte
    assert item["MarkupPct"]["type"] == ["number", "null"]  # Edm.Single
    assert streams["SOLine"]["schema"]["properties"]["SortOrder"]["type"] == ["integer", "null"]


def test_dacs_setting_limits_discovery_and_names_unknown_ones(sim) -> None:
    catalog = tapkit.discover(
        tapkit.config_for(
            sim, schema="DAC", odata_url_style="v4", dacs=["soorder", "PX_Objects_AR_Customer"]
        )
    )
    assert sorted(s["tap_stream_id"] for s in catalog["streams"]) == ["Customer", "SOOrder"]
    run = tapkit.run_tap(
        tapkit.config_for(sim, schema="DAC", odata_url_style="v4", dacs=["SOOrder", "NoSuchDac"]),
        extra=["--discover"],
    )
    tapkit.assert_one_clear_error(run, "NoSuchDac")


@pytest.mark.parametrize(
    ("path", "family"),
    [("t/Company/api/odata/dac/", "v4"), ("ODatav4/Company/", "legacy"), ("ODatav4/", "legacy")],
)
def test_pasted_service_url_and_auto_probe(sim, path, family) -> None:
    config = tapkit.config_for(
        sim, schema="DAC", odata_url_style="auto", url=sim.url + path, dacs=["SOOrder"]
    )
    if path == "ODatav4/":
        config.pop("company")  # a single-tenant site: no tenant segment at all
    run = tapkit.run_tap(config, extra=["--discover"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert [s["tap_stream_id"] for s in json.loads(run.stdout)["streams"]] == ["SOOrder"]
    auto = tapkit.run_tap(
        tapkit.config_for(sim, schema="DAC", odata_url_style="auto", dacs=["SOOrder"]),
        extra=["--discover"],
    )
    assert "using DAC-based OData (t/<company>/api/odata/dac/)" in auto.stderr


def test_catalog_sync_never_fetches_metadata(sim) -> None:
    config = tapkit.config_for(sim, schema="DAC", odata_url_style="v4", dacs=["InventoryItem"])
    catalog = tapkit.select(tapkit.discover(config), ["InventoryItem"])
    before = control(sim, "GET", "counters")["requests_by_kind"].get("dac_metadata", 0)
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert control(sim, "GET", "counters")["requests_by_kind"].get("dac_metadata", 0) == before
    assert run.count("InventoryItem") == len(truth(sim, "InventoryItem"))


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_full_sync_equals_ground_truth(sim, family) -> None:
    config = tapkit.config_for(sim, schema="DAC", odata_url_style=family)
    names = ["SOOrder", "Customer", "InventoryItem", "INSiteStatus"]
    catalog = tapkit.select(tapkit.discover(config), names)
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    for entry in catalog["streams"]:
        name, keys = entry["tap_stream_id"], entry["key_properties"]
        schema = run.schemas[name]
        want = by_key([expected(r, schema) for r in truth(sim, name)], keys)
        assert by_key(run.records[name], keys) == want, name
    padded = run.records["InventoryItem"][0]["InventoryCD"]
    assert len(padded) == 10  # CHAR values as sent (space-padded)


def _run_with_live_changes(
    sim: SimulatorProcess,
    config: dict[str, t.Any],
    dac: str,
    state: dict | None = None,
    **live: int,
) -> tapkit.TapRun:
    catalog = tapkit.select(tapkit.discover({**config, "dacs": [dac]}), [dac])
    control(sim, "POST", "dac/live", {"dac": dac, "every": 1, **live})
    try:
        run = tapkit.run_tap(config, catalog=catalog, state=state)
    finally:
        control(sim, "POST", "dac/live", {})
    assert run.returncode == 0, run.stderr[-2000:]
    return run


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.simulator(seed=3)
def test_incremental_keyset_equals_truth_while_rows_change_between_pages(sim, family) -> None:
    # page_size 50: many pages from a 900-row table, each followed by changes.
    config = tapkit.config_for(sim, schema="DAC", odata_url_style=family, page_size=50)
    keys = ["OrderType", "OrderNbr", "LineNbr"]
    run1 = _run_with_live_changes(sim, config, "SOLine", update=3, insert=2)
    bookmark = run1.last_state["bookmarks"]["SOLine"]["replication_key_value"]
    schema = run1.schemas["SOLine"]
    now = [expected(r, schema) for r in truth(sim, "SOLine")]
    emitted = by_key(run1.records["SOLine"], keys, changed_twice=True)
    settled = {k: v for k, v in by_key(now, keys).items() if v["LastModifiedDateTime"] <= bookmark}
    # Every row stamped up to the bookmark is in run 1 as it is now; rows changed
    # during run 1 carry later stamps and are left to run 2.
    assert {k: emitted.get(k) for k in settled} == settled
    assert len(settled) < len(now)  # some rows really changed during run 1
    requests = [r for r in sim.control.requests("dac") if "SOLine" in r["path"]]
    assert len(requests) > 10
    assert all("$skip" not in r["query"] for r in requests)  # keyset, never $skip
    assert all(r["query"]["$orderby"].startswith("LastModifiedDateTime,") for r in requests[1:])
    run2 = tapkit.run_tap(
        config,
        catalog=tapkit.select(tapkit.discover({**config, "dacs": ["SOLine"]}), ["SOLine"]),
        state=run1.last_state,
    )
    merged = {**emitted, **by_key(run2.records.get("SOLine", []), keys, changed_twice=True)}
    assert merged == by_key(now, keys)
    # Run 2 is an increment: only rows changed after run 1's bookmark.
    assert all(r["LastModifiedDateTime"] > bookmark for r in run2.records.get("SOLine", []))
    assert len(run2.records.get("SOLine", [])) < len(now) // 4


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.simulator(seed=4)
def test_full_table_keyset_loses_no_row_while_rows_are_deleted_between_pages(sim, family) -> None:
    # page_size 20: many pages of a 150-row table; each page is followed by a delete,
    # which shifts every later row by one for a $skip reader.
    config = tapkit.config_for(sim, schema="DAC", odata_url_style=family, page_size=20)
    keys = ["InventoryID", "SubItemID", "SiteID"]
    before = {tuple(r[k] for k in keys) for r in truth(sim, "INSiteStatus")}
    run = _run_with_live_changes(sim, config, "INSiteStatus", delete=1, update=1)
    after = {tuple(r[k] for k in keys) for r in truth(sim, "INSiteStatus")}
    emitted = by_key(run.records["INSiteStatus"], keys)  # asserts no duplicates
    assert before & after <= set(emitted)
    assert len(before - after) >= 5  # rows really were deleted while paging


# --- deletes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.simulator(seed=8)
def test_deletes_are_emitted_with_sdc_deleted_at(sim, family) -> None:
    config = tapkit.config_for(sim, schema="DAC", odata_url_style=family, detect_deletes=True)
    names = ["SOOrder", "Customer", "InventoryItem"]
    catalog = tapkit.select(tapkit.discover(config), names)
    for entry in catalog["streams"]:
        assert entry["key_properties"] == ["NoteID"]
        assert "_sdc_deleted_at" in entry["schema"]["properties"]
    run1 = tapkit.run_tap(config, catalog=catalog)
    assert run1.returncode == 0, run1.stderr[-2000:]
    assert not any(r.get("_sdc_deleted_at") for rs in run1.records.values() for r in rs)
    orders = control(sim, "POST", "dac/mutate", {"dac": "SOOrder", "delete": 4, "update": 2})
    customers = control(sim, "POST", "dac/mutate", {"dac": "Customer", "delete": 2})
    run2 = tapkit.run_tap(config, catalog=catalog, state=run1.last_state)
    assert run2.returncode == 0, run2.stderr[-2000:]
    gone = {d["NoteID"] for d in orders["deleted"]}
    deleted = {r["NoteID"]: r for r in run2.records["SOOrder"] if r.get("_sdc_deleted_at")}
    assert set(deleted) == gone
    feed = {d["NoteID"]: d["DeleteDate"] for d in control(sim, "GET", "dac/deleted/SOOrder")}
    for note, record in deleted.items():
        assert record["_sdc_deleted_at"] == tapkit.utc_text(feed[note])
    live = [r for r in run2.records["SOOrder"] if not r.get("_sdc_deleted_at")]
    assert len(live) == 2  # the updates
    soft = {r["NoteID"] for r in run2.records["Customer"] if r.get("_sdc_deleted_at")}
    assert soft == {d["NoteID"] for d in customers["deleted"]}
    soft_rows = [r for r in run2.records["Customer"] if r.get("DeletedDatabaseRecord")]
    assert soft_rows
    assert all(r["_sdc_deleted_at"] == r["LastModifiedDateTime"] for r in soft_rows)
    # InventoryItem has no deletion tracking: one warning, and it is read without deletes.
    warnings = [line for line in run2.stderr.splitlines() if "no deleted-records feed" in line]
    assert len(warnings) == 1
    assert "InventoryItem" in warnings[0]
    assert "SM207010" in warnings[0]


def test_delete_bookmark_older_than_retention_warns(sim) -> None:
    config = tapkit.config_for(
        sim, schema="DAC", odata_url_style="v4", detect_deletes=True, dacs=["ARInvoice"]
    )
    catalog = tapkit.select(tapkit.discover(config), ["ARInvoice"])
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=12)).isoformat()
    state = {
        "bookmarks": {
            "ARInvoice": {
                "replication_key": "LastModifiedDateTime",
                "replication_key_value": old,
                "deletes_since": old,
            }
        }
    }
    run = tapkit.run_tap(config, catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "more than the 10 days Acumatica keeps deleted records" in run.stderr
    assert run.last_state["bookmarks"]["ARInvoice"]["deletes_since"] > old


# --- rights --------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.simulator(seed=2, dac={"forbidden": ["ARInvoice"]})
def test_forbidden_dac_gives_one_clear_error_naming_the_role(sim, family) -> None:
    config = tapkit.config_for(sim, schema="DAC", odata_url_style=family, dacs=["ARInvoice"])
    catalog = tapkit.select(tapkit.discover(config), ["ARInvoice"])
    run = tapkit.run_tap(config, catalog=catalog)
    tapkit.assert_one_clear_error(run, "403", "OData4 User", "ARInvoice")


def test_fast_catalog_equals_the_sdks(sim) -> None:
    """The DAC catalog is written without the SDK's per-entry round trips (thousands of
    DACs); it must be exactly what the SDK would write."""
    from singer_sdk import Tap

    from tap_acumatica.dac import discovery as dac_discovery
    from tap_acumatica.tap import TapAcumatica

    for extra in ({}, {"detect_deletes": True}):
        tap = TapAcumatica(
            config=tapkit.config_for(sim, schema="DAC", odata_url_style="v4", **extra),
            setup_mapper=False,
        )
        try:
            ours = dac_discovery.catalog_dict(tap.streams.values())
            sdk = Tap.catalog_dict.fget(tap)  # type: ignore[attr-defined]
        finally:
            tap.close()
        assert json.loads(json.dumps(ours)) == json.loads(json.dumps(sdk))


def test_bearer_token_of_the_oauth_schemes(sim) -> None:
    client = sim.oauth_client
    config = tapkit.config_for(
        sim,
        schema="DAC",
        odata_url_style="v4",
        auth_scheme="OAuthPassword",
        oauth_client_id=client["client_id"],
        oauth_client_secret=client["client_secret"],
        dacs=["InventoryItem"],
    )
    catalog = tapkit.select(tapkit.discover(config), ["InventoryItem"])
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.count("InventoryItem") == len(truth(sim, "InventoryItem"))
    assert control(sim, "GET", "counters")["tokens_issued"].get("password", 0) >= 1


@pytest.mark.simulator(seed=9)
def test_killed_run_resumes_from_its_last_page_without_loss(sim) -> None:
    # page_size 50: the kill lands after a few of the 18 pages of SOLine.
    config = tapkit.config_for(sim, schema="DAC", odata_url_style="v4", page_size=50)
    keys = ["OrderType", "OrderNbr", "LineNbr"]
    catalog = tapkit.select(tapkit.discover({**config, "dacs": ["SOLine"]}), ["SOLine"])
    killed = tapkit.run_until(config, catalog=catalog, state=None, stop_after_states=4)
    assert killed.returncode != 0
    assert killed.last_state is not None
    first = killed.records.get("SOLine", [])
    assert 0 < len(first) < 900
    resumed = tapkit.run_tap(config, catalog=catalog, state=killed.last_state)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    second = resumed.records["SOLine"]
    schema = resumed.schemas["SOLine"]
    want = by_key([expected(r, schema) for r in truth(sim, "SOLine")], keys)
    merged: dict[tuple, dict[str, t.Any]] = {}
    for record in first + second:
        merged[tuple(record[k] for k in keys)] = record
    assert merged == want
    assert len(second) < 900  # resumed, not started again


def test_select_asks_for_the_selected_columns_only(sim) -> None:
    config = tapkit.config_for(sim, schema="DAC", odata_url_style="v4", dacs=["InventoryItem"])
    catalog = tapkit.select(tapkit.discover(config), ["InventoryItem"])
    for md in catalog["streams"][0]["metadata"]:
        if md["breadcrumb"] in (["properties", "Descr"], ["properties", "tstamp"]):
            md["metadata"]["selected"] = False
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert all("Descr" not in r and "tstamp" not in r for r in run.records["InventoryItem"])
    asked = [r for r in sim.control.requests("dac") if r["path"].endswith("InventoryItem")][-1]
    columns = asked["query"]["$select"].split(",")
    assert "Descr" not in columns
    assert "tstamp" not in columns
    assert {"InventoryID", "LastModifiedDateTime", "InventoryCD"} <= set(columns)


@pytest.mark.simulator(seed=6)
def test_transient_faults_are_retried_and_lose_nothing(sim) -> None:
    # page_size 100: several pages, each of which may meet a fault.
    # backoff_factor 0.01: the retries' waits, not their number, would slow the test.
    config = tapkit.config_for(
        sim, schema="DAC", odata_url_style="v4", page_size=100, backoff_factor=0.01
    )
    catalog = tapkit.select(tapkit.discover({**config, "dacs": ["SOLine"]}), ["SOLine"])
    sim.control.faults(rate_429=0.15, rate_5xx=0.1, status_5xx=503, retry_after=0, fault_seed=3)
    run = tapkit.run_tap(config, catalog=catalog)
    sim.control.faults()
    assert run.returncode == 0, run.stderr[-2000:]
    injected = control(sim, "GET", "counters")["faults_injected"]
    assert injected.get("429", 0) + injected.get("5xx", 0) > 0
    keys = ["OrderType", "OrderNbr", "LineNbr"]
    schema = run.schemas["SOLine"]
    want = by_key([expected(r, schema) for r in truth(sim, "SOLine")], keys)
    assert by_key(run.records["SOLine"], keys) == want
