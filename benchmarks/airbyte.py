"""The Airbyte source against the Singer tap on the same data (issue 23).

    python -m benchmarks.airbyte [--customers 20000] [--items 5000] [--repeat 3]

Starts the simulator (24.200.001, default costs, 2 render workers as benchmarks/run.py) with
``--customers`` Customer and ``--items`` StockItem records and reads both streams, first load
(incremental from no state), default settings, after a reset before every run:

- **Singer, same fields**: ``tap-acumatica`` with the Singer catalog ``source-acumatica read``
  runs (every top-level field, detail collections and linked entities expanded): the
  baseline; output to a null sink.
- **Singer, default selection**: ``tap-acumatica`` with the streams selected and nothing
  else (top-level fields; the Singer tap's default), for reference.
- **source-acumatica read**: the Airbyte source, output to a null sink.
- **PyAirbyte into DuckDB**: ``Source.read`` into a fresh DuckDB cache, as
  tests/test_e2e_pyairbyte.py does (PyAirbyte in its own environment, tests/toolenv.py);
  the seconds ``Source.read`` took, and the whole process (PyAirbyte's import and start-up
  included).

Medians of ``--repeat`` runs; every time with its ratio to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tap_acumatica.airbyte.catalog import parse_configured, read_plan  # noqa: E402
from tests import airbytekit, tapkit  # noqa: E402
from tests.simulator.process import SimulatorProcess  # noqa: E402
from tests.toolenv import ensure_tool  # noqa: E402

VERSION = "24.200.001"
STREAMS = ["Customer", "StockItem"]
DRIVER = ROOT / "tests" / "pyairbyte_driver.py"


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Seconds and RECORD messages of one process, its stdout read and thrown away."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    records, tail = 0, b""
    while chunk := proc.stdout.read(1 << 20):
        joined = tail + chunk
        records += joined.count(b'"type":"RECORD"')
        tail = joined[-15:]
    if proc.wait():
        raise RuntimeError(f"{command[0]} failed (exit {proc.returncode})")
    return time.perf_counter() - started, records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    options: dict[str, t.Any] = {
        "sizes": {"Customer": args.customers, "StockItem": args.items},
        "default_size": 5,
        "versions": [VERSION],
        "render_workers": 2,
    }
    pyairbyte = ensure_tool("pyairbyte").python
    times: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    with SimulatorProcess(**options) as sim, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = tapkit.config_for(sim, entities=STREAMS, endpoint_version=VERSION)
        catalog = airbytekit.discover(config)
        configured = airbytekit.configure(catalog, STREAMS)
        same_fields = read_plan(parse_configured(configured, "catalog.json")).catalog
        default = tapkit.select(tapkit.discover(config), STREAMS)
        env = tapkit.tap_env()
        for path in ("same", "default", "airbyte"):
            (work / path).mkdir()
        runs: dict[str, list[str]] = {
            "Singer, same fields (baseline)": tapkit.tap_command(
                config, work / "same", catalog=same_fields
            ),
            "Singer, default selection": tapkit.tap_command(
                config, work / "default", catalog=default
            ),
            "source-acumatica read": airbytekit.source_command(
                "read", work / "airbyte", config=config, catalog=configured
            ),
        }
        for rep in range(args.repeat):
            for label, command in runs.items():
                sim.configure(**options)
                seconds, records = timed(command, env)
                times.setdefault(label, []).append(seconds)
                counts[label] = records
            sim.configure(**options)
            job = work / f"job{rep}.json"
            result = work / f"result{rep}.json"
            job.write_text(
                json.dumps(
                    {
                        "action": "read",
                        "executable": airbytekit.SOURCE,
                        "config": config,
                        "streams": STREAMS,
                        "cache_dir": str(work / f"cache{rep}"),
                        "result": str(result),
                        "tables": False,
                    }
                )
            )
            driver_env = {
                **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
                "AIRBYTE_LOGGING_ROOT": str(work / "logs"),
                "NO_COLOR": "1",
            }
            started = time.perf_counter()
            subprocess.run(
                [pyairbyte, str(DRIVER), str(job)],
                check=True,
                env=driver_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            whole = time.perf_counter() - started
            outcome = json.loads(result.read_text())
            times.setdefault("PyAirbyte Source.read into DuckDB", []).append(outcome["seconds"])
            times.setdefault("PyAirbyte process (import included)", []).append(whole)
            counts["PyAirbyte Source.read into DuckDB"] = outcome["processed_records"]
            counts["PyAirbyte process (import included)"] = outcome["processed_records"]
    baseline = statistics.median(times["Singer, same fields (baseline)"])
    print(
        f"Customer {args.customers:,} + StockItem {args.items:,} records, {VERSION}, first "
        f"load, medians of {args.repeat}:"
    )
    print(f"{'run':<40} {'records':>9} {'seconds':>8} {'records/s':>10} {'x baseline':>10}")
    for label, values in times.items():
        seconds = statistics.median(values)
        print(
            f"{label:<40} {counts[label]:>9,} {seconds:>8.1f} {counts[label] / seconds:>10,.0f}"
            f" {seconds / baseline:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
