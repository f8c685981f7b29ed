"""Archived records (Acumatica 2023 R2+ data archiving), REST and DAC, over real HTTP.

The simulator archives a fraction of the old documents (option ``archive``) and hides them
from every request without ``PX-ApiArchive: SHOW``, as Acumatica does. With the default
settings a first load must hold them; with ``include_archived: false`` it must not.
"""

from __future__ import annotations

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

ARCHIVE = {"fraction": 0.3}
pytestmark = pytest.mark.simulator(
    versions=["20.200.001", "26.200.001"],
    sizes={"SalesOrder": 300, "SalesInvoice": 200},
    default_size=5,
    archive=ARCHIVE,
    dac={"sizes": {"SOOrder": 300, "SOLine": 600, "ARInvoice": 200}},
)


def first_load(sim: SimulatorProcess, **settings: object) -> tapkit.TapRun:
    config = tapkit.config_for(sim, entities=["SalesOrder", "SalesInvoice"], **settings)
    catalog = tapkit.select(tapkit.discover(config), ["SalesOrder", "SalesInvoice"])
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("version", ["20.200.001", "26.200.001"])
def test_rest_first_load_holds_archived_records_by_default(
    sim: SimulatorProcess, version: str
) -> None:
    run = first_load(sim, endpoint_version=version)
    for entity in ("SalesOrder", "SalesInvoice"):
        shown = {r["id"] for r in sim.control.truth(entity, version=version, archived=True)}
        live = {r["id"] for r in sim.control.truth(entity, version=version)}
        assert len(shown) > len(live) > 0, entity  # some records are archived
        assert {r["id"] for r in run.records[entity]} == shown, entity
    # Off (the setting under test): Acumatica's own default, archived records left out.
    without = first_load(sim, endpoint_version=version, include_archived=False)
    for entity in ("SalesOrder", "SalesInvoice"):
        live = {r["id"] for r in sim.control.truth(entity, version=version)}
        assert {r["id"] for r in without.records[entity]} == live, entity
    tapkit.assert_sessions_closed(sim)


def test_rest_reads_by_id_find_archived_records(sim: SimulatorProcess) -> None:
    """Fields the server cannot list are read record by record (GET <Entity>/<id>): an
    archived record must be found there too."""
    sim.control.faults(optimization_failure={"SalesOrder": ["Details"]})
    config = tapkit.config_for(sim, tapkit.QUICK_RETRIES, entities=["SalesOrder"])
    catalog = tapkit.select(tapkit.discover(config), ["SalesOrder"], {"SalesOrder": ["Details"]})
    run = tapkit.run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    truth = {r["id"]: r for r in sim.control.truth("SalesOrder", expand="Details", archived=True)}
    got = {r["id"]: r for r in run.records["SalesOrder"]}
    assert set(got) == set(truth)
    for ident, record in got.items():
        assert [x["id"] for x in record["Details"]] == [x["id"] for x in truth[ident]["Details"]]
    assert sim.control.counters()["requests_by_kind"]["get"] == len(truth)


def dac_truth(sim: SimulatorProcess, dac: str, archived: bool) -> list[dict]:
    return sim.control._call("GET", f"dac/truth/{dac}" + ("?archived=1" if archived else ""))


@pytest.mark.parametrize("include", [True, False])
def test_dac_first_load_holds_archived_rows_by_default(
    sim: SimulatorProcess, include: bool
) -> None:
    dacs = ["SOOrder", "SOLine", "ARInvoice"]
    settings: dict[str, object] = {"schema": "DAC", "dacs": dacs}
    if not include:
        settings["include_archived"] = False  # the setting under test
    config = tapkit.config_for(sim, **settings)
    run = tapkit.run_tap(config, catalog=tapkit.select(tapkit.discover(config), dacs))
    assert run.returncode == 0, run.stderr[-3000:]
    keys = {"SOOrder": ("OrderType", "OrderNbr"), "SOLine": ("OrderType", "OrderNbr", "LineNbr")}
    keys["ARInvoice"] = ("DocType", "RefNbr")
    for dac in dacs:
        shown = {tuple(r[k] for k in keys[dac]) for r in dac_truth(sim, dac, archived=True)}
        live = {tuple(r[k] for k in keys[dac]) for r in dac_truth(sim, dac, archived=False)}
        assert len(shown) > len(live) > 0, dac
        got = {tuple(r[k] for k in keys[dac]) for r in run.records[dac]}
        assert got == (shown if include else live), dac
