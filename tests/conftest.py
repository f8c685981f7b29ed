"""Shared pytest hooks."""

from __future__ import annotations

import typing as t

from tests import faultstats


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    """Print the fault suite's totals (faults injected, runs, records lost)."""
    line = faultstats.summary_line()
    if line:
        terminalreporter.write_sep("-", "fault injection summary")
        terminalreporter.write_line(line)
