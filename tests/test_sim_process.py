"""The simulator as a program: CLI, startup, determinism, reset and the control API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.simulator.process import SimulatorProcess

ROOT = Path(__file__).resolve().parents[1]


def test_cli_help_documents_the_options():
    out = subprocess.run(
        [sys.executable, "-m", "tests.simulator", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for word in (
        "--port",
        "--size",
        "--seed",
        "--versions",
        "--seat-limit",
        "--options-json",
        "session_idle_seconds",
        "__control",
    ):
        assert word in out


def test_unknown_option_fails_startup():
    with (
        pytest.raises(RuntimeError, match="unknown simulator options"),
        SimulatorProcess(no_such_option=1),
    ):
        pass


@pytest.mark.simulator(seed=3, versions=["20.200.001"], default_size=30)
def test_same_seed_same_data_other_seed_other_data(sim):
    # Beside the shared simulator (seed 3), two processes of their own: seeds 3 and 4.
    kwargs = {"versions": ["20.200.001"], "default_size": 30}
    with (
        SimulatorProcess(seed=3, **kwargs) as b,
        SimulatorProcess(seed=4, **kwargs) as c,
    ):
        first = sim.control.truth("SalesOrder", expand="Details", custom=True)
        assert first == b.control.truth("SalesOrder", expand="Details", custom=True)
        assert first != c.control.truth("SalesOrder", expand="Details", custom=True)


def test_root_instance_path_and_reset_overrides():
    # Its own process: the instance path cannot change on a running one.
    with SimulatorProcess(instance_path="/", versions=["24.200.001"], default_size=5) as sim:
        assert sim.url.endswith(":" + sim.url.rsplit(":", 1)[1].split("/")[0] + "/")
        assert requests.get(sim.url + "entity").json()["endpoints"][0]["version"] == "24.200.001"
        assert len(sim.control.truth("Customer")) == 5
        sim.control.reset(sizes={"Customer": 9})
        assert len(sim.control.truth("Customer")) == 9
        sim.control.reset()
        assert len(sim.control.truth("Customer")) == 5


@pytest.mark.simulator(versions=["20.200.001"], default_size=1)
def test_control_rejects_unknown_fault_keys_and_reports_clock(sim):
    with pytest.raises(RuntimeError, match="400"):
        sim.control.faults(rate_4299=1)
    clock = sim.control.clock()
    assert clock["now"].endswith("+00:00")
    assert clock["epoch_ms"] > 1_700_000_000_000
    entities = requests.get(sim.url + "__control/entities").json()
    assert entities["SalesOrder"] == "LastModified"
    assert entities["Customer"] == "LastModifiedDateTime"


@pytest.mark.simulator(default_size=4, versions=["20.200.001"])
def test_configure_runs_on_as_though_started_with_the_options(sim):
    assert len(sim.control.truth("Customer")) == 4
    sim.configure(default_size=3, tenants=["Other"], versions=["20.200.001"])
    assert sim.credentials["company"] == "Other"
    sim.control.reset(sizes={"Customer": 2})  # overlays the configured options
    assert len(sim.control.truth("Customer")) == 2
    assert len(sim.control.truth("SalesOrder")) == 3
    sim.control.reset()
    assert len(sim.control.truth("Customer")) == 3
    assert requests.get(sim.url + "__control/health").json()["tenants"] == ["Other"]
    with pytest.raises(ValueError, match="instance_path"):
        sim.configure(instance_path="/Elsewhere")
