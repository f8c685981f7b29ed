"""REST extraction end to end: the tap CLI against the simulator over real HTTP."""

from __future__ import annotations

import decimal
import json
import signal
import typing as t
import urllib.request
from urllib.parse import quote, urlencode

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

VERSION = tapkit.REST_VERSION
ENTITIES = ["Customer", "SalesOrder", "StockItem"]
DISCOVERY_COUNTS = tapkit.ENTITY_COUNTS


#: The three entities, with quick retries (``tapkit.QUICK_RETRIES`` says why).
REST = {**tapkit.QUICK_RETRIES, "entities": ENTITIES}


def customers(sim: SimulatorProcess, size: int, **extra: t.Any) -> tuple[dict, dict]:
    """``sim`` holding ``size`` Customers; a config for it and a catalog selecting them."""
    sim.configure(sizes={"Customer": size}, default_size=5)
    config = tapkit.config_for(sim, REST, entities=["Customer"], **extra)
    return config, tapkit.select(tapkit.discover(config), ["Customer"])


def truth(sim: SimulatorProcess, entity: str, expand: str = "") -> list[dict]:
    """Ground truth with exact decimals (the control client's json.loads would use floats)."""
    query = urlencode({"expand": expand, "version": VERSION})
    url = f"{sim.url}__control/truth/{quote(entity)}?{query}"
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read(), parse_float=decimal.Decimal)


def expected_records(
    sim: SimulatorProcess, entity: str, schema: dict, expand: str = ""
) -> dict[str, dict]:
    dates = tapkit.date_fields_of(schema)
    out = {}
    for raw in truth(sim, entity, expand):
        record = tapkit.unwrap(raw, dates)
        record.pop("rowNumber", None)  # a row's position in one response, not data
        out[record["id"]] = record
    return out


pytestmark = pytest.mark.simulator(sizes=dict.fromkeys(ENTITIES, 3000), default_size=20)


@pytest.fixture(scope="module")
def catalog(module_sim: SimulatorProcess) -> dict:
    return tapkit.discover(tapkit.config_for(module_sim, REST))


@pytest.mark.parametrize("version", sorted(DISCOVERY_COUNTS))
def test_discovery_counts_every_bundled_swagger(module_sim: SimulatorProcess, version: str) -> None:
    found = tapkit.discover(
        tapkit.config_for(module_sim, REST, endpoint_version=version, entities=None)
    )
    streams = {s["tap_stream_id"]: s for s in found["streams"]}
    assert len(streams) == DISCOVERY_COUNTS[version]
    sales_order = streams["SalesOrder"]
    assert sales_order["key_properties"] == ["id"]
    assert sales_order["replication_key"] == "LastModified"
    assert streams["Customer"]["replication_key"] == "LastModifiedDateTime"
    details = sales_order["schema"]["properties"]["Details"]
    assert details["type"] == ["array", "null"]
    detail_md = next(
        m for m in sales_order["metadata"] if m["breadcrumb"] == ["properties", "Details"]
    )
    assert detail_md["metadata"].get("selected-by-default") is False


def test_values_equal_ground_truth(module_sim: SimulatorProcess, catalog: dict) -> None:
    logins_before = module_sim.control.counters()["logins"]
    run = tapkit.run_tap(
        tapkit.config_for(module_sim, REST), catalog=tapkit.select(catalog, ENTITIES)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for entity in ENTITIES:
        expected = expected_records(module_sim, entity, run.schemas[entity])
        emitted = tapkit.emitted_by_id(run.records[entity])
        assert len(run.records[entity]) == 3000
        assert set(emitted) == set(expected)
        for record_id, record in expected.items():
            assert emitted[record_id] == record, entity
    tapkit.assert_sessions_closed(module_sim)
    assert module_sim.control.counters()["logins"] - logins_before == 1  # one login for 3 streams


def test_sync_with_catalog_does_not_download_swagger(
    module_sim: SimulatorProcess, catalog: dict
) -> None:
    before = module_sim.control.counters()["requests_by_kind"].get("swagger", 0)
    run = tapkit.run_tap(
        tapkit.config_for(module_sim, REST), catalog=tapkit.select(catalog, ["StockItem"])
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.count("StockItem") == 3000
    assert module_sim.control.counters()["requests_by_kind"].get("swagger", 0) == before


def test_full_table_entity_pages_everything(module_sim: SimulatorProcess) -> None:
    # page_size 7, not 1000: 20 rows make several overlapping pages.
    config = tapkit.config_for(module_sim, REST, entities=["ShipVia"], page_size=7)
    found = tapkit.discover(config)
    assert found["streams"][0].get("replication_key") is None
    before = len(module_sim.control.requests(kind="list"))
    run = tapkit.run_tap(config, catalog=tapkit.select(found, ["ShipVia"]))
    assert run.returncode == 0, run.stderr[-2000:]
    expected = expected_records(module_sim, "ShipVia", run.schemas["ShipVia"])
    assert tapkit.emitted_by_id(run.records["ShipVia"]) == expected
    assert run.count("ShipVia") == 20  # the one-row overlap between pages is not re-emitted
    # 20 rows, pages of 7 overlapping by one row: 0-6, 6-12, 12-18, 18-19; the short page
    # ends it, with no extra empty request.
    skips = [
        int(r["query"].get("$skip", 0)) for r in module_sim.control.requests(kind="list")[before:]
    ]
    assert skips == [0, 6, 12, 18]


def test_incremental_second_run_reads_only_changes(sim: SimulatorProcess) -> None:
    config, catalog = customers(sim, 2500)
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.count("Customer") == 2500
    changed = sim.control.mutate("Customer", update=7, insert=3)
    # At once, default settle_seconds: the changes are in this run.
    second = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    got = tapkit.emitted_by_id(second.records["Customer"])
    assert set(got) == set(changed["updated"]) | set(changed["inserted"])
    expected = expected_records(sim, "Customer", second.schemas["Customer"])
    for record_id, record in got.items():
        assert record == expected[record_id]
    tapkit.assert_sessions_closed(sim)


def test_settle_seconds_is_a_margin_read_again_not_a_delay(sim: SimulatorProcess) -> None:
    # settle_seconds 600, not the default 30: a margin no slow machine can outrun.
    config, catalog = customers(sim, 50, settle_seconds=600)
    first = tapkit.run_tap(config, catalog=catalog)
    changed = sim.control.mutate("Customer", update=2)
    second = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0
    assert set(tapkit.emitted_by_id(second.records["Customer"])) == set(changed["updated"])
    third = tapkit.run_tap(config, catalog=catalog, state=second.last_state)
    # The next run reads the margin again: the same two rows, and only them.
    assert set(tapkit.emitted_by_id(third.records["Customer"])) == set(changed["updated"])
    assert "2 of these records were re-read" in third.stderr


def latest_versions_all_emitted(
    sim: SimulatorProcess, runs: list[tapkit.TapRun], entity: str
) -> tuple[int, int]:
    """(records whose latest version was never emitted, records in truth)."""
    schema = next(r.schemas[entity] for r in runs if entity in r.schemas)
    expected = expected_records(sim, entity, schema)
    seen: dict[str, list[dict]] = {}
    for run in runs:
        for record in run.records.get(entity, []):
            record = dict(record)
            record.pop("rowNumber", None)
            seen.setdefault(record["id"], []).append(record)
    lost = sum(1 for rid, rec in expected.items() if rec not in seen.get(rid, []))
    return lost, len(expected)


def test_live_mutation_between_pages_loses_nothing(sim: SimulatorProcess) -> None:
    # 6000 rows: the simulator puts >1000 rows on one stamp (a bulk import), so this also
    # exercises the window that must be paged.
    # page_size 500, not 1000: more windows, so more requests for the ERP to change under.
    config, catalog = customers(sim, 6000, page_size=500)
    sim.control.faults(live_mutation={"entity": "Customer", "every": 1, "update": 5, "insert": 2})
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    mutations = sim.control.counters()["faults_injected"].get("live_mutation", 0)
    assert mutations >= 5
    sim.control.faults()
    second = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    lost, total = latest_versions_all_emitted(sim, [first, second], "Customer")
    print(f"live mutation: {mutations} mutation rounds, {total} records, lost {lost}")
    assert lost == 0
    tapkit.assert_sessions_closed(sim)


def test_kill_and_resume_from_last_state_loses_nothing(sim: SimulatorProcess) -> None:
    # page_size 250, not 1000: many windows (STATE messages) to be killed between.
    config, catalog = customers(sim, 4000, page_size=250)
    sim.control.faults(latency_ms=15, only_kinds=["list"])
    runs: list[tapkit.TapRun] = []
    state = None
    finished = False
    for attempt in range(40):
        run = tapkit.run_until(
            config, catalog=catalog, state=state, stop_after_states=3 + attempt % 4
        )
        runs.append(run)
        state = run.last_state or state
        if attempt % 3 == 0:
            sim.control.mutate("Customer", update=20, insert=5)
        if run.returncode == 0:
            finished = True
            break
    assert finished, "the resumed runs never completed"
    assert len(runs) > 2, "the tap was never killed mid-stream"
    sim.control.faults()
    final = tapkit.run_tap(config, catalog=catalog, state=state)
    runs.append(final)
    lost, total = latest_versions_all_emitted(sim, runs, "Customer")
    print(f"kill -9 and resume: {len(runs) - 1} runs, {total} records, lost {lost}")
    assert lost == 0


def test_session_expiry_mid_stream_relogs_in_once_and_continues(sim: SimulatorProcess) -> None:
    # page_size 200, not 1000: enough requests for the sessions to expire in mid-stream.
    config, catalog = customers(sim, 3000, page_size=200)
    sim.control.faults(latency_ms=20, only_kinds=["list"])
    with tapkit.Running(config, catalog) as running:
        running.wait_for_records()
        sim.control.faults(latency_ms=20, only_kinds=["list"], expire_sessions=True)
        run = running.finish()
    assert run.returncode == 0
    assert len(tapkit.emitted_by_id(run.records["Customer"])) == 3000
    counters = sim.control.counters()
    assert counters["logins"] == 2 + 1  # discovery, the sync, the re-login
    assert counters["open_sessions"] == 0


def test_logout_after_failure(sim: SimulatorProcess) -> None:
    # max_retries 2, not 5: the test waits for the retries to run out.
    config, catalog = customers(sim, 100, max_retries=2)
    sim.control.faults(rate_5xx=1.0, status_5xx=503, only_kinds=["list"])
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 1
    assert "HTTP 503 after 2 attempts" in run.stderr
    assert "Traceback" not in run.stderr
    tapkit.assert_sessions_closed(sim)


def test_logout_after_sigterm(sim: SimulatorProcess) -> None:
    # page_size 100, not 1000: the run lasts long enough to be stopped in mid-stream.
    config, catalog = customers(sim, 3000, page_size=100)
    sim.control.faults(latency_ms=50, only_kinds=["list"])
    with tapkit.Running(config, catalog) as running:
        running.wait_for_records()
        running.proc.send_signal(signal.SIGTERM)
        run = running.finish(60)
    assert run.returncode == 128 + signal.SIGTERM
    tapkit.assert_sessions_closed(sim)


def test_endpoint_version_default_falls_back_to_highest_served(sim: SimulatorProcess) -> None:
    sim.configure(versions=["20.200.001", "24.200.001"], default_size=3)
    config = tapkit.config_for(sim, REST, entities=["Customer"])
    del config["endpoint_version"]
    run = tapkit.run_tap(config, extra=["--discover"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "using the highest version it serves: Default/24.200.001" in run.stderr
    bad = tapkit.run_tap(
        tapkit.config_for(sim, REST, endpoint_version="17.200.001"), extra=["--discover"]
    )
    assert bad.returncode == 1
    assert "not served by this instance" in bad.stderr
    assert "20.200.001, 24.200.001" in bad.stderr
    tapkit.assert_sessions_closed(sim)


def test_naive_skip_paging_loses_rows_under_live_mutation(sim: SimulatorProcess) -> None:
    """The control for the no-loss tests: the simulator's live ERP really does make plain
    ``$skip`` paging over a changing filter lose rows, so those tests can fail."""
    import requests

    sim.configure(sizes={"Customer": 3000}, default_size=5)
    session = requests.Session()
    session.post(
        f"{sim.url}entity/auth/login",
        json={"name": sim.credentials["username"], "password": sim.credentials["password"]},
    )
    since = "LastModifiedDateTime gt datetimeoffset'2000-01-01T00:00:00+00:00'"
    cutoff = sim.control.clock()["now"]
    window = f"{since} and LastModifiedDateTime le datetimeoffset'{cutoff}'"
    sim.control.faults(live_mutation={"entity": "Customer", "every": 1, "update": 40})
    seen: set[str] = set()
    skip = 0
    while True:
        page = session.get(
            f"{sim.url}entity/Default/{VERSION}/Customer",
            params={
                "$filter": window,
                "$top": 250,
                "$skip": skip,
                "$select": "LastModifiedDateTime",
            },
        ).json()
        seen.update(r["id"] for r in page)
        if len(page) < 250:
            break
        skip += 250
    session.post(f"{sim.url}entity/auth/logout", data=b"")
    sim.control.faults()
    assert len(seen) < 3000, "naive paging should have lost rows that moved"
