"""The tap-acumatica benchmark (issue 9): the tap against a minimal raw client.

    python3 tasks.py bench                 # full run (~6-10 minutes on 2 cores)
    python3 tasks.py bench --quick         # smoke run (under a minute; used in CI)
    python -m benchmarks.run --help

Starts the simulator (tests/simulator) in its own process, then, back to back and with
repetitions (medians reported):

(a) 100k records of Customer (24.200.001, ~68 fields), no latency: the baseline
    (benchmarks/baseline.py, its own process) vs the whole tap process at
    ``max_concurrent_requests`` 1 (the default) and 4; output of both piped to a null sink
    (a reader that counts lines and discards them).
(b) the same with ``latency_ms`` per list request: baseline sequential, tap at 4; the
    simulator's ``max_in_flight`` counter shows the tap never exceeds its setting.
(c) peak RSS (VmHWM, from wait4) of the tap at 100k and 1M records.
(d) discovery time for the 24.200.001 swagger (all entities, and ``entities: [Customer]``),
    and a ``--catalog`` sync whose swagger request count must be 0.

Before every timed run the simulator is reset (fresh data, caches and counters) and warmed
with one request, so every run sees the same server. List pages are rendered by
``--render-workers`` simulator processes (default 2): a real Acumatica answers concurrent
requests on several cores, while the simulator's own threads share one GIL. The
"simulator CPU" columns include those workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.simulator.process import SimulatorProcess  # noqa: E402

VERSION = "24.200.001"
ENTITY = "Customer"
PAGE_SIZE = 1000  # the tap's default, given to both the tap and the baseline
TAP = str(Path(sys.executable).parent / "tap-acumatica")


@dataclass
class Run:
    """One child process run: wall time, CPU, peak RSS and the lines it wrote."""

    label: str
    lines: int
    wall: float
    cpu: float
    rss_kb: int
    sim_cpu: float
    counters: dict[str, t.Any] = field(default_factory=dict)


RECORD_MARK = b'"type":"RECORD"'


def _sink(stream: t.IO[bytes], counted: list[int]) -> None:
    """The null sink: read everything, count lines and Singer RECORD messages, keep nothing."""
    lines = records = 0
    tail = b""
    while chunk := stream.read(1 << 20):
        lines += chunk.count(b"\n")
        joined = tail + chunk
        records += joined.count(RECORD_MARK)
        tail = joined[-(len(RECORD_MARK) - 1) :]
    counted.extend((lines, records))


def _proc_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants (the simulator's render workers)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return total
    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(_proc_cpu(int(child)) for child in children)
    return total


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)  # both programs buffer explicitly; keep runs alike
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_child(label: str, command: list[str], sim: SimulatorProcess, log_path: Path) -> Run:
    sim_before = _proc_cpu(sim.pid)
    started = time.perf_counter()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=child_env()
        )
        counted: list[int] = []
        assert proc.stdout is not None
        reader = threading.Thread(target=_sink, args=(proc.stdout, counted), daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        reader.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed (exit {proc.returncode}); see {log_path}")
    lines, records = counted
    return Run(
        label,
        records or lines,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss,
        _proc_cpu(sim.pid) - sim_before,
        sim.control.counters(),
    )


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.log = workdir / "children.log"
        self.sim: SimulatorProcess

    # Simulator ------------------------------------------------------------------------------

    def fresh(self, records: int, latency_ms: int = 0, render_workers: int | None = None) -> None:
        """Reset the simulator (data, caches, counters), set faults, warm it up."""
        workers = self.args.render_workers if render_workers is None else render_workers
        self.sim.control.reset(sizes={ENTITY: records}, render_workers=workers)
        self._warm_page()  # builds the entity's rows (first access) outside the timing
        self.sim.control.faults(**({"latency_ms": latency_ms} if latency_ms else {}))

    def _warm_page(self) -> None:
        import requests

        session = requests.Session()
        creds = self.sim.credentials
        session.post(
            self.sim.url + "entity/auth/login",
            json={
                "name": creds["username"],
                "password": creds["password"],
                "company": creds["company"],
            },
            timeout=60,
        ).raise_for_status()
        session.get(
            f"{self.sim.url}entity/Default/{VERSION}/{ENTITY}", params={"$top": 1}, timeout=120
        ).raise_for_status()
        session.post(self.sim.url + "entity/auth/logout", timeout=60)

    # Commands -------------------------------------------------------------------------------

    def config(self, **extra: t.Any) -> Path:
        config = {
            "url": self.sim.url,
            **self.sim.credentials,
            "endpoint_version": VERSION,
            "page_size": PAGE_SIZE,
            **extra,
        }
        name = (
            "config-"
            + "-".join(
                f"{k}{'+'.join(v) if isinstance(v, list) else v}" for k, v in sorted(extra.items())
            )
            + ".json"
        )
        path = self.workdir / name
        path.write_text(json.dumps(config))
        return path

    def catalog(self, entity: str) -> Path:
        path = self.workdir / f"catalog-{entity}.json"
        if path.exists():
            return path
        done = subprocess.run(
            [TAP, "--config", str(self.config(entities=[entity])), "--discover"],
            capture_output=True,
            check=True,
            env=child_env(),
        )
        catalog = json.loads(done.stdout)
        for entry in catalog["streams"]:
            for md in entry["metadata"]:
                if md["breadcrumb"] == []:
                    md["metadata"]["selected"] = True
        path.write_text(json.dumps(catalog))
        return path

    def baseline(self, records: int, latency_ms: int = 0, render_workers: int | None = None) -> Run:
        self.fresh(records, latency_ms, render_workers)
        creds = self.sim.credentials
        return run_child(
            "baseline",
            [
                sys.executable,
                "-m",
                "benchmarks.baseline",
                self.sim.url,
                ENTITY,
                "--version",
                VERSION,
                "--page-size",
                str(PAGE_SIZE),
                "--username",
                creds["username"],
                "--password",
                creds["password"],
                "--company",
                creds["company"],
            ],
            self.sim,
            self.log,
        )

    def tap(
        self, records: int, concurrency: int, latency_ms: int = 0, render_workers: int | None = None
    ) -> Run:
        self.fresh(records, latency_ms, render_workers)
        config = self.config(max_concurrent_requests=concurrency)
        return run_child(
            f"tap c={concurrency}",
            [
                TAP,
                "--config",
                str(config),
                "--catalog",
                str(self.catalog(ENTITY)),
            ],
            self.sim,
            self.log,
        )


def _list_requests(run: Run) -> int:
    """List requests of the run (the warm-up request after the reset not counted)."""
    return int(run.counters.get("requests_by_kind", {}).get("list", 1)) - 1


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rate(records: int, runs: list[Run]) -> float:
    return records / median([r.wall for r in runs])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tap-acumatica benchmark (issue 9)")
    parser.add_argument(
        "--quick", action="store_true", help="small smoke run (CI): few records, one repetition"
    )
    parser.add_argument("--records", type=int, help="records for (a)/(b) (default 100000)")
    parser.add_argument("--big", type=int, help="records for the RSS run (default 1000000)")
    parser.add_argument("--reps", type=int, help="repetitions (default 3)")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--render-workers",
        type=int,
        default=2,
        help="simulator processes rendering list pages (0: the simulator's "
        "own threads, all on one GIL)",
    )
    parser.add_argument("--output", help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    records = args.records or (5_000 if args.quick else 100_000)
    big = args.big or (20_000 if args.quick else 1_000_000)
    reps = args.reps or (1 if args.quick else 3)
    latency_records = records if not args.quick else 3_000
    conc = args.concurrency
    out: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    started = time.perf_counter()
    say(f"# tap-acumatica benchmark{' (--quick)' if args.quick else ''}")
    say()
    say(f"Machine: {machine()}. Load average at start: {load()}.")
    say(
        f"Entity {ENTITY} ({VERSION}), page_size {PAGE_SIZE}, {reps} repetition(s), medians. "
        f"Simulator render workers: {args.render_workers}."
    )
    say()
    with (
        tempfile.TemporaryDirectory(prefix="tap-acumatica-bench-") as tmp,
        SimulatorProcess(sizes={ENTITY: records}, versions=[VERSION], default_size=50) as sim,
    ):
        bench = Bench(args, Path(tmp))
        bench.sim = sim
        bench.catalog(ENTITY)

        # (a) ------------------------------------------------------------------------
        a_runs: dict[str, list[Run]] = {"baseline": [], "tap c=1": [], f"tap c={conc}": []}
        for _ in range(reps):
            a_runs["baseline"].append(bench.baseline(records))
            a_runs["tap c=1"].append(bench.tap(records, 1))
            if conc != 1:
                a_runs[f"tap c={conc}"].append(bench.tap(records, conc))
        a_runs = {k: v for k, v in a_runs.items() if v}
        base_rate = rate(records, a_runs["baseline"])
        say(f"## (a) {records:,} records, no latency")
        say()
        say(
            "| run | records/s (median) | wall s (runs) | CPU s | simulator CPU s | "
            "list requests | peak RSS MB | ratio vs baseline |"
        )
        say("|---|---|---|---|---|---|---|---|")
        for label, runs in a_runs.items():
            _check_count(label, runs, records)
            r = rate(records, runs)
            say(
                f"| {label} | {r:,.0f} | {median([x.wall for x in runs]):.2f} "
                f"({', '.join(f'{x.wall:.2f}' for x in runs)}) | "
                f"{median([x.cpu for x in runs]):.2f} | {median([x.sim_cpu for x in runs]):.2f}"
                f" | {_list_requests(runs[-1])} | "
                f"{median([x.rss_kb for x in runs]) / 1024:.0f} | {r / base_rate:.2f} |"
            )
        say()
        ratio_a = rate(records, a_runs["tap c=1"]) / base_rate
        say(
            f"Target (a) tap >= 0.8 x baseline at the default max_concurrent_requests=1: "
            f"{ratio_a:.2f} -> {'MET' if ratio_a >= 0.8 else 'NOT MET'}"
        )
        say()

        # (b) ------------------------------------------------------------------------
        # Baseline and tap runs alternate, as in (a), so drift in the machine's load
        # weighs on both alike.
        b_base: list[Run] = []
        b_tap: list[Run] = []
        for _ in range(reps):
            b_base.append(bench.baseline(latency_records, args.latency_ms))
            b_tap.append(bench.tap(latency_records, conc, args.latency_ms))
        _check_count("baseline", b_base, latency_records)
        _check_count("tap", b_tap, latency_records)
        b_ratio = rate(latency_records, b_tap) / rate(latency_records, b_base)
        in_flight = max(r.counters.get("max_in_flight", 0) for r in b_tap)
        # (label, runs, the baseline runs its ratio is against)
        b_rows = [("baseline (sequential)", b_base, b_base), (f"tap c={conc}", b_tap, b_base)]
        if args.render_workers:  # for the record: the simulator rendering on one GIL
            gil_base: list[Run] = []
            gil_tap: list[Run] = []
            for _ in range(reps):
                gil_base.append(bench.baseline(latency_records, args.latency_ms, render_workers=0))
                gil_tap.append(bench.tap(latency_records, conc, args.latency_ms, render_workers=0))
            _check_count("baseline (one GIL)", gil_base, latency_records)
            _check_count("tap (one GIL)", gil_tap, latency_records)
            b_rows += [
                ("baseline (sequential), simulator without render workers", gil_base, gil_base),
                (f"tap c={conc}, simulator without render workers", gil_tap, gil_base),
            ]
        say(f"## (b) {latency_records:,} records, {args.latency_ms} ms latency per request")
        say()
        say(
            "| run | records/s (median) | wall s (runs) | CPU s | simulator CPU s | "
            "list requests | max in flight | ratio vs baseline |"
        )
        say("|---|---|---|---|---|---|---|---|")
        for label, runs, against in b_rows:
            r = rate(latency_records, runs)
            b_rate = rate(latency_records, against)
            say(
                f"| {label} | {r:,.0f} | "
                f"{median([x.wall for x in runs]):.2f} "
                f"({', '.join(f'{x.wall:.2f}' for x in runs)}) | "
                f"{median([x.cpu for x in runs]):.2f} | {median([x.sim_cpu for x in runs]):.2f}"
                f" | {_list_requests(runs[-1])} | "
                f"{max(x.counters.get('max_in_flight', 0) for x in runs)} | {r / b_rate:.2f} |"
            )
        say()
        say(
            f"Target (b) tap >= 3 x sequential baseline with max_concurrent_requests={conc}: "
            f"{b_ratio:.2f} -> {'MET' if b_ratio >= 3 else 'NOT MET'}; max in flight "
            f"{in_flight} <= {conc}: {'yes' if in_flight <= conc else 'NO'}"
        )
        say()

        # (c) ------------------------------------------------------------------------
        small_rss = (
            median([r.rss_kb for r in a_runs["tap c=1"]])
            if records == 100_000 or args.quick
            else bench.tap(100_000, 1).rss_kb
        )
        small_n = records if args.quick else 100_000
        big_run = bench.tap(big, 1)
        _check_count("tap (big)", [big_run], big)
        rss_ratio = big_run.rss_kb / small_rss
        say("## (c) peak RSS of the tap (max_concurrent_requests=1)")
        say()
        say("| records | peak RSS MB | wall s | records/s |")
        say("|---|---|---|---|")
        say(f"| {small_n:,} | {small_rss / 1024:.0f} | | |")
        say(
            f"| {big:,} | {big_run.rss_kb / 1024:.0f} | {big_run.wall:.1f} | "
            f"{big / big_run.wall:,.0f} |"
        )
        say()
        say(
            f"Target (c) RSS at {big:,} <= 1.2 x at {small_n:,}: {rss_ratio:.2f} -> "
            f"{'MET' if rss_ratio <= 1.2 else 'NOT MET'}"
        )
        say()

        # (d) ------------------------------------------------------------------------
        sim.control.reset(sizes={ENTITY: 100})
        sim.control.faults()
        disc_all: list[tuple[float, int]] = []
        disc_one: list[tuple[float, int]] = []
        for _ in range(reps):
            for config, bucket in (
                (bench.config(), disc_all),
                (bench.config(entities=[ENTITY]), disc_one),
            ):
                t0 = time.perf_counter()
                done = subprocess.run(
                    [TAP, "--config", str(config), "--discover"],
                    capture_output=True,
                    check=True,
                    env=child_env(),
                )
                bucket.append((time.perf_counter() - t0, len(json.loads(done.stdout)["streams"])))
        sim.control.reset(sizes={ENTITY: 100})
        sync = run_child(
            "catalog sync",
            [TAP, "--config", str(bench.config()), "--catalog", str(bench.catalog(ENTITY))],
            sim,
            bench.log,
        )
        swagger = sync.counters.get("requests_by_kind", {}).get("swagger", 0)
        say(f"## (d) discovery ({VERSION} swagger) and a --catalog sync")
        say()
        say("| run | wall s (median) | streams |")
        say("|---|---|---|")
        say(
            f"| --discover, all entities | {median([x[0] for x in disc_all]):.2f} | "
            f"{disc_all[0][1]} |"
        )
        say(
            f"| --discover, entities: [{ENTITY}] | {median([x[0] for x in disc_one]):.2f} | "
            f"{disc_one[0][1]} |"
        )
        say(
            f"| sync --catalog ({ENTITY}, 100 records) | {sync.wall:.2f} | swagger requests:"
            f" {swagger} |"
        )
        say()
        say(
            f"--catalog sync fetched swagger.json {swagger} time(s): "
            f"{'OK (not fetched)' if swagger == 0 else 'FETCHED'}"
        )
        say()
    say(
        f"Total benchmark time {time.perf_counter() - started:.0f} s; load average at end: "
        f"{load()}."
    )
    if args.output:
        Path(args.output).write_text("\n".join(out) + "\n")
    return 0


def _check_count(label: str, runs: list[Run], records: int) -> None:
    for run in runs:
        if run.lines < records:
            raise RuntimeError(f"{label}: wrote {run.lines} lines for {records} records")


if __name__ == "__main__":
    sys.exit(main())
