"""singer-check-tap (PyPI singer-tools) validates the tap's output, then its rerun with state.

singer-check-tap is an independent Singer validator: it runs the tap with only ``--config``
(no catalog: the tap discovers and syncs its default selection), checks that every RECORD
follows a SCHEMA and validates against it (Draft 4, date-time formats), then runs the tap
again with the last STATE of the first run. It lives in its own virtualenv (it pins old
libraries).

singer-tools 0.4.1 reads the tap's stdout in a thread and uses the result right after the
tap exits without joining that thread, so on a busy machine it can report on a partly read
output (or crash on ``None``). The wrapper below joins the reader first; it changes nothing
in what is checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess
from tests.toolenv import ensure_tool

pytestmark = pytest.mark.slow

SIZES = {"Customer": 300, "SalesOrder": 150, "StockItem": 100}
TAP = str(Path(sys.executable).parent / "tap-acumatica")

WRAPPER = """
import sys
from singertools import check_tap

def run_and_summarize(tap, config, state=None, debug=False):
    import subprocess
    cmd = [tap, '--config', config] + (['--state', state] if state else [])
    print('Running command {}'.format(' '.join(cmd)))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=None if debug else subprocess.DEVNULL,
                            bufsize=1, universal_newlines=True)
    reader = check_tap.StdoutReader(proc)
    reader.start()
    returncode = proc.wait()
    reader.join()
    if returncode != 0:
        print('ERROR: tap exited with status {}'.format(returncode))
        sys.exit(1)
    if reader.summary is None:
        print('ERROR: the output could not be read')
        sys.exit(1)
    return reader.summary

check_tap.run_and_summarize = run_and_summarize
sys.argv[0] = 'singer-check-tap'
check_tap.main()
"""


def summaries(output: str) -> list[dict[str, int]]:
    """Records per stream of each `Details by stream` table singer-check-tap printed."""
    tables: list[dict[str, int]] = []
    for block in output.split("Details by stream:")[1:]:
        counts: dict[str, int] = {}
        for line in block.splitlines():
            match = re.match(r"^\|\s*(\w+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|$", line)
            if match:
                counts[match.group(1)] = int(match.group(2))
            elif counts and not line.startswith(("|", "+")):
                break
        tables.append(counts)
    return tables


@pytest.mark.simulator(sizes=SIZES, default_size=5, versions=["20.200.001"])
def test_singer_check_tap(sim: SimulatorProcess, tmp_path: Path) -> None:
    tools = ensure_tool("singer-tools")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            tapkit.config_for(
                sim,
                entities=list(SIZES),
                page_size=100,  # not 1000: the entities' rows take several windows
            )
        )
    )
    done = subprocess.run(
        [tools.python, "-c", WRAPPER, "--tap", TAP, "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert output.count("The output is valid.") == 2, output[-4000:]
    assert "Now re-running tap with state produced by previous run" in output
    first, rerun = summaries(done.stdout)
    assert first == SIZES, first
    # Nothing changed since the first run: its state makes the rerun read nothing (the
    # rows are stamped long before the settle_seconds margin it reads again).
    assert sum(rerun.values()) == 0, rerun
    counters = sim.control.counters()
    assert counters["open_sessions"] == 0, counters
