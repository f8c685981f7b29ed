"""Shared pytest fixtures and hooks.

The simulator: one process serves the whole session (``simulator_process``); a test gets it
reset to the options it asks for, as though it had started a ``SimulatorProcess`` of its own:

    pytestmark = pytest.mark.simulator(sizes={"Customer": 300}, versions=["20.200.001"])

    @pytest.mark.simulator(seat_limit=2)      # overlays the module's options, key by key
    def test_x(sim): ...                      # reset before this test: fresh data, counters,
                                              # faults, sessions
    def test_y(module_sim): ...               # reset once for the module: its tests share
                                              # the state, in order

Options computed inside a test go to ``sim.configure(**options)`` (the same keywords as
the constructor). Every option can change this way but the instance path; a test that needs
that, two simulators at once, or a process of its own (killed, measured) starts a
``SimulatorProcess`` itself.
"""

from __future__ import annotations

import typing as t

import pytest

from tests import faultstats
from tests.simulator.process import SimulatorProcess, wait_until


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "simulator(**options): the options (SimulatorProcess's) the `sim` and `module_sim` "
        "fixtures reset the shared simulator to; a test's marker overlays its module's",
    )


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    """Print the fault suite's totals (faults injected, runs, records lost)."""
    line = faultstats.summary_line()
    if line:
        terminalreporter.write_sep("-", "fault injection summary")
        terminalreporter.write_line(line)


def simulator_options(node: pytest.Item | pytest.Collector) -> dict[str, t.Any]:
    """The options of the ``simulator`` markers on ``node`` and around it (the module's,
    a class's, the test's), the nearest winning key by key."""
    options: dict[str, t.Any] = {}
    for marker in reversed(list(node.iter_markers("simulator"))):
        if marker.args:
            raise TypeError(f"{node.nodeid}: pytest.mark.simulator takes keyword options only")
        options.update(marker.kwargs)
    return options


def _reset(process: SimulatorProcess, options: dict[str, t.Any]) -> SimulatorProcess:
    # First let the answers a client gave up on finish (a killed tap's, a timed-out one's):
    # they would otherwise land in the next test's state.
    assert wait_until(lambda: process.control.counters()["in_flight"] == 0, 60, 0.05), (
        "the simulator never finished answering the previous test's requests"
    )
    return process.configure(**options)


@pytest.fixture(scope="session")
def simulator_process() -> t.Iterator[SimulatorProcess]:
    """The one simulator process of the session, started with no options."""
    with SimulatorProcess() as process:
        yield process


@pytest.fixture(scope="module")
def module_sim(
    request: pytest.FixtureRequest, simulator_process: SimulatorProcess
) -> SimulatorProcess:
    """The shared simulator, reset to the module's ``simulator`` options once, before the
    module's first test that uses it: later tests see what earlier ones changed."""
    return _reset(simulator_process, simulator_options(request.node))


@pytest.fixture
def sim(request: pytest.FixtureRequest, simulator_process: SimulatorProcess) -> SimulatorProcess:
    """The shared simulator, reset for this test to its ``simulator`` options (the
    module's overlaid by the test's own)."""
    return _reset(simulator_process, simulator_options(request.node))
