"""The Singer SDK's built-ins work on this tap, each tested once through the real CLI:
stream maps, schema flattening, BATCH output (jsonl.gz) and ``--test``."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

VERSION = "24.200.001"
SIZES = {"Customer": 120, "StockItem": 40}


pytestmark = pytest.mark.simulator(sizes=SIZES, default_size=3, versions=[VERSION])


@pytest.fixture(scope="module")
def config(module_sim: SimulatorProcess) -> dict:
    return tapkit.config_for(module_sim, endpoint_version=VERSION, entities=list(SIZES))


@pytest.fixture(scope="module")
def catalog(config: dict) -> dict:
    return tapkit.discover(config)


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records}


def test_stream_maps_drop_and_hash(sim: SimulatorProcess, config: dict, catalog: dict) -> None:
    run = tapkit.run_tap(
        {
            **config,
            "stream_maps": {
                "Customer": {
                    "CustomerClass": "__NULL__",  # drop a field
                    "Email": "md5(Email) if Email else None",  # hash a PII field
                },
            },
        },
        catalog=tapkit.select(catalog, ["Customer"]),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "CustomerClass" not in run.schemas["Customer"]["properties"]
    assert "Email" in run.schemas["Customer"]["properties"]
    truth = by_id(sim.control.truth("Customer"))
    records = run.records["Customer"]
    assert len(records) == SIZES["Customer"]
    hashed = 0
    for record in records:
        assert "CustomerClass" not in record
        email = truth[record["id"]].get("Email", {}).get("value")
        if email:
            assert record["Email"] == hashlib.md5(email.encode()).hexdigest()
            hashed += 1
        else:
            assert record["Email"] is None
    assert hashed > 0


def test_flattening(sim: SimulatorProcess, config: dict, catalog: dict) -> None:
    selected = tapkit.select(catalog, ["Customer"], {"Customer": ["MainContact"]})
    run = tapkit.run_tap(
        {**config, "flattening_enabled": True, "flattening_max_depth": 1}, catalog=selected
    )
    assert run.returncode == 0, run.stderr[-3000:]
    properties = run.schemas["Customer"]["properties"]
    assert "MainContact" not in properties
    assert "MainContact__Email" in properties
    truth = by_id(sim.control.truth("Customer", expand="MainContact"))
    for record in run.records["Customer"]:
        assert "MainContact" not in record
        contact = truth[record["id"]].get("MainContact") or {}
        assert record.get("MainContact__Email") == (contact.get("Email") or {}).get("value")
        assert record.get("MainContact__id") == contact.get("id")


def test_batch_jsonl_gz(sim: SimulatorProcess, config: dict, catalog: dict, tmp_path: Path) -> None:
    run = tapkit.run_tap(
        {
            **config,
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": f"file://{tmp_path}", "prefix": "acumatica-"},
            },
        },
        catalog=tapkit.select(catalog, list(SIZES)),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert not run.records, "BATCH mode sends no RECORD messages"
    batches = [
        json.loads(line)
        for line in run.stdout.splitlines()
        if line.strip() and json.loads(line).get("type") == "BATCH"
    ]
    assert {b["stream"] for b in batches} == set(SIZES)
    loaded: dict[str, list[dict]] = {}
    for batch in batches:
        assert batch["encoding"] == {"format": "jsonl", "compression": "gzip"}
        for url in batch["manifest"]:
            path = Path(urlsplit(url).path)
            assert path.parent == tmp_path
            assert path.name.startswith("acumatica-")
            assert path.name.endswith((".json.gz", ".jsonl.gz")), path
            with gzip.open(path, "rt") as handle:
                loaded.setdefault(batch["stream"], []).extend(
                    json.loads(line) for line in handle if line.strip()
                )
    for entity, size in SIZES.items():
        assert len(loaded[entity]) == size, entity
        assert set(by_id(loaded[entity])) == {r["id"] for r in sim.control.truth(entity)}
    assert run.last_state
    assert set(run.last_state["bookmarks"]) == set(SIZES)


def test_test_flag(config: dict) -> None:
    """`--test` syncs one record per stream (Meltano's `test` capability / `config test`)."""
    run = tapkit.run_tap(config, extra=["--test"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(run.schemas) == set(SIZES)
    assert {stream: len(rows) for stream, rows in run.records.items()} == dict.fromkeys(SIZES, 1)

    schema_only = tapkit.run_tap(config, extra=["--test=schema"])
    assert schema_only.returncode == 0, schema_only.stderr[-3000:]
    assert set(schema_only.schemas) == set(SIZES)
    assert not schema_only.records
