"""A real extraction end to end: simulator -> tap-acumatica -> target-jsonl.

Run with ``python3 tasks.py demo``. It starts the Acumatica simulator on loopback,
discovers the endpoint, selects Customer, SalesOrder (with its Details lines) and
StockItem, pipes the tap into target-jsonl (in its own virtual environment, as Meltano
would), then changes a few records and runs again from the saved state to show an
incremental load. Output lands in ``demo-output/``.

``python3 tasks.py demo --endpoint-version 26.200.001`` runs it against Acumatica 2026 R2's
contract (v5: drop-downs arrive as ``{"id", "description"}`` and leave as two columns).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.simulator.process import SimulatorProcess
from tests.toolenv import ensure_tool

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
TAP = str(Path(sys.executable).parent / "tap-acumatica")
STREAMS = {"Customer": [], "SalesOrder": ["Details"], "StockItem": []}


def target_jsonl() -> str:
    """target-jsonl pins old singer-python/jsonschema: it gets a virtualenv of its own."""
    print("preparing target-jsonl (its own virtualenv under .venv-targets/) ...", flush=True)
    return ensure_tool("target-jsonl").bin("target-jsonl")


def select(catalog: dict) -> dict:
    for entry in catalog["streams"]:
        wanted = entry["tap_stream_id"] in STREAMS
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = wanted
            elif wanted and md["breadcrumb"][-1] in STREAMS[entry["tap_stream_id"]]:
                md["metadata"]["selected"] = True
    return catalog


def run_pipeline(
    target: str, config: Path, catalog: Path, state: Path | None, data_dir: Path
) -> dict:
    """tap | target; returns the last state the target confirmed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    target_config = OUT / "target-config.json"
    target_config.write_text(json.dumps({"destination_path": str(data_dir)}))
    tap_cmd = [TAP, "--config", str(config), "--catalog", str(catalog)]
    if state is not None:
        tap_cmd += ["--state", str(state)]
    log = (OUT / "tap.log").open("a")
    with (
        subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=log) as tap,
        subprocess.Popen(
            [target, "--config", str(target_config)],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=log,
        ) as tgt,
    ):
        assert tap.stdout is not None
        tap.stdout.close()
        out, _ = tgt.communicate()
        tap.wait()
    if tap.returncode or tgt.returncode:
        raise SystemExit(
            f"pipeline failed (tap {tap.returncode}, target {tgt.returncode}); "
            f"see {OUT / 'tap.log'}"
        )
    states = [line for line in out.decode().splitlines() if line.strip()]
    return json.loads(states[-1]) if states else {}


def count_lines(data_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted(data_dir.glob("*.jsonl")):
        stream = path.name.split("-")[0]
        with path.open() as handle:
            counts[stream] = counts.get(stream, 0) + sum(1 for _ in handle)
    return counts


def show_drop_down(data_dir: Path) -> None:
    """One SalesOrder's Status as the target received it (two columns from 26.200.001)."""
    path = next(data_dir.glob("SalesOrder*.jsonl"))
    with path.open() as handle:
        record = next(r for r in map(json.loads, handle) if r.get("Status"))
    columns = {k: record[k] for k in ("Status", "Status__id") if k in record}
    print(f"  one SalesOrder's drop-down columns: {json.dumps(columns)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 tasks.py demo")
    parser.add_argument(
        "--endpoint-version",
        default="24.200.001",
        help="Default endpoint version to read (e.g. 26.200.001, Acumatica 2026 R2)",
    )
    version = parser.parse_args(argv).endpoint_version
    target = target_jsonl()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    sizes = {"Customer": 2000, "SalesOrder": 1500, "StockItem": 800}
    with SimulatorProcess(sizes=sizes, default_size=10, versions=[version]) as sim:
        print(f"Acumatica simulator listening at {sim.url}")
        config = OUT / "tap-config.json"
        config.write_text(
            json.dumps(
                {
                    "url": sim.url,
                    **sim.credentials,
                    "endpoint_version": version,
                    "entities": list(STREAMS),
                },
                indent=2,
            )
        )
        started = time.monotonic()
        discovered = subprocess.run(
            [TAP, "--config", str(config), "--discover"], capture_output=True, check=True
        )
        catalog = OUT / "catalog.json"
        catalog.write_text(json.dumps(select(json.loads(discovered.stdout)), indent=2))

        first_dir = OUT / "run-1"
        state = run_pipeline(target, config, catalog, None, first_dir)
        state_file = OUT / "state.json"
        state_file.write_text(json.dumps(state, indent=2))
        print(f"\nRun 1 (full load) in {time.monotonic() - started:.1f}s -> {first_dir}")
        for stream, count in count_lines(first_dir).items():
            print(f"  {stream:<12} {count:>6} records")
        show_drop_down(first_dir)

        changed = sim.control.mutate("Customer", update=25, insert=5)
        # Run 2 starts at once, with the default settle_seconds: the changes are in it.
        second_dir = OUT / "run-2"
        state = run_pipeline(target, config, catalog, state_file, second_dir)
        state_file.write_text(json.dumps(state, indent=2))
        print(
            f"\nRun 2 (incremental, after {len(changed['updated'])} updates and "
            f"{len(changed['inserted'])} inserts of Customer) -> {second_dir}"
        )
        counts = count_lines(second_dir)
        for stream, count in counts.items():
            print(f"  {stream:<12} {count:>6} records")
        wanted = len(changed["updated"]) + len(changed["inserted"])
        if counts.get("Customer") != wanted:
            raise SystemExit(f"run 2 loaded {counts.get('Customer')} Customers, not {wanted}")
        counters = sim.control.counters()
        print(
            f"\nAPI sessions: {counters['logins']} logins, {counters['logouts']} logouts, "
            f"{counters['open_sessions']} left open"
        )
        print(f"State for the next run: {state_file}")


if __name__ == "__main__":
    main()
