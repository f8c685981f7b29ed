"""Smoke run of the Airbyte benchmark (`python -m benchmarks.airbyte`) with small sizes: it
runs end to end (PyAirbyte included) and prints every figure with the records each run
read. Timings are the benchmark's to report (docs/AIRBYTE.md), not asserted here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Slow (starts a simulator and PyAirbyte). `python3 tasks.py test -m "not slow"` skips it.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RUNS = (
    "Singer, same fields (baseline)",
    "Singer, default selection",
    "source-acumatica read",
    "PyAirbyte Source.read into DuckDB",
    "PyAirbyte process (import included)",
)


def test_airbyte_benchmark_quick_runs_and_prints_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            *("-m", "benchmarks.airbyte", "--customers", "300", "--items", "80", "--repeat", "1"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for run in RUNS:
        line = next(x for x in done.stdout.splitlines() if x.startswith(run))
        records, seconds, rate, ratio = re.split(r"\s+", line[len(run) :].strip())
        assert records == "380", line  # every run read every record
        assert float(seconds) > 0
        assert float(rate.replace(",", "")) > 0
        assert float(ratio) == 1.0 if run == RUNS[0] else float(ratio) > 0
    assert "x baseline" in done.stdout
