"""The catalog decides how a stream is replicated (Singer spec, Meltano's ``metadata:``).

Through the tap CLI against the simulator: ``replication-method: FULL_TABLE`` (as Meltano
writes it: in the metadata and on the entry; as a hand-edited catalog has it: in the
metadata only) and ``forced-replication-method`` read the stream in full and bookmark
nothing, with ACTIVATE_VERSION when asked; an inquiry's ``replication-key`` chosen in the
catalog makes it incremental like ``inquiry_replication_keys``; impossible choices are one
clear error. (The Meltano + PostgreSQL proof is in ``test_e2e_replication.py``.)
"""

from __future__ import annotations

import copy
import json
import typing as t

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

CUSTOMERS = 40
INQUIRY = "BI-SalesOrders"
STAMP = "LastModifiedDateTime"


pytestmark = pytest.mark.simulator(seed=3, sizes={"Customer": CUSTOMERS}, default_size=5)
ODATA = {"schema": "OData", "inquiries": [INQUIRY]}


@pytest.fixture(scope="module")
def customer_catalog(module_sim: SimulatorProcess) -> dict[str, t.Any]:
    catalog = tapkit.discover(tapkit.config_for(module_sim, entities=["Customer"]))
    return tapkit.select(catalog, ["Customer"])


def root_metadata(catalog: dict[str, t.Any], stream: str) -> dict[str, t.Any]:
    entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])


def with_choice(
    catalog: dict[str, t.Any], stream: str, *, entry: dict[str, t.Any], metadata: dict[str, t.Any]
) -> dict[str, t.Any]:
    """A copy of ``catalog`` where ``stream`` carries these entry fields and root metadata."""
    out = copy.deepcopy(catalog)
    for item in out["streams"]:
        if item["tap_stream_id"] == stream:
            item.update(entry)
            root_metadata(out, stream).update(metadata)
    return out


def messages(run: tapkit.TapRun, kind: str) -> list[dict[str, t.Any]]:
    out = []
    for line in run.stdout.splitlines():
        if line.strip():
            message = json.loads(line)
            if message.get("type") == kind:
                out.append(message)
    return out


OLD_BOOKMARK = "2099-01-01T00:00:00.000000+00:00"  # an incremental run would read nothing


@pytest.mark.parametrize(
    ("entry", "metadata"),
    [
        # What `meltano run` passes for `metadata: {Customer: {replication-method: FULL_TABLE}}`.
        ({"replication_method": "FULL_TABLE"}, {"replication-method": "FULL_TABLE"}),
        # A hand-edited catalog following the Singer spec (the SDK alone drops this key).
        ({}, {"replication-method": "FULL_TABLE"}),
        # The tap-side key, added to a discovered catalog (entry still says INCREMENTAL).
        ({}, {"forced-replication-method": "FULL_TABLE"}),
    ],
    ids=["meltano", "metadata", "forced"],
)
def test_full_table_from_the_catalog(
    sim: SimulatorProcess,
    customer_catalog: dict[str, t.Any],
    entry: dict[str, t.Any],
    metadata: dict[str, t.Any],
) -> None:
    catalog = with_choice(customer_catalog, "Customer", entry=entry, metadata=metadata)
    state = {
        "bookmarks": {"Customer": {"replication_key": STAMP, "replication_key_value": OLD_BOOKMARK}}
    }
    sim.control.reset()
    run = tapkit.run_tap(tapkit.config_for(sim), catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Beginning sync of 'Customer' in full_table mode" in run.stderr
    assert run.count("Customer") == CUSTOMERS
    assert {r["id"] for r in run.records["Customer"]} == {
        r["id"] for r in sim.control.truth("Customer")
    }
    # Nothing bookmarked: the state leaves as it came, and no request filtered on the stamp.
    assert run.last_state == state
    lists = sim.control.requests(kind="list")
    assert lists
    assert not any("$filter" in r["query"] for r in lists), lists
    assert not messages(run, "ACTIVATE_VERSION")


def test_full_table_sends_activate_version(
    sim: SimulatorProcess, customer_catalog: dict[str, t.Any]
) -> None:
    catalog = with_choice(
        customer_catalog, "Customer", entry={}, metadata={"replication-method": "FULL_TABLE"}
    )
    run = tapkit.run_tap(
        tapkit.config_for(sim, emit_activate_version_messages=True), catalog=catalog
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (activate,) = messages(run, "ACTIVATE_VERSION")
    records = messages(run, "RECORD")
    assert len(records) == CUSTOMERS
    # Every record carries the version the target activates (the tap's own record path).
    assert {r.get("version") for r in records} == {activate["version"]}
    assert run.stdout.index('"ACTIVATE_VERSION"') < run.stdout.index('"RECORD"')


def test_an_entity_is_incremental_by_default_and_only_by_its_stamp(
    sim: SimulatorProcess, customer_catalog: dict[str, t.Any]
) -> None:
    md = root_metadata(customer_catalog, "Customer")
    assert md["valid-replication-keys"] == [STAMP]
    assert md["replication-key"] == STAMP
    run = tapkit.run_tap(tapkit.config_for(sim), catalog=customer_catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "in incremental mode" in run.stderr
    assert run.last_state["bookmarks"]["Customer"]["replication_key"] == STAMP

    other = with_choice(
        customer_catalog,
        "Customer",
        entry={"replication_key": "CustomerName"},
        metadata={"replication-key": "CustomerName"},
    )
    run = tapkit.run_tap(tapkit.config_for(sim), catalog=other)
    tapkit.assert_one_clear_error(run, "'Customer'", "'CustomerName'", f"'{STAMP}'")

    log_based = with_choice(
        customer_catalog, "Customer", entry={}, metadata={"replication-method": "LOG_BASED"}
    )
    run = tapkit.run_tap(tapkit.config_for(sim), catalog=log_based)
    tapkit.assert_one_clear_error(run, "'LOG_BASED'", "FULL_TABLE")


@pytest.fixture(scope="module")
def inquiry_catalog(module_sim: SimulatorProcess) -> dict[str, t.Any]:
    return tapkit.select(tapkit.discover(tapkit.config_for(module_sim, ODATA)), [INQUIRY])


def test_every_datetime_column_of_an_inquiry_is_a_valid_key(
    inquiry_catalog: dict[str, t.Any],
) -> None:
    entry = inquiry_catalog["streams"][0]
    columns = [
        name
        for name, prop in entry["schema"]["properties"].items()
        if prop.get("format") == "date-time"
    ]
    assert len(columns) >= 2, columns
    md = root_metadata(inquiry_catalog, INQUIRY)
    assert md["valid-replication-keys"] == columns
    # Nothing chosen: read in full, and the catalog says nothing a later choice must undo.
    assert "replication-key" not in md
    assert entry.get("replication_key") is None
    assert entry.get("replication_method") is None


@pytest.mark.parametrize("column", ["LastModifiedOn", "CreatedOn"])
def test_replication_key_chosen_in_the_catalog(
    sim: SimulatorProcess, inquiry_catalog: dict[str, t.Any], column: str
) -> None:
    """Like `inquiry_replication_keys`: windows on the column, a bookmark on it."""
    chosen = with_choice(
        inquiry_catalog,
        INQUIRY,
        entry={"replication_key": column},  # Meltano writes both
        metadata={"replication-key": column},
    )
    sim.control.reset()
    run = tapkit.run_tap(tapkit.config_for(sim, ODATA), catalog=chosen)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Beginning sync of '{INQUIRY}' in incremental mode" in run.stderr
    assert run.count(INQUIRY) == len(sim.control.truth_odata(INQUIRY))
    bookmark = run.last_state["bookmarks"][INQUIRY]
    assert bookmark["replication_key"] == column
    filters = [r["query"] for r in sim.control.requests() if r["kind"] == "odata"]
    assert any(column in q.get("$filter", "") for q in filters), filters

    # The setting says the same: fine. It says another column: one clear error.
    same = tapkit.run_tap(
        tapkit.config_for(sim, ODATA, inquiry_replication_keys={INQUIRY: column}), catalog=chosen
    )
    assert same.returncode == 0, same.stderr[-3000:]
    other = "CreatedOn" if column == "LastModifiedOn" else "LastModifiedOn"
    run = tapkit.run_tap(
        tapkit.config_for(sim, ODATA, inquiry_replication_keys={INQUIRY: other}), catalog=chosen
    )
    tapkit.assert_one_clear_error(run, "'inquiry_replication_keys'", repr(other), repr(column))


def test_inquiry_catalog_key_must_be_a_datetime_column(
    sim: SimulatorProcess, inquiry_catalog: dict[str, t.Any]
) -> None:
    bad = with_choice(inquiry_catalog, INQUIRY, entry={"replication_key": "Status"}, metadata={})
    run = tapkit.run_tap(tapkit.config_for(sim, ODATA), catalog=bad)
    tapkit.assert_one_clear_error(run, f"{INQUIRY!r}", "'Status'", "'LastModifiedOn'")
    no_key = with_choice(
        inquiry_catalog, INQUIRY, entry={}, metadata={"replication-method": "INCREMENTAL"}
    )
    run = tapkit.run_tap(tapkit.config_for(sim, ODATA), catalog=no_key)
    tapkit.assert_one_clear_error(run, "INCREMENTAL", "names no replication-key")
