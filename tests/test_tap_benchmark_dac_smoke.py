"""Smoke run of the DAC benchmark (`python -m benchmarks.dac`) with small sizes: it runs end
to end and prints every figure. Timing targets are measured by the benchmark itself
(benchmarks/RESULTS.md), not asserted here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Slow (runs the DAC benchmark script end to end).
# `python3 tasks.py test -m "not slow"` skips it; CI runs it.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_dac_benchmark_quick_runs_and_prints_figures(tmp_path: Path) -> None:
    report = tmp_path / "dac.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.dac",
            "--types",
            "50",
            "--rows",
            "3000",
            "--output",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    assert "| all DACs |" in text
    assert "| 57 |" in text
    # 3 full pages and an empty one, plus one request for the server clock.
    assert "| tap (keyset; incl. 1 clock request) | 5 | 3000 |" in text
    assert "| plain $top/$skip loop | 4 | 3000 |" in text
