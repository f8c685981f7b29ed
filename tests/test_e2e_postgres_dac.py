"""`meltano run tap-acumatica target-postgres` with `schema: DAC` and `detect_deletes` into a
real PostgreSQL: rows removed in the ERP end up soft-deleted (`_sdc_deleted_at` set) in the
warehouse, both those from the deleted-records feed (SOOrder) and soft-deleted rows
(Customer, `DeletedDatabaseRecord`).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2ekit import meltano_project, postgres_server
from tests.simulator.process import SimulatorProcess
from tests.test_e2e_meltano import tap_env
from tests.test_e2e_postgres import SCHEMA, count

pytestmark = pytest.mark.slow


@pytest.mark.simulator(seed=12, dac={"sizes": {"SOOrder": 120, "BAccount": 80}})
def test_meltano_run_loads_dac_deletes_into_postgres(sim: SimulatorProcess) -> None:
    with (
        postgres_server() as pg,
        meltano_project(
            {
                **tap_env(sim),
                "TAP_ACUMATICA_SCHEMA": "DAC",
                "TAP_ACUMATICA_DACS": json.dumps(["SOOrder", "Customer"]),
                "TAP_ACUMATICA_DETECT_DELETES": "true",
                # The deletes are made a second before run 2; a settle margin would leave
                # them to a later run (the simulator commits at once: no late commits here).
                "TAP_ACUMATICA_SETTLE_SECONDS": "0",
                "TAP_ACUMATICA__SELECT": json.dumps(["SOOrder.*", "Customer.*"]),
                **pg.target_env(),
            }
        ) as project,
    ):
        project.run("run", "tap-acumatica", "target-postgres")
        orders = sim.control._call("GET", "dac/truth/SOOrder")
        customers = sim.control._call("GET", "dac/truth/Customer")
        assert count(pg, "SOOrder") == len(orders)
        assert count(pg, "Customer") == len(customers)

        gone = sim.control._call("POST", "dac/mutate", {"dac": "SOOrder", "delete": 3})
        soft = sim.control._call("POST", "dac/mutate", {"dac": "Customer", "delete": 2})
        time.sleep(1.05)  # past the second of the deletes (Date headers have 1 s resolution)
        project.run("run", "tap-acumatica", "target-postgres")

        def deleted(table: str) -> set[str]:
            rows = pg.query(
                f'select "NoteID" from {SCHEMA}."{table}" where "_sdc_deleted_at" is not null'
            )
            return {str(r[0]) for r in rows}

        assert deleted("SOOrder") == {d["NoteID"] for d in gone["deleted"]}
        assert deleted("Customer") == {d["NoteID"] for d in soft["deleted"]}
        # Upserted on NoteID: no row was added for a delete.
        assert count(pg, "SOOrder") == len(orders)
        assert count(pg, "Customer") == len(customers)
