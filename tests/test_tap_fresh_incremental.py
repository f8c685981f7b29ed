"""Incremental runs with the default settings: fresh, safe, and with bounded duplicates.

* **Fresh**: a change saved right before a run (even in the same second as its first
  request) is emitted by that run.
* **Safe**: a long transaction (rows stamped when saved, visible only when it commits) that
  is still uncommitted while a run reads is emitted by the next run.
* **Bounded duplicates**: the next run re-reads only the rows stamped within
  ``settle_seconds`` of the previous run's bound, and says how many.

REST entities and an incremental OData inquiry in both URL families, over real HTTP
against the simulator, with the default ``settle_seconds`` unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import typing as t

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

STAMPED = "BI-SalesOrders"
FAMILIES = ["v4", "legacy"]
SETTLE_DEFAULT = 30
#: Less than the default margin: a transaction committing this long after its stamp must
#: not be lost.
COMMIT_AFTER = 4.0
REREAD = re.compile(r"(\d+) of these records were re-read")


#: The Customer stream, with quick retries (``tapkit.QUICK_RETRIES`` says why).
CUSTOMERS = {**tapkit.QUICK_RETRIES, "entities": ["Customer"]}
INQUIRY = {
    "schema": "OData",
    "inquiries": [STAMPED],
    "inquiry_replication_keys": {STAMPED: "LastModifiedOn"},
}


def first_run(config: dict[str, t.Any], stream: str) -> tuple[dict, tapkit.TapRun]:
    """Discover, select ``stream`` and run once from no state; the catalog and the run."""
    catalog = tapkit.select(tapkit.discover(config), [stream])
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    return catalog, first


def order_key(record: dict[str, t.Any]) -> tuple[str, str]:
    return (record["OrderType"], record["OrderNbr"])


def rereads(run: tapkit.TapRun) -> list[int]:
    return [int(m.group(1)) for m in REREAD.finditer(run.stderr)]


def bookmark_of(state: dict | None, stream: str) -> str:
    assert state is not None
    return str(state["bookmarks"][stream]["replication_key_value"])


def upper_bound_of(state: dict | None, stream: str) -> str:
    assert state is not None
    return str(state["bookmarks"][stream]["replication_key_upper_bound"])


def at_start_of_a_second(sim: SimulatorProcess) -> None:
    """Return just after the server's clock turns a second: a change made now and a run
    started at once (its first answer within the second) share the ``Date`` second, the
    case a bound taken from ``Date`` alone would miss."""
    ms = sim.control.clock()["epoch_ms"] % 1000
    time.sleep((1000 - ms) / 1000 + 0.01)


def shifted(text: str, seconds: float) -> str:
    """A fixed-width UTC bookmark moved by ``seconds`` (same format, string-comparable)."""
    moment = dt.datetime.fromisoformat(text) + dt.timedelta(seconds=seconds)
    return moment.isoformat(timespec="microseconds")


# --- REST -------------------------------------------------------------------------------------
# Every test resets the simulator (the `sim` fixture): a run re-reads the margin, so earlier
# tests' changes would show.


@pytest.mark.simulator(sizes={"Customer": 1500}, default_size=5)
def test_rest_change_saved_right_before_a_run_is_in_it(sim: SimulatorProcess) -> None:
    """Five times: change, run at once with the previous state. Each run holds every change
    saved before it started; anything else it emits is a change of the margin (stamped
    after the previous run's Date minus settle_seconds), never an older row."""
    config = tapkit.config_for(sim, CUSTOMERS)
    catalog, first = first_run(config, "Customer")
    assert first.count("Customer") == 1500
    state = first.last_state
    changed_so_far: set[str] = set()
    for round_ in range(5):
        at_start_of_a_second(sim)
        changed = sim.control.mutate("Customer", update=4, insert=1)
        ids = set(changed["updated"]) | set(changed["inserted"])
        changed_so_far |= ids
        run = tapkit.run_tap(config, catalog=catalog, state=state)
        assert run.returncode == 0, run.stderr[-3000:]
        got = tapkit.emitted_by_id(run.records["Customer"])
        assert ids <= set(got), f"round {round_}: changes missing from the run right after"
        assert set(got) <= changed_so_far, "a row outside the margin was read again"
        start = bookmark_of(state, "Customer")
        assert all(r["LastModifiedDateTime"] > start for r in got.values())
        # The run logs how many rows were stamped at or before the previous run's bound:
        # the earlier rounds' changes, and this round's if saved in that same second.
        [logged] = rereads(run)
        assert len(set(got) - ids) <= logged <= len(got), run.stderr[-2000:]
        state = run.last_state
    tapkit.assert_sessions_closed(sim)


@pytest.mark.simulator(sizes={"Customer": 1500}, default_size=5)
def test_rest_long_transaction_is_read_by_the_next_run(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, CUSTOMERS)
    catalog, first = first_run(config, "Customer")
    tx = sim.control.mutate("Customer", update=6, insert=3, commit_after_seconds=COMMIT_AFTER)
    assert not tx["committed"]
    assert tx["inserted"] == []  # inserted rows get their ids when they commit

    during = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert during.returncode == 0, during.stderr[-3000:]
    assert during.count("Customer") == 0, "uncommitted versions were served"
    # Its bookmark stays behind the transaction's stamp: the rows can still be read.
    stamp = dt.datetime.fromtimestamp(tx["stamp_ms"] / 1000, dt.timezone.utc)
    assert bookmark_of(during.last_state, "Customer") < stamp.isoformat(timespec="microseconds")

    wait = tx["commit_at_ms"] / 1000 - sim.control.clock()["epoch_ms"] / 1000
    time.sleep(max(0.0, wait) + 0.2)
    done = next(t for t in sim.control.transactions() if t["transaction"] == tx["transaction"])
    assert done["committed"]
    assert len(done["inserted"]) == 3
    ids = set(done["updated"]) | set(done["inserted"])

    after = tapkit.run_tap(config, catalog=catalog, state=during.last_state)
    assert after.returncode == 0, after.stderr[-3000:]
    got = tapkit.emitted_by_id(after.records["Customer"])
    # All of the transaction, and nothing else: an increment, not a re-sync.
    assert set(got) == ids
    truth = {r["id"]: r for r in sim.control.truth("Customer")}
    for record_id in ids:
        assert got[record_id]["LastModifiedDateTime"] == tapkit.utc_text(
            truth[record_id]["LastModifiedDateTime"]["value"]
        )


@pytest.mark.simulator(sizes={"Customer": 300}, default_size=5)
def test_rest_margin_is_read_again_once_and_no_further(sim: SimulatorProcess) -> None:
    """The re-read covers only rows stamped within settle_seconds of the previous run."""
    # settle_seconds 5, not the default 30: the test gets past the margin in seconds.
    config = tapkit.config_for(sim, CUSTOMERS, settle_seconds=5)
    catalog = tapkit.select(tapkit.discover(config), ["Customer"])
    first = tapkit.run_tap(config, catalog=catalog)
    changed = sim.control.mutate("Customer", update=3, insert=2)
    ids = set(changed["updated"]) | set(changed["inserted"])
    second = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert set(tapkit.emitted_by_id(second.records["Customer"])) == ids
    time.sleep(6.5)  # the next run's Date is past the changes' margin
    third = tapkit.run_tap(config, catalog=catalog, state=second.last_state)
    assert set(tapkit.emitted_by_id(third.records["Customer"])) == ids  # the margin
    assert rereads(third) == [len(ids)]
    fourth = tapkit.run_tap(config, catalog=catalog, state=third.last_state)
    assert fourth.returncode == 0, fourth.stderr[-2000:]
    assert fourth.count("Customer") == 0
    assert rereads(fourth) == [0]
    # The bookmark trails the run's upper bound by the margin plus the Date's second.
    state = fourth.last_state
    assert bookmark_of(state, "Customer") == shifted(upper_bound_of(state, "Customer"), -6)


@pytest.mark.simulator(sizes={"Customer": 20000}, default_size=5)
def test_rest_default_margin_rereads_after_a_busy_run(sim: SimulatorProcess) -> None:
    """The figure for the closing note: a run right after a busy one re-reads the rows
    changed within settle_seconds (default) of the busy run's start, no others."""
    config = tapkit.config_for(sim, CUSTOMERS)
    catalog = tapkit.select(tapkit.discover(config), ["Customer"])
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.count("Customer") == 20000
    changed = sim.control.mutate("Customer", update=3000, insert=500)
    ids = set(changed["updated"]) | set(changed["inserted"])
    busy = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert set(tapkit.emitted_by_id(busy.records["Customer"])) == ids
    again = tapkit.run_tap(config, catalog=catalog, state=busy.last_state)
    got = set(tapkit.emitted_by_id(again.records["Customer"]))
    print(
        f"busy run: {len(ids)} changed rows emitted; the run right after re-read "
        f"{len(got)} rows ({rereads(again)} logged), settle_seconds {SETTLE_DEFAULT}"
    )
    assert got == ids
    assert rereads(again) == [len(ids)]


# --- OData inquiries, both URL families --------------------------------------------------------


@pytest.mark.simulator(seed=11)
@pytest.mark.parametrize("family", FAMILIES)
def test_inquiry_change_saved_right_before_a_run_is_in_it(
    sim: SimulatorProcess, family: str
) -> None:
    config = tapkit.config_for(sim, INQUIRY, odata_url_style=family)
    catalog, first = first_run(config, STAMPED)
    state = first.last_state
    changed_so_far: set[tuple[str, str]] = set()
    for round_ in range(3):
        at_start_of_a_second(sim)
        changed = sim.control.mutate_odata(STAMPED, update=4, insert=1)
        keys = {order_key(k) for k in changed["updated"] + changed["inserted"]}
        changed_so_far |= keys
        run = tapkit.run_tap(config, catalog=catalog, state=state)
        assert run.returncode == 0, run.stderr[-3000:]
        got = {order_key(r) for r in run.records.get(STAMPED, [])}
        assert keys <= got, f"round {round_}: changes missing from the run right after"
        # Other rows: only earlier rounds' changes, read again within the margin.
        assert got <= changed_so_far, sorted(got - changed_so_far)
        start = bookmark_of(state, STAMPED)
        assert all(r["LastModifiedOn"] > start for r in run.records[STAMPED])
        state = run.last_state


@pytest.mark.simulator(seed=11)
@pytest.mark.parametrize("family", FAMILIES)
def test_inquiry_long_transaction_is_read_by_the_next_run(
    sim: SimulatorProcess, family: str
) -> None:
    config = tapkit.config_for(sim, INQUIRY, odata_url_style=family)
    catalog, first = first_run(config, STAMPED)
    before = {order_key(r) for r in first.records[STAMPED]}
    tx = sim.control.mutate_odata(STAMPED, update=5, insert=2, commit_after_seconds=COMMIT_AFTER)
    keys = {order_key(k) for k in tx["updated"] + tx["inserted"]}
    inserted = {order_key(k) for k in tx["inserted"]}
    during = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert during.returncode == 0, during.stderr[-3000:]
    seen = {order_key(r) for r in during.records.get(STAMPED, [])}
    assert not seen & keys, "uncommitted rows were served"
    assert not inserted & before

    time.sleep(COMMIT_AFTER + 0.3)
    after = tapkit.run_tap(config, catalog=catalog, state=during.last_state)
    assert after.returncode == 0, after.stderr[-3000:]
    got = {order_key(r) for r in after.records[STAMPED]}
    # All of the transaction, and nothing else: an increment, not a re-sync.
    assert got == keys
    assert len(after.records[STAMPED]) == len(keys)
    truth = {order_key(r): r for r in sim.control.truth_odata(STAMPED)}
    for record in after.records[STAMPED]:
        if order_key(record) in keys:
            assert record["LastModifiedOn"] == tapkit.utc_text(
                truth[order_key(record)]["LastModifiedOn"]
            )
