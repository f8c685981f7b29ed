"""DAC-based OData benchmark (issue 16).

    python -m benchmarks.dac [--types 2500] [--rows 100000] [--output FILE]

(1) Discovery from a synthetic ``$metadata`` of ``--types`` entity types (~9 KB of EDMX
    each, like a real 2026 R2 document of ~20 MB and 2,265 types): wall time and peak RSS
    (VmHWM, from wait4) of the whole ``tap-acumatica --discover`` process; targets
    <= 15 s and <= 300 MB for 2,500 types. Also with ``dacs: [SOOrder]``.
(2) First load of ``--rows`` SOLine rows: requests and time of the tap (keyset on
    (LastModifiedDateTime, keys), default settings) against a plain ``$top/$skip`` loop
    over the same entity set (requests, one after another, until a short page).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

import requests

from tests.simulator.process import SimulatorProcess

TAP = str(Path(sys.executable).parent / "tap-acumatica")


def _peak_kb(pid: int, peak: list[int], done: threading.Event) -> None:
    """Poll VmHWM of the tap (wait4's ru_maxrss would include this process's memory,
    which a forked child carries until it execs)."""
    while not done.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except (OSError, ValueError):
            return
        done.wait(0.02)


def run_tap(config: dict[str, t.Any], args: list[str]) -> tuple[float, int, int, str]:
    """(seconds, peak RSS KB, exit code, stdout) of one tap process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config))
        out = Path(tmp) / "out"
        with out.open("w") as sink:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [TAP, "--config", str(path), *args], stdout=sink, stderr=subprocess.DEVNULL
            )
            peak, done = [0], threading.Event()
            poller = threading.Thread(target=_peak_kb, args=(proc.pid, peak, done))
            poller.start()
            # wait4 with WNOWAIT is not offered: poll until the process is a zombie.
            while True:
                state = Path(f"/proc/{proc.pid}/stat").read_text().split(") ", 1)[1][0]
                if state == "Z":
                    break
                time.sleep(0.01)
            seconds = time.perf_counter() - start
            done.set()
            poller.join()
            proc.wait()
        return seconds, peak[0], proc.returncode, out.read_text()


def config_for(sim: SimulatorProcess, **extra: t.Any) -> dict[str, t.Any]:
    return {"url": sim.url, **sim.credentials, "schema": "DAC", "odata_url_style": "v4", **extra}


def discovery(types: int) -> list[str]:
    lines = [f"## DAC discovery, synthetic $metadata of {types} entity types", ""]
    with SimulatorProcess(dac={"synthetic_types": types}) as sim:
        size = sim.control._call("GET", "dac/metadata-size")["bytes"]
        lines += [
            f"$metadata: {size / 1e6:.1f} MB, {types + 7} entity types.",
            "",
            "| run | wall s | peak RSS MB | streams |",
            "|---|---|---|---|",
        ]
        for label, extra in (("all DACs", {}), ("dacs: [SOOrder]", {"dacs": ["SOOrder"]})):
            seconds, rss, code, out = run_tap(config_for(sim, **extra), ["--discover"])
            if code != 0:
                raise SystemExit(f"discovery failed ({label}): exit {code}")
            streams = len(json.loads(out)["streams"])
            lines.append(f"| {label} | {seconds:.1f} | {rss / 1024:.0f} | {streams} |")
    lines.append("")
    lines.append("Targets (2,500 types): <= 15 s and <= 300 MB.")
    return lines


def first_load(rows: int) -> list[str]:
    lines = [f"## DAC first load, {rows:,} SOLine rows (page 1000, c=1)", ""]
    with SimulatorProcess(dac={"sizes": {"SOLine": rows}}) as sim:
        config = config_for(sim, dacs=["SOLine"])
        _, _, code, out = run_tap(config, ["--discover"])
        assert code == 0
        catalog = json.loads(out)
        for entry in catalog["streams"]:
            for md in entry["metadata"]:
                if md["breadcrumb"] == []:
                    md["metadata"]["selected"] = True
        with tempfile.TemporaryDirectory() as tmp:
            cat = Path(tmp) / "catalog.json"
            cat.write_text(json.dumps(catalog))
            before = sim.control.counters()["requests_by_kind"].get("dac", 0)
            seconds, rss, code, out = run_tap(config, ["--catalog", str(cat)])
            assert code == 0
            tap_requests = sim.control.counters()["requests_by_kind"].get("dac", 0) - before
            tap_records = out.count('"type":"RECORD"')
        session = requests.Session()
        session.auth = (sim.credentials["username"], sim.credentials["password"])
        url = sim.url + "t/Company/api/odata/dac/PX_Objects_SO_SOLine"
        start = time.perf_counter()
        skip = loop_requests = loop_records = 0
        while True:
            page = session.get(url, params={"$top": 1000, "$skip": skip}).json()["value"]
            loop_requests += 1
            loop_records += len(page)
            if len(page) < 1000:
                break
            skip += 1000
        loop_seconds = time.perf_counter() - start
    lines += [
        "| reader | requests | records | wall s |",
        "|---|---|---|---|",
        f"| tap (keyset; incl. 1 clock request) | {tap_requests} | {tap_records} | {seconds:.1f} |",
        f"| plain $top/$skip loop | {loop_requests} | {loop_records} | {loop_seconds:.1f} |",
        "",
        f"Tap peak RSS: {rss / 1024:.0f} MB.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--types", type=int, default=2500)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--output")
    args = parser.parse_args()
    lines = [*discovery(args.types), "", *first_load(args.rows)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
