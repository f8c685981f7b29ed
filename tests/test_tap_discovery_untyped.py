"""A swagger.json property the reader cannot type is reported at discovery, never dropped.

The simulator serves the released 26.200.001 excerpt as Acumatica published it, without
the definitions it refers to but does not hold (option ``complete_excerpts: false``): the
linked entities and detail collections of SalesOrder name ``Address``, ``Commissions``,
``SalesOrderShipment``... that the document lacks.
"""

from __future__ import annotations

import json

import pytest

from tests import tapkit
from tests.simulator import excerpts
from tests.simulator.process import SimulatorProcess

VERSION = "26.200.001"


@pytest.mark.simulator(versions=[VERSION], complete_excerpts=False, default_size=20)
def test_untyped_properties_are_logged_and_kept(sim: SimulatorProcess) -> None:
    config = tapkit.config_for(sim, endpoint_version=VERSION, entities=["SalesOrder"])
    run = tapkit.run_tap(config, extra=["--discover"])
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "cannot be typed" in line]
    assert any(
        "SalesOrder: swagger.json property BillToAddress cannot be typed (its $ref Address "
        "is not in the document)"
        in line
        and "WARNING" in line
        for line in warnings
    ), warnings
    assert any("property Shipments cannot be typed" in line for line in warnings), warnings
    [entry] = json.loads(run.stdout)["streams"]
    props = entry["schema"]["properties"]
    assert props["BillToAddress"] == {}  # kept: any JSON
    assert props["Shipments"] == {}
    assert props["Status__id"] == {"type": ["string", "null"]}  # the rest is typed
    # Every property the served document declares for SalesOrder is in the catalog, and
    # each untyped one was named in exactly one warning.
    doc = json.loads(excerpts.completed(VERSION, "d1a8f665", complete=False))
    declared = set(doc["components"]["schemas"]["SalesOrder"]["allOf"][1]["properties"])
    assert declared - {"_workflowActions"} <= set(props)
    untyped = {p for p, schema in props.items() if schema == {}}
    line_props = props["Details"]["items"]["properties"]
    untyped |= {f"SalesOrderDetail.{p}" for p, schema in line_props.items() if schema == {}}
    assert "SalesOrderDetail.Allocations" in untyped  # a detail line's own collection
    assert len(warnings) == len(untyped), (warnings, sorted(untyped))
    for name in untyped:
        assert sum(f"property {name} cannot" in line for line in warnings) == 1, name
