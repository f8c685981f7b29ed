"""The tap's economy against the simulator (issue 13): list requests and whole rows.

A real Acumatica scans the table for every filtered request (no index on the stamp) and
renders a whole row at many times the cost of a stamp, so the tap is held to the plain
``$top/$skip`` loop: list requests <= 1.1 x the loop's + 3, whole rows = N when N fits in a
page, <= 1.1 x N otherwise. The loop reads N rows in N // page + 1 requests.
"""

from __future__ import annotations

import time
import typing as t

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

PAGE = 1000  # the tap's default page_size


def loop_requests(n: int) -> int:
    """What the plain loop sends: full pages until a short one (maybe empty)."""
    return n // PAGE + 1


def after_second_boundary() -> None:
    """A run's snapshot end is the server's Date header, to the second: a change made in
    the same second as the next run's start is left for the run after it."""
    time.sleep(1.05)


def latest_versions_lost(sim: SimulatorProcess, runs: list[tapkit.TapRun]) -> tuple[int, int]:
    """(Customers whose latest stamp no run emitted, Customers in the ERP now)."""
    stamp = "LastModifiedDateTime"
    truth = {
        r["id"]: tapkit.utc_text(r[stamp]["value"])
        for r in sim.control.truth("Customer", version=tapkit.REST_VERSION)
    }
    seen = {(r["id"], r[stamp]) for run in runs for r in run.records.get("Customer", [])}
    return sum(1 for key in truth.items() if key not in seen), len(truth)


def work(sim: SimulatorProcess, before: dict[str, t.Any]) -> tuple[int, int, int]:
    """(list requests, whole rows, narrowed rows) since the ``before`` counters."""
    after = sim.control.counters()
    return (
        after["requests_by_kind"].get("list", 0) - before["requests_by_kind"].get("list", 0),
        after["rows_whole"] - before["rows_whole"],
        after["rows_narrowed"] - before["rows_narrowed"],
    )


@pytest.mark.parametrize("concurrency", [1, 4])
def test_first_load_meets_the_loop_on_requests_and_whole_rows(
    sim: SimulatorProcess, concurrency: int
) -> None:
    n = 3000
    sim.configure(sizes={"Customer": n}, default_size=5)
    config = tapkit.config_for(
        sim, tapkit.QUICK_RETRIES, entities=["Customer"], max_concurrent_requests=concurrency
    )
    catalog = tapkit.select(tapkit.discover(config), ["Customer"])
    before = sim.control.counters()
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(tapkit.emitted_by_id(run.records["Customer"])) == n
    requests, whole, narrowed = work(sim, before)
    assert requests <= 1.1 * loop_requests(n) + 3
    # One census request (stamps only), then windows planned full: three, or four when
    # rows sharing a stamp at a cut leave a window a little short of 1,000.
    assert 4 <= requests <= 5
    assert whole == n
    assert narrowed == n


def test_small_change_set_costs_one_census_and_one_window_and_none_costs_one(
    sim: SimulatorProcess,
) -> None:
    sim.configure(sizes={"Customer": 3000}, default_size=5)
    config = tapkit.config_for(sim, tapkit.QUICK_RETRIES, entities=["Customer"])
    catalog = tapkit.select(tapkit.discover(config), ["Customer"])
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    after_second_boundary()
    before = sim.control.counters()
    quiet = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert work(sim, before) == (1, 0, 0)  # an empty census: nothing else to read
    changed = sim.control.mutate("Customer", update=600)
    after_second_boundary()
    before = sim.control.counters()
    second = tapkit.run_tap(config, catalog=catalog, state=quiet.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert set(tapkit.emitted_by_id(second.records["Customer"])) == set(changed["updated"])
    assert work(sim, before) == (2, 600, 600)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_census_over_several_requests_under_live_mutation_loses_nothing(
    sim: SimulatorProcess,
    concurrency: int,
) -> None:
    """55,000 rows: the census takes three requests (25,001 stamps each), asked together at
    c=4, while the ERP changes under them; every row's latest version is emitted."""
    n = 55_000
    sim.configure(sizes={"Customer": n}, default_size=5)
    config = tapkit.config_for(
        sim, tapkit.QUICK_RETRIES, entities=["Customer"], max_concurrent_requests=concurrency
    )
    catalog = tapkit.select(tapkit.discover(config), ["Customer"])
    sim.control.faults(live_mutation={"entity": "Customer", "every": 2, "update": 40, "insert": 5})
    before = sim.control.counters()
    first = tapkit.run_tap(config, catalog=catalog, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    requests, whole, narrowed = work(sim, before)
    sim.control.faults()
    after_second_boundary()
    second = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    lost, total = latest_versions_lost(sim, [first, second])
    assert lost == 0, f"{lost} of {total} rows lost"
    # Rows moved under the census and the windows (that is the point), so the counts
    # are looser than on a quiet ERP, but still the loop's plus a few.
    print(f"c={concurrency}: {requests} list requests, {whole} whole rows, {narrowed} stamps")
    # Updated rows leave the census's filtered set between its pages and shift the
    # rest: a census is only a plan, and a few stamps missing from it are fine.
    assert narrowed >= 0.99 * n
    assert requests <= 1.1 * loop_requests(n) + 3 + 4
    assert whole <= 1.1 * n


def test_first_load_killed_midway_resumes_where_it_stopped(sim: SimulatorProcess) -> None:
    """kill -9 during a 30,000-row first load: the STATE it wrote last (one per complete
    window) keeps the windows read; the next run censuses and reads only the rest, and
    nothing is lost. (A kill during the census keeps nothing: the census is only a plan.)"""
    n = 30_000
    sim.configure(sizes={"Customer": n}, default_size=5)
    config = tapkit.config_for(sim, tapkit.QUICK_RETRIES, entities=["Customer"])
    catalog = tapkit.select(tapkit.discover(config), ["Customer"])
    # Slow list requests down, so the kill lands mid-load rather than after it.
    sim.control.faults(latency_ms=100, only_kinds=["list"])
    killed = tapkit.run_until(config, catalog=catalog, state=None, stop_after_states=8)
    assert killed.returncode == -9, killed.stderr[-3000:]
    done_before = len(tapkit.emitted_by_id(killed.records["Customer"]))
    bookmark = killed.last_state["bookmarks"]["Customer"]["replication_key_value"]
    assert bookmark > "2024"  # past the start of the data, not the 1900 epoch
    assert done_before >= 5 * 990
    sim.control.faults()
    before = sim.control.counters()
    resumed = tapkit.run_tap(config, catalog=catalog, state=killed.last_state)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    requests, whole, narrowed = work(sim, before)
    rest = tapkit.emitted_by_id(resumed.records["Customer"])
    print(
        f"killed after {done_before} records; resumed: {len(rest)} records, {requests} "
        f"list requests, {whole} whole rows, {narrowed} stamps"
    )
    # The resumed run reads what the killed one did not complete, no more.
    assert narrowed <= n - done_before + PAGE
    assert whole <= n - done_before + PAGE
    assert requests <= 1 + loop_requests(n - done_before) + 3
    lost, total = latest_versions_lost(sim, [killed, resumed])
    assert (lost, total) == (0, n)
