"""The README's first command (`python3 tasks.py demo`) keeps working."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.demo import ROOT

# Slow (runs the README demo (simulator, tap, target-jsonl) end to end).
# `python3 tasks.py test -m "not slow"` skips it; CI runs it.
pytestmark = pytest.mark.slow


def test_demo_runs_a_real_extraction_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    out = done.stdout
    assert "Customer       2000 records" in out
    assert "SalesOrder     1500 records" in out
    assert "StockItem       800 records" in out
    assert "Customer         30 records" in out  # run 2 reads only the 25 updates + 5 inserts
    assert "0 left open" in out
    lines = (ROOT / "demo-output" / "run-1").glob("SalesOrder*.jsonl")
    assert any('"Details": [' in path.read_text() for path in lines)


def test_demo_runs_against_acumatica_2026_r2() -> None:
    """``python3 tasks.py demo --endpoint-version 26.200.001``: contract v5, drop-downs as
    two columns in the target's files."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.demo", "--endpoint-version", "26.200.001"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    out = done.stdout
    assert "SalesOrder     1500 records" in out
    assert "Customer         30 records" in out
    assert '"Status__id": "' in out
    records = [
        json.loads(line)
        for path in (ROOT / "demo-output" / "run-1").glob("SalesOrder*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(records) == 1500
    assert all("LastModifiedDateTime" in r and "LastModified" not in r for r in records)
    assert {r["Status__id"] for r in records} >= {"N", "H", "C"}
