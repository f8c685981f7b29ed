"""Progress on stderr: long streams report at an interval, every stream ends with a summary.

The format the tap promises (and this test pins):

    <stream>: <N> records so far (<R> records/s); window (<start>, <end>], bookmark now <end>.
    <stream>: done, <N> records in <S>s (<R> records/s, <K> requests).

Progress lines come at most every ``progress_interval_seconds`` (default 30; a hidden setting
the test shortens to 1 s, with simulator latency making the stream long enough).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

VERSION = "24.200.001"
LOG_TIME = r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?"
PROGRESS = re.compile(
    LOG_TIME + r"(?P<stream>\w+): (?P<n>\d+) records so far \((?P<rate>\d+(?:\.\d+)?) "
    r"records/s\); window \((?P<start>[^,]+), (?P<end>[^\]]+)\], bookmark now (?P<mark>\S+)\.$"
)
SUMMARY = re.compile(
    r"(?P<stream>\w+): done, (?P<n>\d+) records in (?P<secs>\d+(?:\.\d+)?)s "
    r"\((?P<rate>\d+(?:\.\d+)?) records/s, (?P<requests>\d+) requests\)\.$"
)


def test_progress_and_summary_lines(sim: SimulatorProcess) -> None:
    sizes = {"Customer": 2000, "StockItem": 60}
    sim.configure(sizes=sizes, default_size=3, versions=[VERSION])
    config = tapkit.config_for(
        sim,
        endpoint_version=VERSION,
        entities=list(sizes),
        # Not the defaults: many small pages and a progress line every second, so the
        # stream logs progress within a test's time.
        page_size=100,
        progress_interval_seconds=1,
    )
    catalog = tapkit.select(tapkit.discover(config), list(sizes))
    # ~25 requests of >= 150 ms: the stream lasts well over two progress intervals
    # however fast the machine.
    sim.control.faults(latency_ms=150)
    run = tapkit.run_tap(config, catalog=catalog)
    sim.control.faults()
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stderr.splitlines()

    progress = [m for m in map(PROGRESS.search, lines) if m and m["stream"] == "Customer"]
    assert len(progress) >= 2, "\n".join(lines[-40:])
    counts = [int(m["n"]) for m in progress]
    assert counts == sorted(counts), counts
    assert counts[-1] < sizes["Customer"], counts
    assert all(float(m["rate"]) > 0 for m in progress)
    marks = [m["mark"] for m in progress]
    assert marks == sorted(marks)
    assert all(m["mark"] == m["end"] for m in progress)
    times = [dt.datetime.strptime(m["time"], "%Y-%m-%d %H:%M:%S,%f") for m in progress]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # at most one line per interval

    summaries = [m for m in map(SUMMARY.search, lines) if m]
    assert sorted(m["stream"] for m in summaries) == sorted(sizes), "one summary per stream"
    for m in summaries:
        assert int(m["n"]) == sizes[m["stream"]] == run.count(m["stream"])
        assert int(m["requests"]) >= 1


@pytest.mark.simulator(sizes={"Customer": 300}, default_size=3, versions=[VERSION])
def test_no_progress_lines_for_a_short_stream(sim: SimulatorProcess) -> None:
    """The default interval (30 s) keeps short runs quiet: just the summary."""
    config = tapkit.config_for(
        sim,
        endpoint_version=VERSION,
        entities=["Customer"],
        page_size=50,  # not 1000: several windows, still no progress line
    )
    run = tapkit.run_tap(config, catalog=tapkit.select(tapkit.discover(config), ["Customer"]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert not [line for line in run.stderr.splitlines() if PROGRESS.search(line)]
    assert len([line for line in run.stderr.splitlines() if SUMMARY.search(line)]) == 1
