"""`meltano run tap-acumatica target-jsonl` against the simulator, for real.

Meltano (its own virtualenv, pinned) installs the tap from this checkout and target-jsonl
from PyPI using the repository's ``meltano.yml`` unchanged apart from the tap's ``pip_url``;
the simulator's URL and password reach the tap through ``TAP_ACUMATICA_*`` environment
variables, exactly as a user's secrets would. Proves: discovery + the ``select`` rules of
``meltano.yml``, row counts per stream equal to the ground truth (SalesOrder with its
Details lines), and that a second run started right after a change, with the default
settings, resumes from the state *Meltano* stored in its system database and loads exactly
what changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2ekit import MeltanoProject, meltano_project
from tests.simulator.process import SimulatorProcess

VERSION = "24.200.001"  # the `simulator` environment of meltano.yml
SIZES = {"Customer": 400, "SalesOrder": 250, "StockItem": 150}

STATE_ID = "simulator:tap-acumatica-to-target-jsonl"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.simulator(sizes=SIZES, default_size=5, versions=[VERSION]),
]


def read_jsonl(directory: Path) -> dict[str, list[dict]]:
    """target-jsonl writes one `<stream>.jsonl` per stream (appending)."""
    out: dict[str, list[dict]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        with path.open() as handle:
            out[path.stem] = [json.loads(line) for line in handle if line.strip()]
    return out


def tap_env(sim: SimulatorProcess) -> dict[str, str]:
    """What a user exports: Meltano maps TAP_ACUMATICA_<SETTING> onto the tap's settings."""
    return {
        "MELTANO_ENVIRONMENT": "simulator",
        "TAP_ACUMATICA_URL": sim.url,
        "TAP_ACUMATICA_USERNAME": sim.credentials["username"],
        "TAP_ACUMATICA_PASSWORD": sim.credentials["password"],
        "TAP_ACUMATICA_COMPANY": sim.credentials["company"],
    }


def run_into(project: MeltanoProject, out: Path) -> str:
    project.env["TARGET_JSONL_DESTINATION_PATH"] = str(out)
    out.mkdir(parents=True, exist_ok=True)
    done = project.run("run", "tap-acumatica", "target-jsonl")
    return done.stderr


def test_meltano_run_full_then_incremental(sim: SimulatorProcess, tmp_path: Path) -> None:
    with meltano_project(tap_env(sim)) as project:
        # The settings Meltano resolves for the tap: env vars win, the secret stays hidden.
        listed = project.run("config", "list", "tap-acumatica").stdout
        assert "TAP_ACUMATICA_PASSWORD" in listed
        assert sim.credentials["password"] not in listed

        # The select rules of meltano.yml: SalesOrder with Details only.
        listed = project.run("select", "tap-acumatica", "--list", "--all").stdout
        status = dict(
            reversed(line.strip().lstrip("[").split("] "))
            for line in listed.splitlines()
            if line.strip().startswith("[")
        )
        assert status["SalesOrder.Details"].strip() == "selected"
        assert status["SalesOrder.Payments"].strip() == "excluded"
        assert status["Customer.CustomerID"].strip() == "selected"
        assert status["Customer.MainContact"].strip() == "excluded"

        log = run_into(project, tmp_path / "run1")
        first = read_jsonl(tmp_path / "run1")
        assert set(first) == set(SIZES), (sorted(first), log[-3000:])
        for entity, size in SIZES.items():
            truth = sim.control.truth(entity)
            assert len(truth) == size
            assert len(first[entity]) == size, entity
            assert {r["id"] for r in first[entity]} == {r["id"] for r in truth}, entity

        # meltano.yml selects SalesOrder *with* Details and Customer without expansions.
        orders = sim.control.truth("SalesOrder", expand="Details")
        lines = {o["id"]: len(o.get("Details") or []) for o in orders}
        assert sum(lines.values()) > 0
        assert {r["id"]: len(r.get("Details") or []) for r in first["SalesOrder"]} == lines
        assert "MainContact" not in first["Customer"][0]
        assert "Contacts" not in first["Customer"][0]

        # Meltano stored the final bookmarks in its system database.
        state = project.state(STATE_ID)
        bookmarks = state["singer_state"]["bookmarks"]
        assert set(bookmarks) == set(SIZES), state
        first_marks = {k: v["replication_key_value"] for k, v in bookmarks.items()}

        changed_customers = sim.control.mutate("Customer", update=7, insert=3)
        changed_orders = sim.control.mutate("SalesOrder", update=4)

        # At once, with the default settle_seconds: the changes are in this run.
        run_into(project, tmp_path / "run2")
        second = read_jsonl(tmp_path / "run2")
        assert {r["id"] for r in second["Customer"]} == set(changed_customers["updated"]) | set(
            changed_customers["inserted"]
        )
        assert {r["id"] for r in second["SalesOrder"]} == set(changed_orders["updated"])
        assert not second.get("StockItem"), "StockItem did not change: nothing to load"

        later = project.state(STATE_ID)["singer_state"]["bookmarks"]
        for stream, mark in first_marks.items():
            assert later[stream]["replication_key_value"] >= mark, stream
        assert later["Customer"]["replication_key_value"] > first_marks["Customer"]

    counters = sim.control.counters()
    assert counters["open_sessions"] == 0, counters


def test_meltano_config_test(sim: SimulatorProcess) -> None:
    """`meltano config test tap-acumatica` (the `test` capability).

    Meltano runs a sync, stops reading the tap's stdout at the first RECORD and sends
    SIGTERM: the tap must exit promptly even though nobody drains its output any more.
    """
    with meltano_project(tap_env(sim)) as project:
        tested = project.run("config", "test", "tap-acumatica", timeout=90)
        output = tested.stdout + tested.stderr
        assert "plugin configuration is valid" in output.lower(), output[-3000:]


def test_meltano_yml_matches_the_tap() -> None:
    """meltano.yml declares every setting of `--about`, with a kind, a description and
    `sensitive: true` exactly for the secrets; capabilities are ones the tap has."""
    import subprocess
    import sys

    import yaml

    from tests.e2ekit import ROOT

    about = json.loads(
        subprocess.run(
            [str(Path(sys.executable).parent / "tap-acumatica"), "--about", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-acumatica"]
    settings = {s["name"]: s for s in tap["settings"]}
    properties = about["settings"]["properties"]
    assert list(settings) == list(properties), (
        "run: .venv/bin/python scripts/sync_meltano_settings.py"
    )
    kinds = {"string", "integer", "boolean", "date_iso8601", "options", "array", "object"}
    for name, setting in settings.items():
        assert setting["kind"] in kinds, name
        assert setting.get("description"), name
        assert bool(setting.get("sensitive")) == bool(properties[name].get("secret")), name
        if "enum" in properties[name]:
            assert [o["value"] for o in setting["options"]] == properties[name]["enum"], name
        if "default" in properties[name]:
            assert setting.get("value") == properties[name]["default"], name
    assert set(tap["capabilities"]) <= set(about["capabilities"]) | {"test"}
    assert {
        "catalog",
        "discover",
        "state",
        "about",
        "stream-maps",
        "schema-flattening",
        "batch",
        "test",
    } <= set(tap["capabilities"])
    for group in tap["settings_group_validation"]:
        assert set(group) <= set(settings), group
    assert all(
        rule.lstrip("!").split(".")[0] in tap["config"]["entities"] for rule in tap["select"]
    )
    loaders = {p["name"]: p for p in project["plugins"]["loaders"]}
    assert {"target-jsonl", "target-postgres"} <= set(loaders)
    assert any(e["name"] == "simulator" for e in project["environments"])
    text = (ROOT / "meltano.yml").read_text()
    assert "Sim-Passw0rd" not in text, "no credentials in meltano.yml"


def test_generated_files_are_current() -> None:
    """meltano.yml's settings block and docs/SETTINGS.md are generated from `--about`."""
    import subprocess
    import sys

    from tests.e2ekit import ROOT

    for script in ("sync_meltano_settings.py", "gen_settings_table.py"):
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / script), "--check"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
