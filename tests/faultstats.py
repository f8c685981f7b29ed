"""Totals of the fault-injection suite, printed at the end of every pytest run that used it.

``tests/conftest.py`` prints one line from these in pytest's terminal summary (not with
``print``, which ``-q`` without ``-s`` would swallow), so CI logs always show what was
injected and what was lost.
"""

from __future__ import annotations

STATS: dict[str, int] = {
    "faults_injected": 0,
    "runs": 0,
    "records_lost": 0,
    "kills": 0,
    "signals": 0,
}


def add(**counts: int) -> None:
    for key, value in counts.items():
        STATS[key] = STATS.get(key, 0) + int(value)


def summary_line() -> str | None:
    if not STATS["runs"]:
        return None
    return (
        f"fault suite: faults injected={STATS['faults_injected']} "
        f"(+{STATS['kills']} kill -9, {STATS['signals']} SIGINT/SIGTERM), "
        f"runs={STATS['runs']}, records lost={STATS['records_lost']}"
    )
