"""OData generic inquiries end to end: the tap CLI against the simulator, both URL families.

Every test runs for the current ``v4`` family (``t/<company>/api/odata/gi/``) and the legacy
``v3`` one (``odata/<company>/``), over real HTTP, against the simulator's ground truth.
"""

from __future__ import annotations

import decimal
import json
import typing as t
import urllib.request
from collections import Counter
from urllib.parse import quote

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

FAMILIES = ["v4", "legacy"]
PLAIN = ["BI-SalesOrders", "Customer Contacts", "SalesByCustomerPeriod"]
PARAMETERISED = "Item Availability Data"
STAMPED = "BI-SalesOrders"
#: Not the default page_size (1000): small pages, so every full sync pages with overlap
#: checks and the incremental first run needs windows.
PAGE = 40


pytestmark = pytest.mark.simulator(seed=11)
ODATA = {
    "schema": "OData",
    # Not the default (1000): the inquiries' rows take several pages and windows.
    "page_size": PAGE,
    # Not the default (1 s): quick retries, the logic is the same.
    "backoff_factor": 0.01,
    # Not the default (1): requests overlap, as in the ordering and paging checks.
    "max_concurrent_requests": 2,
}


def truth(sim: SimulatorProcess, inquiry: str) -> list[dict[str, t.Any]]:
    """Ground truth (v4 rendering) with exact decimals."""
    url = f"{sim.url}__control/truth-odata/{quote(inquiry, safe='')}"
    with urllib.request.urlopen(url, timeout=120) as response:
        return t.cast(
            "list[dict[str, t.Any]]", json.loads(response.read(), parse_float=decimal.Decimal)
        )


def expected(row: dict[str, t.Any], schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """A truth row as the tap must emit it, computed from the schema it announced."""
    out = {}
    for name, value in row.items():
        prop = schema["properties"][name]
        kinds = prop["type"]
        if value is None:
            out[name] = None
        elif prop.get("format") == "date-time":
            # v3 has no Edm.Date: a date column is a date-time at midnight UTC.
            out[name] = tapkit.utc_text(value if "T" in value else value + "T00:00:00Z")
        elif "number" in kinds:
            out[name] = decimal.Decimal(str(value))
        else:
            out[name] = value
    return out


def key_of(record: dict[str, t.Any], keys: list[str]) -> t.Any:
    if keys:
        return tuple(record[k] for k in keys)
    return json.dumps(record, sort_keys=True, default=str)


def odata_counts(sim: SimulatorProcess) -> Counter[str]:
    kinds = sim.control.counters()["requests_by_kind"]
    return Counter({k: kinds.get(k, 0) for k in ("odata", "odata_metadata")})


# --- discovery -----------------------------------------------------------------------------

TYPES = {  # (JSON types, format) per column of BI-SalesOrders, per family
    "OrderType": (["string", "null"], None),
    "OrderNbr": (["string", "null"], None),
    "OrderDate": {"v4": (["string", "null"], "date"), "legacy": (["string", "null"], "date-time")},
    "LineCount": (["integer", "null"], None),
    "CuryInfoID": (["integer", "null"], None),
    "OrderQty": (["number", "null"], None),
    "OrderTotal": (["number", "null"], None),
    "DiscountPct": (["number", "null"], None),
    "Approved": (["boolean", "null"], None),
    "NoteID": (["string", "null"], "uuid"),
    "CreatedOn": (["string", "null"], "date-time"),
    "LastModifiedOn": (["string", "null"], "date-time"),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_discovery_matches_the_inquiries(sim: SimulatorProcess, family: str) -> None:
    before = odata_counts(sim)
    catalog = tapkit.discover(tapkit.config_for(sim, ODATA, odata_url_style=family))
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    # The parameterised inquiry is skipped: no inquiry_parameters configured.
    assert sorted(streams) == sorted(PLAIN)
    assert odata_counts(sim)["odata_metadata"] - before["odata_metadata"] == 1

    orders = streams["BI-SalesOrders"]
    assert orders["key_properties"] == ["OrderType", "OrderNbr"]
    props = orders["schema"]["properties"]
    assert list(props) == [
        "OrderType",
        "OrderNbr",
        "CustomerID",
        "Status",
        "OrderDate",
        "LineCount",
        "CuryInfoID",
        "OrderQty",
        "OrderTotal",
        "DiscountPct",
        "Approved",
        "NoteID",
        "ShipVia",
        "MarginPct",
        "CreatedOn",
        "LastModifiedOn",
    ]
    for column, spec in TYPES.items():
        kinds, fmt = spec[family] if isinstance(spec, dict) else spec
        assert props[column]["type"] == kinds, column
        assert props[column].get("format") == fmt, column
    assert streams["Customer Contacts"]["key_properties"] == ["CustomerID", "ContactID"]
    # A grouped inquiry has no <Key>: no key properties.
    assert streams["SalesByCustomerPeriod"]["key_properties"] == []
    for entry in streams.values():  # full table unless inquiry_replication_keys says otherwise
        assert not entry.get("replication_key")


@pytest.mark.parametrize("family", FAMILIES)
def test_discovery_settings(sim: SimulatorProcess, family: str) -> None:
    catalog = tapkit.discover(
        tapkit.config_for(
            sim,
            ODATA,
            odata_url_style=family,
            inquiries=["Customer Contacts", PARAMETERISED],
            inquiry_parameters={PARAMETERISED: {"Warehouse": "MAIN"}},
            inquiry_replication_keys={STAMPED: "LastModifiedOn"},
        )
    )
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert sorted(streams) == ["Customer Contacts", PARAMETERISED]
    assert streams[PARAMETERISED]["key_properties"] == ["InventoryID", "Warehouse", "Subitem"]

    catalog = tapkit.discover(
        tapkit.config_for(
            sim, ODATA, odata_url_style=family, inquiry_replication_keys={STAMPED: "LastModifiedOn"}
        )
    )
    entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == STAMPED)
    assert entry["replication_key"] == "LastModifiedOn"
    assert entry["replication_method"] == "INCREMENTAL"

    run = tapkit.run_tap(
        tapkit.config_for(sim, ODATA, odata_url_style=family, inquiries=["Nope"]),
        extra=["--discover"],
    )
    assert run.returncode == 1
    assert "Unknown inquiry in 'inquiries': 'Nope'" in run.stderr
    assert "'Customer Contacts'" in run.stderr

    run = tapkit.run_tap(
        tapkit.config_for(
            sim, ODATA, odata_url_style=family, inquiry_replication_keys={STAMPED: "Status"}
        ),
        extra=["--discover"],
    )
    assert run.returncode == 1
    assert "must be a date-time column" in run.stderr


def test_auto_probes_v4_first_and_says_so(sim: SimulatorProcess) -> None:
    run = tapkit.run_tap(
        tapkit.config_for(sim, ODATA, odata_url_style="auto"), extra=["--discover"]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "odata_url_style auto: using OData v4" in run.stderr
    assert "/t/Company/api/odata/gi/" in run.stderr


def test_auto_without_company_uses_legacy_root(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, ODATA, odata_url_style="auto", inquiries=["Customer Contacts"])
    config["company"] = ""
    catalog = tapkit.discover(config)
    assert [s["tap_stream_id"] for s in catalog["streams"]] == ["Customer Contacts"]
    run = tapkit.run_tap(config, catalog=tapkit.select(catalog, ["Customer Contacts"]))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "using legacy OData v3" in run.stderr
    assert run.count("Customer Contacts") == len(truth(sim, "Customer Contacts"))


# --- full sync -------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_full_sync_equals_truth_without_metadata(sim: SimulatorProcess, family: str) -> None:
    config = tapkit.config_for(
        sim,
        ODATA,
        odata_url_style=family,
        inquiry_parameters={PARAMETERISED: {"Warehouse": "MAIN"}},
    )
    catalog = tapkit.discover(config)
    names = [*PLAIN, PARAMETERISED]
    assert sorted(s["tap_stream_id"] for s in catalog["streams"]) == sorted(names)
    schemas = {s["tap_stream_id"]: s["schema"] for s in catalog["streams"]}
    keys = {s["tap_stream_id"]: s["key_properties"] for s in catalog["streams"]}

    before = odata_counts(sim)
    run = tapkit.run_tap(config, catalog=tapkit.select(catalog, names))
    assert run.returncode == 0, run.stderr[-3000:]
    after = odata_counts(sim)
    assert after["odata_metadata"] == before["odata_metadata"]  # --catalog: no $metadata

    for name in names:
        rows = truth(sim, name)
        if name == PARAMETERISED:
            rows = [r for r in rows if r["Warehouse"].rstrip() == "MAIN"]
            assert 0 < len(rows) < len(truth(sim, name))
        want = Counter(key_of(expected(r, schemas[name]), keys[name]) for r in rows)
        got = Counter(key_of(r, keys[name]) for r in run.records[name])
        assert got == want, name
        assert max(got.values()) == 1, name  # no duplicates from overlapping pages
        by_key = {key_of(r, keys[name]): r for r in run.records[name]}
        for row in rows:
            record = expected(row, schemas[name])
            assert by_key[key_of(record, keys[name])] == record, name
        assert len(rows) > PAGE, name  # paging happened


@pytest.mark.parametrize("family", FAMILIES)
def test_values_are_exact(sim: SimulatorProcess, family: str) -> None:
    """Decimals keep digits and scale, Int64 above 2**53 is exact, CHAR padding is kept."""
    config = tapkit.config_for(
        sim,
        ODATA,
        odata_url_style=family,
        inquiries=[STAMPED, PARAMETERISED],
        inquiry_parameters={PARAMETERISED: {"Warehouse": "WHOLESALE"}},
    )
    catalog = tapkit.discover(config)
    run = tapkit.run_tap(config, catalog=tapkit.select(catalog, [STAMPED, PARAMETERISED]))
    assert run.returncode == 0, run.stderr[-3000:]
    order = run.records[STAMPED][0]
    assert isinstance(order["CuryInfoID"], int)
    assert order["CuryInfoID"] > 2**53
    assert isinstance(order["OrderTotal"], decimal.Decimal)
    assert order["OrderTotal"].as_tuple().exponent == -4
    assert order["LastModifiedOn"].endswith("+00:00")
    assert len(order["LastModifiedOn"]) == 32
    items = run.records[PARAMETERISED]
    assert items
    assert all(r["Warehouse"] == "WHOLESALE " for r in items)
    assert all(len(r["InventoryID"]) == 10 for r in items)


# --- incremental -------------------------------------------------------------------------------


def stamped_config(sim: SimulatorProcess, family: str) -> dict:
    """The stamped inquiry alone, read incrementally by its date-time column."""
    return tapkit.config_for(
        sim,
        ODATA,
        odata_url_style=family,
        inquiries=[STAMPED],
        inquiry_replication_keys={STAMPED: "LastModifiedOn"},
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_incremental_second_run_reads_only_changes(sim: SimulatorProcess, family: str) -> None:
    # The simulator reset for this test (`sim`): a run re-reads the margin, where other
    # tests' changes would show.
    config = stamped_config(sim, family)
    catalog = tapkit.select(tapkit.discover(config), [STAMPED])
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = truth(sim, STAMPED)
    assert first.count(STAMPED) == len(rows) > PAGE
    assert len({(r["OrderType"], r["OrderNbr"]) for r in first.records[STAMPED]}) == len(rows)
    state = first.last_state
    assert state is not None
    bookmark = state["bookmarks"][STAMPED]["replication_key_value"]

    changed = sim.control.mutate_odata(STAMPED, update=7, insert=4)
    # At once, default settle_seconds: the changes are in this run.
    second = tapkit.run_tap(config, catalog=catalog, state=state)
    assert second.returncode == 0, second.stderr[-3000:]
    want = {(k["OrderType"], k["OrderNbr"]) for k in changed["updated"] + changed["inserted"]}
    got = [(r["OrderType"], r["OrderNbr"]) for r in second.records.get(STAMPED, [])]
    assert sorted(got) == sorted(want)
    assert all(r["LastModifiedOn"] > bookmark for r in second.records[STAMPED])
    assert second.last_state is not None
    assert second.last_state["bookmarks"][STAMPED]["replication_key_value"] >= bookmark

    third = tapkit.run_tap(config, catalog=catalog, state=second.last_state)
    assert third.returncode == 0, third.stderr[-3000:]
    # The margin (settle_seconds) is read again: the changes, and nothing older.
    again = [(r["OrderType"], r["OrderNbr"]) for r in third.records.get(STAMPED, [])]
    assert sorted(again) == sorted(want)
    assert f"{len(want)} of these records were re-read" in third.stderr


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.simulator(clock_offset_seconds=-3600)
def test_snapshot_end_follows_the_server_clock_not_ours(sim: SimulatorProcess, family: str) -> None:
    """HTTP Basic needs no sign-in request, yet the run's end must come from the server.

    The ERP's clock is an hour behind this machine's: a snapshot end taken from the local
    clock would put the bookmark an hour ahead of the server, and rows changed after the
    run (stamped by the server's clock, before that bookmark) would never be read.
    """
    config = stamped_config(sim, family)
    catalog = tapkit.select(tapkit.discover(config), [STAMPED])
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.last_state is not None
    bookmark = first.last_state["bookmarks"][STAMPED]["replication_key_value"]
    server_now = sim.control.clock()["now"]
    assert bookmark <= tapkit.utc_text(server_now)
    changed = sim.control.mutate_odata(STAMPED, update=5, insert=2)
    second = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    want = {(k["OrderType"], k["OrderNbr"]) for k in changed["updated"] + changed["inserted"]}
    got = {(r["OrderType"], r["OrderNbr"]) for r in second.records.get(STAMPED, [])}
    assert got == want


# --- errors, auth, ordering --------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_forbidden_inquiry_explains_expose_via_odata(sim: SimulatorProcess, family: str) -> None:
    config = tapkit.config_for(sim, ODATA, odata_url_style=family, inquiries=["Customer Contacts"])
    catalog = tapkit.select(tapkit.discover(config), ["Customer Contacts"])
    sim.control.faults(odata_forbidden=["Customer Contacts"])
    try:
        run = tapkit.run_tap(config, catalog=catalog)
    finally:
        sim.control.faults(odata_forbidden=[])
    assert run.returncode == 1
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("tap-acumatica: error: Generic inquiry 'Customer Contacts'")
    assert "403" in line
    assert "Expose via OData" in line
    assert "SM208000" in line
    assert "rights" in line
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("family", FAMILIES)
def test_bearer_token_auth(sim: SimulatorProcess, family: str) -> None:
    client = sim.oauth_client
    config = tapkit.config_for(
        sim,
        ODATA,
        odata_url_style=family,
        auth_scheme="OAuthPassword",
        inquiries=["Customer Contacts"],
        oauth_client_id=client["client_id"],
        oauth_client_secret=client["client_secret"],
    )
    catalog = tapkit.select(tapkit.discover(config), ["Customer Contacts"])
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.count("Customer Contacts") == len(truth(sim, "Customer Contacts"))


@pytest.mark.parametrize("family", FAMILIES)
def test_keyless_ordering_skips_unsortable_columns(sim: SimulatorProcess, family: str) -> None:
    """Without keys every column orders the rows; a calculated one (400) is dropped."""
    config = tapkit.config_for(sim, ODATA, odata_url_style=family, inquiries=[STAMPED])
    catalog = tapkit.select(tapkit.discover(config), [STAMPED])
    entry = catalog["streams"][0]
    entry["key_properties"] = []
    for md in entry["metadata"]:
        if md["breadcrumb"] == []:
            md["metadata"]["table-key-properties"] = []
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "cannot sort by MarginPct" in run.stderr
    keys = Counter((r["OrderType"], r["OrderNbr"]) for r in run.records[STAMPED])
    assert len(keys) == len(truth(sim, STAMPED))
    assert max(keys.values()) == 1
