"""The SDK's standard tap test suite, against the simulator.

``get_tap_test_class`` discovers streams when tests are collected, so the simulator is
started at import time (and stopped at exit).
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_acumatica.tap import TapAcumatica
from tests.simulator.process import SimulatorProcess

SIMULATOR = SimulatorProcess(
    sizes={"Customer": 300, "SalesOrder": 120, "StockItem": 80},
    default_size=12,
    seat_limit=1000,  # in-process taps of the suite log in while being collected
).start()
atexit.register(SIMULATOR.stop)

BASE = {
    "url": SIMULATOR.url,
    **SIMULATOR.credentials,
    "endpoint_version": "24.200.001",
    "start_date": "2000-01-01T00:00:00Z",
}

TestTapAcumatica = get_tap_test_class(
    TapAcumatica,
    config={**BASE, "entities": ["Customer", "SalesOrder", "StockItem", "ShipVia"]},
    suite_config=SuiteConfig(max_records_limit=None),
)


def _catalog_with_details() -> dict:
    """SalesOrder with its Details lines (and linked entities) selected."""
    tap = TapAcumatica(config={**BASE, "entities": ["SalesOrder"]}, parse_env_config=False)
    catalog = tap.catalog_dict
    tap.close()
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] in ([], ["properties", "Details"], ["properties", "BillToAddress"]):
                md["metadata"]["selected"] = True
    return catalog


TestTapAcumaticaWithDetails = get_tap_test_class(
    TapAcumatica,
    config={**BASE, "entities": ["SalesOrder"]},
    suite_config=SuiteConfig(max_records_limit=None),
    catalog=_catalog_with_details(),
)
