"""The simulator's long transactions: stamped when saved, visible only when committed.

Acumatica stamps ``LastModifiedDateTime`` when a record is saved; a long transaction (a
big release, a mass update, an import scenario) commits later. Until then readers get the
old versions and no inserted rows; a later change of a locked row waits for the commit;
a row's stamp never goes back in time.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess


def stamps_by_id(sim: SimulatorProcess) -> dict[str, str]:
    return {
        r["id"]: tapkit.utc_text(r["LastModifiedDateTime"]["value"])
        for r in sim.control.truth("Customer")
    }


def utc_ms(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.timezone.utc)
    return moment.isoformat(timespec="microseconds")


def wait_for(sim: SimulatorProcess, epoch_ms: int) -> None:
    time.sleep(max(0.0, (epoch_ms - sim.control.clock()["epoch_ms"]) / 1000) + 0.1)


@pytest.mark.simulator(sizes={"Customer": 40}, default_size=3)
def test_rest_transaction_is_invisible_until_it_commits(sim: SimulatorProcess) -> None:
    before = stamps_by_id(sim)
    tx = sim.control.mutate("Customer", update=4, insert=2, commit_after_seconds=2)
    assert not tx["committed"]
    assert tx["commit_at_ms"] - tx["stamp_ms"] == 2000
    assert stamps_by_id(sim) == before  # old versions served, no new rows

    wait_for(sim, tx["commit_at_ms"])
    after = stamps_by_id(sim)
    [done] = [t for t in sim.control.transactions() if t["transaction"] == tx["transaction"]]
    assert done["committed"]
    assert len(done["inserted"]) == 2
    assert set(after) == set(before) | set(done["inserted"])
    # Stamped at the moment they were saved, not when they became visible.
    for rid in done["updated"] + done["inserted"]:
        assert after[rid] == utc_ms(tx["stamp_ms"])
    assert {rid for rid in before if after[rid] != before[rid]} == set(done["updated"])


@pytest.mark.simulator(sizes={"Customer": 5}, default_size=3)
def test_rest_change_of_a_locked_row_waits_and_never_goes_back_in_time(
    sim: SimulatorProcess,
) -> None:
    before = stamps_by_id(sim)
    slow = sim.control.mutate("Customer", update=5, commit_after_seconds=2)
    time.sleep(0.05)
    quick = sim.control.mutate("Customer", update=5)  # every row: all are locked
    assert not quick["committed"]
    assert quick["commit_at_ms"] >= slow["commit_at_ms"]
    assert quick["stamp_ms"] > slow["stamp_ms"]
    assert stamps_by_id(sim) == before
    wait_for(sim, quick["commit_at_ms"])
    after = stamps_by_id(sim)
    assert set(after.values()) == {utc_ms(quick["stamp_ms"])}


@pytest.mark.simulator(seed=11)
def test_inquiry_transaction_is_invisible_until_it_commits(sim: SimulatorProcess) -> None:
    inquiry = "BI-SalesOrders"

    def rows() -> dict[tuple[str, str], str]:
        return {
            (r["OrderType"], r["OrderNbr"]): r["LastModifiedOn"]
            for r in sim.control.truth_odata(inquiry)
        }

    before = rows()
    tx = sim.control.mutate_odata(inquiry, update=3, insert=2, commit_after_seconds=2)
    keys = {(k["OrderType"], k["OrderNbr"]) for k in tx["updated"] + tx["inserted"]}
    assert rows() == before
    time.sleep(2.3)
    after = rows()
    assert set(after) == set(before) | {(k["OrderType"], k["OrderNbr"]) for k in tx["inserted"]}
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == keys
    for key in keys:
        assert tapkit.utc_text(after[key]) == tapkit.utc_text(tx["stamp"])
