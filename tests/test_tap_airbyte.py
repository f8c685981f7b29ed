"""``source-acumatica``, the Airbyte source, through its console script against the simulator.

Protocol-level checks without PyAirbyte (tests/test_e2e_pyairbyte.py drives it with
PyAirbyte): spec, check, discover, read and the state round trip, over real HTTP, with the
default settings unless a comment says otherwise. Where the Singer tap is the reference,
both run on the same simulator data: one extraction core, so the same records.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import pytest

from tap_acumatica.airbyte.spec import connection_specification
from tests import airbytekit, tapkit
from tests.airbytekit import nested_properties, run_source, without_row_numbers
from tests.simulator.process import SimulatorProcess

VERSION = tapkit.REST_VERSION
SIZES = {"Customer": 300, "StockItem": 200}
STREAMS = ["Customer", "StockItem"]
#: Customer and StockItem only (discovery of all 105 entities has a test of its own).
ENTITIES = {"entities": STREAMS}

pytestmark = pytest.mark.simulator(sizes=SIZES, default_size=5, versions=[VERSION])


def rest_truth(sim: SimulatorProcess, stream: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return airbytekit.rest_truth(sim, stream, VERSION)


def by_id(records: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    out = {r["id"]: without_row_numbers(r) for r in records}
    assert len(out) == len(records), "a record came twice"
    return out


def singer_catalog_of(configured: dict[str, t.Any]) -> dict[str, t.Any]:
    """The Singer catalog ``read`` runs for ``configured`` (to run the Singer tap alike)."""
    from tap_acumatica.airbyte.catalog import parse_configured, read_plan

    return read_plan(parse_configured(configured, "catalog.json")).catalog


def assert_no_secret(sim: SimulatorProcess, run: airbytekit.SourceRun, *secrets: str) -> None:
    text = run.stdout + run.stderr
    for secret in [sim.credentials["password"], *secrets, *sim.control.issued_secrets()]:
        assert secret not in text


# --- spec and check ------------------------------------------------------------------------


def test_spec() -> None:
    run = run_source("spec")
    assert run.returncode == 0, run.stderr
    [message] = run.messages
    assert message["spec"]["connectionSpecification"] == connection_specification()
    assert message["spec"]["connectionSpecification"]["properties"]["password"]["airbyte_secret"]


def test_check_signs_in_reaches_the_endpoint_and_signs_out(sim: SimulatorProcess) -> None:
    run = run_source("check", config=tapkit.config_for(sim))
    assert run.returncode == 0, run.stderr[-2000:]
    status = run.connection_status
    assert status["status"] == "SUCCEEDED", status
    assert f"REST endpoint Default/{VERSION}" in status["message"]
    assert "105 entities" in status["message"]
    counters = sim.control.counters()
    assert counters["logins"] == counters["logouts"] == 1
    assert counters["open_sessions"] == 0
    assert_no_secret(sim, run)


def test_check_with_a_wrong_password_fails_with_the_singer_taps_line(
    sim: SimulatorProcess,
) -> None:
    config = tapkit.config_for(sim, password="Wrong-Passw0rd-123")
    run = run_source("check", config=config)
    assert run.returncode == 0, run.stderr[-2000:]  # a failed check is an answer, not a crash
    status = run.connection_status
    assert status["status"] == "FAILED"
    singer = tapkit.run_tap(config, extra=["--discover"])
    line = tapkit.assert_one_clear_error(singer, "Invalid credentials")
    assert status["message"] == line.removeprefix(tapkit.ERROR_PREFIX)
    assert not run.errors  # no TRACE: the status says it
    assert_no_secret(sim, run, "Wrong-Passw0rd-123")
    counters = sim.control.counters()
    assert counters["login_failures"] == 2  # one per command, no retry storm
    assert counters["open_sessions"] == 0


def test_check_with_a_url_nothing_answers_at_fails_with_the_singer_taps_line() -> None:
    # Quick retries (not the default 1 s backoff): the same five attempts, shorter waits.
    config = {
        "url": "http://127.0.0.1:1/AcumaticaERP/",  # port 1: connection refused
        "username": "admin",
        "password": "Some-Passw0rd-1",
        **tapkit.QUICK_RETRIES,
    }
    run = run_source("check", config=config)
    assert run.returncode == 0
    assert run.connection_status["status"] == "FAILED"
    singer = tapkit.run_tap(config, extra=["--discover"])
    line = tapkit.assert_one_clear_error(singer, "cannot reach")
    assert run.connection_status["message"] == line.removeprefix(tapkit.ERROR_PREFIX)
    assert "Some-Passw0rd-1" not in run.stdout + run.stderr


def test_check_with_an_endpoint_the_instance_does_not_serve(sim: SimulatorProcess) -> None:
    run = run_source("check", config=tapkit.config_for(sim, endpoint_version="99.200.001"))
    assert run.returncode == 0
    assert run.connection_status["status"] == "FAILED"
    assert "Default/99.200.001 is not served by this instance" in run.connection_status["message"]
    tapkit.assert_sessions_closed(sim)


def test_check_with_an_access_token_the_server_refuses(sim: SimulatorProcess) -> None:
    """A given token signs nothing in: check must still prove it against the endpoint."""
    config = tapkit.config_for(
        sim,
        auth_scheme="OAuthImplicit",
        oauth_access_token="Not-A-Valid-Token-42",
        username=None,
        password=None,
    )
    run = run_source("check", config=config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.connection_status["status"] == "FAILED"
    assert "Not-A-Valid-Token-42" not in run.stdout + run.stderr


# --- discover ----------------------------------------------------------------------------------


def test_discover_lists_every_stream_like_the_singer_catalog(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim)
    streams = {s["name"]: s for s in airbytekit.discover(config)["streams"]}
    singer = {e["tap_stream_id"]: e for e in tapkit.discover(config)["streams"]}
    assert set(streams) == set(singer)
    assert len(streams) == tapkit.ENTITY_COUNTS[VERSION]
    customer = streams["Customer"]
    assert customer["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert customer["source_defined_cursor"] is True
    assert customer["default_cursor_field"] == ["LastModifiedDateTime"]
    assert customer["source_defined_primary_key"] == [["id"]]
    assert streams["StockItem"]["default_cursor_field"] == ["LastModified"]  # before 24.200.001
    for name, stream in streams.items():
        assert list(stream["json_schema"]["properties"]) == list(
            singer[name]["schema"]["properties"]
        ), name
    # One level of nesting: MainContact with its fields, without its Address entity.
    contact = customer["json_schema"]["properties"]["MainContact"]["properties"]
    assert "Email" in contact
    assert "Address" not in contact
    assert "Address" in singer["Customer"]["schema"]["properties"]["MainContact"]["properties"]


# --- read --------------------------------------------------------------------------------------


def test_read_equals_the_truth_and_the_singer_run_in_one_session(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, ENTITIES)
    catalog = airbytekit.discover(config)
    configured = airbytekit.configure(catalog, STREAMS)
    swagger_before = sim.control.counters()["requests_by_kind"].get("swagger", 0)
    logins_before = sim.control.counters()["logins"]
    run = run_source("read", config=config, catalog=configured)
    assert run.returncode == 0, (run.errors, run.stderr[-2000:])
    counters = sim.control.counters()
    # No swagger.json per sync: the streams come from the configured catalog.
    assert counters["requests_by_kind"].get("swagger", 0) == swagger_before
    assert counters["logins"] - logins_before == 1  # one API session for both streams
    tapkit.assert_sessions_closed(sim)

    streams = {s["name"]: s for s in catalog["streams"]}
    for name in STREAMS:
        got = by_id(run.records[name])
        assert got == rest_truth(sim, streams[name]), name
        assert len(got) == SIZES[name]
    assert {"MainContact", "Contacts", "Attributes"} <= set(nested_properties(streams["Customer"]))
    assert all(r["MainContact"] for r in run.records["Customer"])  # expanded

    singer = tapkit.run_tap(config, catalog=singer_catalog_of(configured))
    assert singer.returncode == 0, singer.stderr[-2000:]
    for name in STREAMS:
        assert by_id(run.records[name]) == by_id(singer.records[name]), name
        # The Airbyte state of each stream is the bookmark the Singer tap writes.
        assert run.bookmarks()[name].keys() == singer.last_state["bookmarks"][name].keys()

    for name in STREAMS:
        statuses = [status for stream, status in run.statuses if stream == name]
        assert statuses == ["STARTED", "RUNNING", "COMPLETE"], name
    # Each stream's final STATE comes before its COMPLETE.
    order = [
        (m["type"], m.get("state", {}).get("stream", {}).get("stream_descriptor", {}).get("name"))
        for m in run.messages
        if m["type"] == "STATE" or m.get("trace", {}).get("type") == "STREAM_STATUS"
    ]
    assert order[-4:] == [
        ("STATE", "Customer"),
        ("TRACE", None),
        ("STATE", "StockItem"),
        ("TRACE", None),
    ]
    assert any("Customer: done, 300 records" in log["message"] for log in run.logs)
    assert_no_secret(sim, run)


def test_state_round_trip_reads_only_the_changes(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, ENTITIES)
    configured = airbytekit.configure(airbytekit.discover(config), STREAMS)
    first = run_source("read", config=config, catalog=configured)
    assert first.returncode == 0, first.errors
    assert first.count("Customer") == SIZES["Customer"]
    changed = sim.control.mutate("Customer", update=4, insert=2)
    ids = set(changed["updated"]) | set(changed["inserted"])

    # What the platform passes back: a list of the last STATE message of each stream.
    second = run_source("read", config=config, catalog=configured, state=first.final_state)
    assert second.returncode == 0, second.errors
    assert set(by_id(second.records["Customer"])) == ids
    assert second.count("StockItem") == 0
    # The Singer tap started from the same bookmarks reads the same changes.
    singer = tapkit.run_tap(
        config,
        catalog=singer_catalog_of(configured),
        state={"bookmarks": first.bookmarks()},
    )
    assert set(by_id(singer.records["Customer"])) == ids
    assert singer.count("StockItem") == 0
    marks = second.bookmarks()
    assert (
        marks["Customer"]["replication_key_value"]
        > first.bookmarks()["Customer"]["replication_key_value"]
    )
    # A Singer state works as --state too (a pipeline moving over from Meltano).
    moved = run_source(
        "read", config=config, catalog=configured, state={"bookmarks": first.bookmarks()}
    )
    assert set(by_id(moved.records["Customer"])) == ids


@pytest.mark.slow
def test_late_commit_is_read_by_the_next_read_from_the_airbyte_state(
    sim: SimulatorProcess,
) -> None:
    """The settle_seconds margin travels in the Airbyte state: a long transaction still
    uncommitted during one read is emitted by the next (default settle_seconds)."""
    config = tapkit.config_for(sim, ENTITIES)
    configured = airbytekit.configure(airbytekit.discover(config), ["Customer"])
    first = run_source("read", config=config, catalog=configured)
    tx = sim.control.mutate("Customer", update=5, insert=2, commit_after_seconds=4.0)
    during = run_source("read", config=config, catalog=configured, state=first.final_state)
    assert during.returncode == 0, during.errors
    assert during.count("Customer") == 0, "uncommitted versions were served"
    wait = tx["commit_at_ms"] / 1000 - sim.control.clock()["epoch_ms"] / 1000
    time.sleep(max(0.0, wait) + 0.2)
    done = next(x for x in sim.control.transactions() if x["transaction"] == tx["transaction"])
    assert done["committed"]
    after = run_source("read", config=config, catalog=configured, state=during.final_state)
    assert set(by_id(after.records["Customer"])) == set(done["updated"]) | set(done["inserted"])


def test_full_refresh_ignores_the_state(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, ENTITIES)
    catalog = airbytekit.discover(config)
    first = run_source("read", config=config, catalog=airbytekit.configure(catalog, STREAMS))
    full = airbytekit.configure(catalog, ["Customer"], sync_mode="full_refresh")
    run = run_source("read", config=config, catalog=full, state=first.final_state)
    assert run.returncode == 0, run.errors
    assert run.count("Customer") == SIZES["Customer"]
    assert run.bookmarks() == {"Customer": {}}  # a full table bookmarks nothing
    assert [s for _, s in run.statuses] == ["STARTED", "RUNNING", "COMPLETE"]


def test_a_cursor_the_entity_cannot_be_read_by_is_refused(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, ENTITIES)
    configured = airbytekit.configure(
        airbytekit.discover(config), ["Customer"], cursor={"Customer": ["CustomerName"]}
    )
    logins = sim.control.counters()["logins"]
    run = run_source("read", config=config, catalog=configured)
    assert run.returncode == 1
    assert not run.of("RECORD")
    [error] = run.errors
    assert error["failure_type"] == "config_error"
    assert "replicate by 'CustomerName'" in error["message"]
    assert "only by its modification stamp 'LastModifiedDateTime'" in error["message"]
    assert sim.control.counters()["logins"] == logins  # refused before signing in


#: Generic inquiries; odata_url_style v4, not the default auto: one family is enough here
#: (test_tap_odata.py runs both), and no probe request.
ODATA = {"schema": "OData", "odata_url_style": "v4"}


@pytest.mark.simulator(seed=11)
def test_inquiries_cursor_chosen_in_airbyte_and_full_table_without_one(
    sim: SimulatorProcess,
) -> None:
    config = tapkit.config_for(sim, ODATA)
    streams = {s["name"]: s for s in airbytekit.discover(config)["streams"]}
    orders = streams["BI-SalesOrders"]
    assert orders["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert orders["source_defined_cursor"] is False  # the user's to choose, as in Singer
    assert "default_cursor_field" not in orders
    configured = airbytekit.configure(
        {"streams": list(streams.values())},
        ["BI-SalesOrders", "Customer Contacts"],
        cursor={"BI-SalesOrders": ["LastModifiedOn"]},
    )
    run = run_source("read", config=config, catalog=configured)
    assert run.returncode == 0, (run.errors, run.stderr[-2000:])
    assert run.bookmarks()["BI-SalesOrders"]["replication_key"] == "LastModifiedOn"
    assert any(
        "'Customer Contacts': incremental sync asked for" in log["message"]
        and log["level"] == "WARN"
        for log in run.logs
    )
    singer = tapkit.run_tap(config, catalog=singer_catalog_of(configured))
    assert singer.returncode == 0, singer.stderr[-2000:]
    for name in ("BI-SalesOrders", "Customer Contacts"):
        assert run.records[name] == singer.records[name], name
        assert run.count(name) > 0
    bad = airbytekit.configure(
        {"streams": [orders]}, ["BI-SalesOrders"], cursor={"BI-SalesOrders": ["OrderNbr"]}
    )
    refused = run_source("read", config=config, catalog=bad)
    assert refused.returncode == 1
    assert "choose one of its date-time columns" in refused.errors[0]["message"]


@pytest.mark.simulator(seed=21)
def test_dac_streams_read_their_entity_sets_without_metadata(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(
        sim, schema="DAC", odata_url_style="v4", dacs=["SOOrder", "Customer"]
    )
    catalog = airbytekit.discover(config)
    customer = next(s for s in catalog["streams"] if s["name"] == "Customer")
    assert customer["json_schema"]["x-singer"]["table_name"] == "PX_Objects_AR_Customer"
    assert customer["source_defined_primary_key"] == [["BAccountID"]]
    configured = airbytekit.configure(catalog, ["SOOrder", "Customer"])
    kinds_before = sim.control.counters()["requests_by_kind"]
    run = run_source("read", config=config, catalog=configured)
    assert run.returncode == 0, (run.errors, run.stderr[-2000:])
    kinds_after = sim.control.counters()["requests_by_kind"]
    assert kinds_after.get("dac_metadata", 0) == kinds_before.get("dac_metadata", 0)
    singer = tapkit.run_tap(config, catalog=singer_catalog_of(configured))
    for name in ("SOOrder", "Customer"):
        truth = sim.control._call("GET", f"dac/truth/{name}")
        assert run.count(name) == len(truth) > 0, name
        assert run.records[name] == singer.records[name], name


# --- errors ------------------------------------------------------------------------------------


def test_bad_inputs_are_one_trace_and_a_non_zero_exit(
    sim: SimulatorProcess, tmp_path: Path
) -> None:
    config = tapkit.config_for(sim, ENTITIES)
    configured = airbytekit.configure(airbytekit.discover(config), ["Customer"])
    singer_catalog = tapkit.discover(config)
    cases = [
        ({"catalog": singer_catalog}, "not an Airbyte configured catalog"),
        ({"catalog": configured, "state": [{"type": "STREAM"}]}, "without its stream part"),
        (
            {"catalog": configured, "state": "not a state"},
            "must hold a JSON object or a JSON array",
        ),
    ]
    logins = sim.control.counters()["logins"]
    for inputs, phrase in cases:
        run = run_source("read", config=config, **inputs)
        assert run.returncode == 1, phrase
        [error] = run.errors
        assert phrase in error["message"], error
        assert error["failure_type"] == "config_error"
        assert "\n" not in error["message"]
        assert not run.of("RECORD")
    assert sim.control.counters()["logins"] == logins  # every one failed before signing in
    nofile = subprocess.run(
        [airbytekit.SOURCE, "discover", "--config", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert nofile.returncode == 1
    [message] = airbytekit.parse(nofile.stdout)[-1:]
    assert "does not exist" in message["trace"]["error"]["message"]
    usage = subprocess.run(
        [airbytekit.SOURCE, "read", "--config", "x.json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 2
    assert usage.stdout == ""
    assert usage.stderr.count("\n") == 1
    assert "--catalog" in usage.stderr


def test_without_the_airbyte_extra_one_line_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['airbyte_protocol'] = None; "  # as if not installed
        "from tap_acumatica.airbyte.cli import main; main(['spec'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "pip install 'tap-acumatica[airbyte]'" in done.stderr


@pytest.mark.slow
@pytest.mark.simulator(sizes={"Customer": 3000}, default_size=5)
def test_sigterm_midway_signs_out_and_the_state_resumes(sim: SimulatorProcess) -> None:
    """A killed read (the platform cancelling a sync) signs out, leaves only valid
    messages, and its last STATE resumes the load where it stopped."""
    config = tapkit.config_for(sim, entities=["Customer"])
    configured = airbytekit.configure(airbytekit.discover(config), ["Customer"])
    with tempfile.TemporaryDirectory() as tmp:
        args = airbytekit.source_command("read", Path(tmp), config=config, catalog=configured)
        out = Path(tmp) / "out.jsonl"
        with (
            out.open("w") as sink,
            subprocess.Popen(
                args, stdout=sink, stderr=subprocess.PIPE, text=True, env=tapkit.tap_env()
            ) as proc,
        ):
            deadline = time.monotonic() + 120
            while '"type":"STATE"' not in out.read_text() and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        first = airbytekit.SourceRun(
            proc.returncode, out.read_text(), "", airbytekit.parse(out.read_text())
        )
    assert first.returncode == 128 + signal.SIGTERM
    tapkit.assert_sessions_closed(sim)
    assert first.final_state, "no STATE before the signal"
    assert ("Customer", "COMPLETE") not in first.statuses
    rest = run_source("read", config=config, catalog=configured, state=first.final_state)
    assert rest.returncode == 0, rest.errors
    ids = set(by_id(first.records.get("Customer", []))) | set(by_id(rest.records["Customer"]))
    assert ids == {r["id"] for r in sim.control.truth("Customer", version=VERSION)}
    assert rest.count("Customer") < 3000  # resumed, not started over


def test_no_secret_in_any_message_at_debug_level(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, ENTITIES)
    configured = airbytekit.configure(airbytekit.discover(config), STREAMS)
    run = run_source("read", config=config, catalog=configured, log_level="DEBUG")
    assert run.returncode == 0, run.errors
    assert any(log["level"] == "DEBUG" for log in run.logs)
    assert_no_secret(sim, run)
