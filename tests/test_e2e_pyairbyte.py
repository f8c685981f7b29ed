"""PyAirbyte, Airbyte's own Python client, runs ``source-acumatica`` for real.

PyAirbyte (pinned, its own virtualenv: tests/toolenv.py) is driven by
tests/pyairbyte_driver.py with that environment's Python. It runs the installed console
script as a local executable (``ab.get_source(..., local_executable=...)``) exactly as it
runs any Airbyte source: ``spec``, config validation against the spec, ``check``,
``discover``, ``read`` with its own configured catalog and the state it keeps in its DuckDB
cache. Proves: Customer and StockItem read into the cache equal the simulator's truth; a
second read after changes loads only the changes (PyAirbyte passes its stored state back);
``check`` with a wrong password fails cleanly, with the Singer tap's message and no
secret anywhere in PyAirbyte's output or logs.
"""

from __future__ import annotations

import decimal
import json
import math
import os
import subprocess
import time
import typing as t
from pathlib import Path

import pytest

from tests import airbytekit, tapkit
from tests.simulator.process import SimulatorProcess
from tests.toolenv import ensure_tool

DRIVER = Path(__file__).resolve().parent / "pyairbyte_driver.py"
VERSION = tapkit.REST_VERSION
SIZES = {"Customer": 400, "StockItem": 250}
STREAMS = ["Customer", "StockItem"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.simulator(sizes=SIZES, default_size=5, versions=[VERSION]),
]


def drive(job: dict[str, t.Any], workdir: Path) -> tuple[dict[str, t.Any], str]:
    """Run one driver job with PyAirbyte's Python; its result and everything it printed."""
    python = ensure_tool("pyairbyte").python
    workdir.mkdir(parents=True, exist_ok=True)
    job_path, result_path = workdir / "job.json", workdir / "result.json"
    job_path.write_text(json.dumps({**job, "result": str(result_path)}))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(
        {
            "AIRBYTE_LOGGING_ROOT": str(workdir.parent / "logs"),
            "AIRBYTE_PROJECT_DIR": str(workdir.parent / "project"),
            "AIRBYTE_TEMP_DIR": str(workdir),
            "NO_COLOR": "1",
        }
    )
    done = subprocess.run(
        [python, str(DRIVER), str(job_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-5000:]
    return json.loads(result_path.read_text(), parse_float=decimal.Decimal), printed


def same(got: t.Any, want: t.Any, where: str) -> None:
    """``got`` (read back from PyAirbyte's cache) is ``want`` (the truth), at every level.

    Numbers with a fraction are compared as 64-bit floats: PyAirbyte parses each message
    with pydantic, which reads JSON numbers into floats, so a decimal of more than 15
    significant digits (the simulator serves some, e.g. 12345678901234.5678) is rounded
    inside PyAirbyte. The source's own RECORD lines carry them exactly
    (tests/test_tap_airbyte.py compares them with the truth as decimals).
    """
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        keys = {k for k, v in want.items() if v is not None and k.lower() != "rownumber"}
        assert {k for k, v in got.items() if v is not None and k.lower() != "rownumber"} == keys, (
            where
        )
        for key in keys:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list), where
        assert len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            same(a, b, f"{where}[{i}]")
    elif isinstance(want, int | decimal.Decimal) and not isinstance(want, bool):
        number = decimal.Decimal(str(got))
        if number == number.to_integral_value() and want == int(want):
            assert number == want, where
        else:
            assert math.isclose(float(number), float(want), rel_tol=1e-15), (where, got, want)
    else:
        assert got == want, (where, got, want)


def assert_table_equals_truth(rows: list[dict[str, t.Any]], truth: dict[str, dict]) -> None:
    """Every row of a PyAirbyte table equals the truth record with its id. PyAirbyte names
    top-level columns in lower case (nested JSON keeps its keys); a column the record does
    not hold is NULL; ``rowNumber`` is a position in a response."""
    got = {row["id"]: row for row in rows}
    assert len(got) == len(rows), "a row twice in the cache"
    assert set(got) == set(truth)
    for record_id, record in truth.items():
        row = {k: v for k, v in got[record_id].items() if not k.startswith("_airbyte_")}
        same(row, {k.lower(): v for k, v in record.items()}, record_id)


def test_pyairbyte_reads_into_duckdb_then_only_the_changes(
    sim: SimulatorProcess, tmp_path: Path
) -> None:
    # entities: discovery of the two streams only (PyAirbyte discovers before each read).
    config = tapkit.config_for(sim, entities=STREAMS)
    job = {
        "action": "read",
        "executable": airbytekit.SOURCE,  # the installed console script
        "config": config,
        "streams": STREAMS,
        "cache_dir": str(tmp_path / "cache"),
    }
    first, printed = drive(job, tmp_path / "read1")
    streams = {s["name"]: s for s in airbytekit.discover(config)["streams"]}
    assert first["processed_records"] == sum(SIZES.values())
    for name in STREAMS:
        truth = airbytekit.rest_truth(sim, streams[name], VERSION)
        assert_table_equals_truth(first["tables"][name], truth)
    assert sim.credentials["password"] not in printed
    tapkit.assert_sessions_closed(sim)

    # The Singer run of the same streams and fields, on the same data, for the figures.
    from tap_acumatica.airbyte.catalog import parse_configured, read_plan

    configured = airbytekit.configure({"streams": list(streams.values())}, STREAMS)
    singer_catalog = read_plan(parse_configured(configured, "catalog.json")).catalog
    started = time.monotonic()
    singer = tapkit.run_tap(config, catalog=singer_catalog)
    singer_seconds = time.monotonic() - started
    assert singer.returncode == 0, singer.stderr[-2000:]
    print(
        f"\nPyAirbyte read into DuckDB: {first['processed_records']} records in "
        f"{first['seconds']:.1f}s; Singer run of the same streams: "
        f"{singer.count('Customer') + singer.count('StockItem')} records in {singer_seconds:.1f}s"
    )

    customers = sim.control.mutate("Customer", update=4, insert=2)
    items = sim.control.mutate("StockItem", update=3)
    changed = {
        "Customer": set(customers["updated"]) | set(customers["inserted"]),
        "StockItem": set(items["updated"]),
    }
    extracted = {
        name: max(row["_airbyte_extracted_at"] for row in first["tables"][name]) for name in STREAMS
    }
    second, printed = drive(job, tmp_path / "read2")
    assert second["processed_records"] == sum(len(ids) for ids in changed.values())
    for name in STREAMS:
        # Only the changed rows were loaded again (merged on the primary key) ...
        fresh = {
            row["id"]
            for row in second["tables"][name]
            if row["_airbyte_extracted_at"] > extracted[name]
        }
        assert fresh == changed[name], name
        # ... and the table is the new truth.
        truth = airbytekit.rest_truth(sim, streams[name], VERSION)
        assert_table_equals_truth(second["tables"][name], truth)
    assert sim.credentials["password"] not in printed
    tapkit.assert_sessions_closed(sim)


def test_pyairbyte_check_with_a_wrong_password_fails_cleanly(
    sim: SimulatorProcess, tmp_path: Path
) -> None:
    wrong = "Wrong-Passw0rd-987"
    config = tapkit.config_for(sim, password=wrong)
    job = {"action": "check", "executable": airbytekit.SOURCE, "config": config}
    outcome, printed = drive(job, tmp_path / "check")
    assert outcome["ok"] is False
    singer = tapkit.run_tap(config, extra=["--discover"])
    line = tapkit.assert_one_clear_error(singer, "Invalid credentials")
    assert outcome["reason"] == line.removeprefix(tapkit.ERROR_PREFIX)
    logs = "".join(p.read_text() for p in (tmp_path / "logs").rglob("*") if p.is_file())
    for secret in (wrong, sim.credentials["password"], *sim.control.issued_secrets()):
        assert secret not in printed
        assert secret not in logs
    assert "Invalid credentials" in logs  # the connector's own messages reached PyAirbyte's log
    counters = sim.control.counters()
    assert counters["open_sessions"] == 0
    assert counters["login_failures"] == 2  # PyAirbyte's check and the Singer run: no retries
