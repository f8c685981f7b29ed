"""Drive PyAirbyte (Airbyte's own Python client) against ``source-acumatica``.

Runs with the Python of PyAirbyte's own environment (tests/toolenv.py, tool ``pyairbyte``),
never the tests' (PyAirbyte pins hundreds of packages of its own), so it imports nothing
from the repository. One job per process:

    python tests/pyairbyte_driver.py JOB.json

``JOB.json``: ``{"action": "read" | "check", "executable": <source-acumatica>,
"config": {...}, "streams": [...], "cache_dir": ..., "result": <file to write>}``. A read
goes into a DuckDB cache in ``cache_dir`` (kept between jobs: PyAirbyte keeps the streams'
state there, so the next read of the same cache is incremental) and the result holds
the records read, the seconds ``Source.read`` took and (unless ``"tables": false``) every
row of each stream's table.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys
import time
import typing as t

# No registry look-up or telemetry: this machine (and CI) has no internet access.
os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab
from airbyte import exceptions as ab_exceptions


def _plain(value: t.Any) -> t.Any:
    """A value read back from DuckDB, in JSON: instants as UTC text, decimals exact."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        # A JSON number when a float holds it exactly (the test reads numbers as Decimal),
        # else the exact text: a difference shows instead of being rounded away.
        if value == value.to_integral_value():
            return int(value)
        return float(value) if decimal.Decimal(repr(float(value))) == value else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read(job: dict[str, t.Any]) -> dict[str, t.Any]:
    source = ab.get_source(
        "source-acumatica", local_executable=job["executable"], config=job["config"]
    )
    source.select_streams(job["streams"])
    cache = ab.new_local_cache(cache_name="acumatica", cache_dir=job["cache_dir"])
    started = time.monotonic()
    result = source.read(cache=cache)
    seconds = time.monotonic() - started
    outcome: dict[str, t.Any] = {"seconds": seconds, "processed_records": result.processed_records}
    if job.get("tables", True):  # the benchmark leaves the rows in the cache
        outcome["tables"] = {
            name: [_plain(dict(row)) for row in cache[name]] for name in job["streams"]
        }
    return outcome


def check(job: dict[str, t.Any]) -> dict[str, t.Any]:
    source = ab.get_source(
        "source-acumatica", local_executable=job["executable"], config=job["config"]
    )
    try:
        source.check()
    except ab_exceptions.AirbyteConnectorCheckFailedError as exc:
        return {"ok": False, "reason": (exc.context or {}).get("failure_reason"), "error": str(exc)}
    return {"ok": True}


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        job = json.load(handle)
    outcome = {"read": read, "check": check}[job["action"]](job)
    with open(job["result"], "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
