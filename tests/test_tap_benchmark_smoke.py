"""Smoke run of the benchmark (`python -m benchmarks.run --quick`).

Checks that the benchmark runs end to end and prints every figure. No timing assertions:
speed is measured by the benchmark itself (benchmarks/RESULTS.md), not by the test suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Slow (runs the benchmark script end to end).
# `python3 tasks.py test -m "not slow"` skips it; CI runs it.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_quick_runs_and_prints_figures(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    assert text == done.stdout
    for heading in ("## (a)", "## (b)", "## (c)", "## (d)", "## (e)", "## (f)", "## Targets"):
        assert heading in text
    for row in ("| baseline |", "| tap c=1 |", "| tap c=4 |", "| baseline (sequential) |"):
        assert row in text
    assert "Target (a)" in text
    assert "Target (b)" in text
    assert "Target (c)" in text
    assert "Target (f)" in text
    # The ERP work is counted, not timed: the quick run must meet it like the full one.
    for size in ("600", "3,000"):
        for concurrency in (1, 4):
            row = next(
                line
                for line in text.splitlines()
                if line.startswith(f"| {size} |") and f"| {concurrency} |" in line
            )
            assert row.endswith("| MET |"), row
    # Correctness, not speed: the tap never exceeds its concurrency setting, and a
    # --catalog sync does not download swagger.json.
    assert "max in flight" in text
    assert "<= 4: yes" in text
    assert "OK (not fetched)" in text
