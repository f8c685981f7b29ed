"""The "Choosing how a stream is replicated" snippets of docs/MELTANO.md, run through Meltano.

Each snippet is read from docs/MELTANO.md and merged into the test project's ``meltano.yml``, so
the documentation cannot drift from what works:

* ``full-table``: ``metadata: Customer: replication-method: FULL_TABLE`` with
  ``emit_activate_version_messages``: ``meltano run tap-acumatica target-postgres`` into a
  real PostgreSQL; customers deleted in the simulator between two runs end up with
  ``_sdc_deleted_at`` set, and are removed once ``hard_delete`` is on.
* ``inquiry-key``: ``metadata: BI-SalesOrders: replication-key: LastModifiedOn`` makes the
  inquiry incremental on that column (the catalog Meltano hands the tap is checked too).
"""

from __future__ import annotations

import json
import re
import time
import typing as t

import pytest
import yaml

from tests.e2ekit import ROOT, MeltanoProject, meltano_project, postgres_server
from tests.simulator.process import SimulatorProcess
from tests.test_e2e_meltano import VERSION, tap_env

SCHEMA = "acumatica"
CUSTOMERS = 60
INQUIRY = "BI-SalesOrders"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.simulator(
        sizes={"Customer": CUSTOMERS, "SalesOrder": 20, "StockItem": 10},
        default_size=5,
        versions=[VERSION],
    ),
]


def readme_snippet(name: str) -> dict[str, t.Any]:
    """The YAML block that follows ``<!-- snippet:<name> -->`` in docs/MELTANO.md."""
    text = (ROOT / "docs" / "MELTANO.md").read_text()
    found = re.search(rf"<!-- snippet:{name} -->\s*```yaml\n(.*?)```", text, re.DOTALL)
    assert found, f"docs/MELTANO.md has no snippet {name!r}"
    return t.cast("dict[str, t.Any]", yaml.safe_load(found.group(1)))


def apply_snippet(project: MeltanoProject, snippet: dict[str, t.Any]) -> None:
    """Merge a docs snippet's plugin ``config``/``metadata``/``select`` into meltano.yml."""
    path = project.path / "meltano.yml"
    document = yaml.safe_load(path.read_text())
    for kind, plugins in snippet["plugins"].items():
        for given in plugins:
            plugin = next(p for p in document["plugins"][kind] if p["name"] == given["name"])
            for key in ("config", "metadata"):
                if key in given:
                    plugin.setdefault(key, {}).update(given[key])
            if "select" in given:
                plugin["select"] = given["select"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def catalog_entry(project: MeltanoProject, stream: str) -> dict[str, t.Any]:
    """The catalog entry Meltano hands the tap (after its select and metadata rules)."""
    done = project.run("invoke", "--dump=catalog", "tap-acumatica")
    catalog = json.loads(done.stdout[done.stdout.index("{") :])
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)


def root_metadata(entry: dict[str, t.Any]) -> dict[str, t.Any]:
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])


def test_full_table_snippet_soft_then_hard_deletes(sim: SimulatorProcess) -> None:
    snippet = readme_snippet("full-table")
    with (
        postgres_server() as pg,
        meltano_project(
            {
                **tap_env(sim),
                **pg.target_env(),
            }
        ) as project,
    ):
        apply_snippet(project, snippet)
        # What reaches the tap: Meltano writes the method into the metadata and the entry.
        entry = catalog_entry(project, "Customer")
        assert root_metadata(entry).get("replication-method") == "FULL_TABLE", entry["metadata"][0]
        assert entry.get("replication_method") == "FULL_TABLE"

        def rows() -> dict[str, bool]:
            """id -> marked deleted."""
            found = pg.query(f'select id, _sdc_deleted_at is not null from {SCHEMA}."Customer"')
            return {row[0]: row[1] == "t" for row in found}

        done = project.run("run", "tap-acumatica", "target-postgres")
        assert "Beginning sync of 'Customer' in full_table mode" in done.stderr
        first = rows()
        assert set(first) == {r["id"] for r in sim.control.truth("Customer")}
        assert not any(first.values())
        state = project.state("simulator:tap-acumatica-to-target-postgres")
        assert "replication_key_value" not in state["singer_state"]["bookmarks"].get(
            "Customer", {}
        ), state

        gone = set(sim.control.delete("Customer", count=3)["deleted"])
        time.sleep(1.1)  # a table version is the run's start in seconds
        project.run("run", "tap-acumatica", "target-postgres")
        second = rows()
        assert set(second) == set(first)  # soft delete: the rows stay, marked
        assert {i for i, deleted in second.items() if deleted} == gone

        project.env["TARGET_POSTGRES_HARD_DELETE"] = "true"
        gone |= set(sim.control.delete("Customer", count=2)["deleted"])
        time.sleep(1.1)
        project.run("run", "tap-acumatica", "target-postgres")
        third = rows()
        assert set(third) == set(first) - gone
        assert len(third) == CUSTOMERS - 5
        assert not any(third.values())


def test_inquiry_key_snippet_makes_the_inquiry_incremental(sim: SimulatorProcess) -> None:
    snippet = readme_snippet("inquiry-key")
    with meltano_project(tap_env(sim)) as project:
        apply_snippet(project, snippet)
        # Test setup, not part of the snippet: discover and select only this inquiry.
        apply_snippet(
            project,
            {
                "plugins": {
                    "extractors": [
                        {
                            "name": "tap-acumatica",
                            "config": {"inquiries": [INQUIRY]},
                            "select": [f"{INQUIRY}.*"],
                        }
                    ]
                }
            },
        )
        entry = catalog_entry(project, INQUIRY)
        assert root_metadata(entry)["replication-key"] == "LastModifiedOn"
        assert "LastModifiedOn" in root_metadata(entry)["valid-replication-keys"]

        done = project.run("invoke", "tap-acumatica")
        assert f"Beginning sync of '{INQUIRY}' in incremental mode" in done.stderr
        messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        records = [m for m in messages if m["type"] == "RECORD"]
        assert len(records) == len(sim.control.truth_odata(INQUIRY))
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        bookmark = states[-1]["bookmarks"][INQUIRY]
        assert bookmark["replication_key"] == "LastModifiedOn"
        assert bookmark["replication_key_value"]
