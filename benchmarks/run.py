"""The tap-acumatica benchmark (issues 9 and 13): the tap against a plain $top/$skip loop.

    python3 tasks.py bench                 # full run (~20-25 minutes on 2 shared cores)
    python3 tasks.py bench --quick         # smoke run (about a minute; used in CI)
    python -m benchmarks.run --sections e  # one section (here the ERP work alone)
    python -m benchmarks.run --help

Starts the simulator (tests/simulator, its default costs: no index on stamps, whole rows
dearer than narrowed ones) in its own process, then, back to back and with repetitions
(medians reported):

(a) 100k records of Customer (24.200.001, ~68 fields), no latency: the baseline
    (benchmarks/baseline.py, its own process) vs the whole tap process at
    ``max_concurrent_requests`` 1 (the default) and 4; output of both piped to a null sink
    (a reader that counts lines and discards them). Target: c=1 >= 1.0 x the loop.
(b) the same with ``latency_ms`` per list request: baseline sequential, tap at 4; the
    simulator's ``max_in_flight`` counter shows the tap never exceeds its setting.
    Target: >= 3 x the sequential loop.
(e) ERP work per change set (600, 3,000, 25,000, 100,000 rows; first run, so every row is
    a change) at c=1 and c=4, from the simulator's counters: list requests <= 1.1 x the
    loop's + 3; whole rows = N when N fits in a page, <= 1.1 x N otherwise.
(f) the licence model on (``--licence-rpm`` 300 requests a minute, ``--licence-cores`` 2
    concurrent requests): tap c=1 and c=4 >= 1.0 x the loop.
(c) peak RSS (VmHWM, from wait4) of the tap: top-level fields at 100k and 1M records
    (<= 1.2 x), every field with all ``$expand`` against top-level at ``--expanded``
    records (<= 2 x), and every field at a quarter of that (flat: <= 1.2 x).
(d) discovery time for the 24.200.001 swagger (all entities, and ``entities: [Customer]``),
    and a ``--catalog`` sync whose swagger request count must be 0.

Every target is printed with its measured ratio against the loop of the same run, and a
final table lists them all. Before every timed run the simulator is reset (fresh data,
caches and counters) and warmed with one request, so every run sees the same server. List
pages are rendered by ``--render-workers`` simulator processes (default 2): a real
Acumatica answers concurrent requests on several cores, while the simulator's own threads
share one GIL. The "simulator CPU" columns include those workers.
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

    def fresh(
        self,
        records: int,
        latency_ms: int = 0,
        render_workers: int | None = None,
        **options: t.Any,
    ) -> None:
        """Reset the simulator (data, caches, counters, ``options`` such as the licence),
        set faults, warm it up."""
        workers = self.args.render_workers if render_workers is None else render_workers
        self.sim.control.reset(sizes={ENTITY: records}, render_workers=workers, **options)
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

    def catalog(self, entity: str, everything: bool = False) -> Path:
        """The entity's catalog, selected; ``everything``: every field, detail and linked
        entity (``meltano select tap-acumatica Customer '*'``), else top-level fields."""
        path = self.workdir / f"catalog-{entity}{'-all' if everything else ''}.json"
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
                if md["breadcrumb"] == [] or everything:
                    md["metadata"]["selected"] = True
        path.write_text(json.dumps(catalog))
        return path

    def baseline(
        self,
        records: int,
        latency_ms: int = 0,
        render_workers: int | None = None,
        **options: t.Any,
    ) -> Run:
        self.fresh(records, latency_ms, render_workers, **options)
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
        self,
        records: int,
        concurrency: int,
        latency_ms: int = 0,
        render_workers: int | None = None,
        everything: bool = False,
        **options: t.Any,
    ) -> Run:
        self.fresh(records, latency_ms, render_workers, **options)
        config = self.config(max_concurrent_requests=concurrency)
        return run_child(
            f"tap c={concurrency}",
            [
                TAP,
                "--config",
                str(config),
                "--catalog",
                str(self.catalog(ENTITY, everything)),
            ],
            self.sim,
            self.log,
        )


def _list_requests(run: Run) -> int:
    """List requests of the run (the warm-up request after the reset not counted)."""
    return int(run.counters.get("requests_by_kind", {}).get("list", 1)) - 1


def _whole_rows(run: Run) -> int:
    """Whole rows the ERP rendered for the run (the warm-up's one row not counted)."""
    return int(run.counters.get("rows_whole", 1)) - 1


def _narrowed_rows(run: Run) -> int:
    return int(run.counters.get("rows_narrowed", 0))


def request_target(loop_requests: int) -> float:
    """Issue 13: the tap's list requests <= 1.1 x the plain loop's + 3."""
    return 1.1 * loop_requests + 3


def whole_rows_target(records: int) -> float:
    """Issue 13: whole rows = N when N fits in a page, <= 1.1 x N otherwise."""
    return records if records <= PAGE_SIZE else 1.1 * records


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
    parser = argparse.ArgumentParser(description="tap-acumatica benchmark (issues 9, 13)")
    parser.add_argument(
        "--quick", action="store_true", help="small smoke run (CI): few records, one repetition"
    )
    parser.add_argument("--records", type=int, help="records for (a)/(b)/(f) (default 100000)")
    parser.add_argument("--big", type=int, help="records for the RSS run (default 1000000)")
    parser.add_argument(
        "--expanded",
        type=int,
        help="records for the every-field RSS runs (default 10000; also a quarter of it)",
    )
    parser.add_argument(
        "--economy-sizes",
        help="change-set sizes for (e), comma-separated (default 600,3000,25000,100000)",
    )
    parser.add_argument("--reps", type=int, help="repetitions (default 3)")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--licence-rpm", type=int, default=300, help="(f) requests per minute")
    parser.add_argument("--licence-cores", type=int, default=2, help="(f) concurrent requests")
    parser.add_argument(
        "--render-workers",
        type=int,
        default=2,
        help="simulator processes rendering list pages (0: the simulator's "
        "own threads, all on one GIL)",
    )
    parser.add_argument(
        "--sections",
        default="abefcd",
        help="sections to run, in this order (default abefcd: all); e.g. 'e' for the ERP "
        "work alone",
    )
    parser.add_argument("--output", help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    sections = set(args.sections)
    records = args.records or (3_000 if args.quick else 100_000)
    big = args.big or (12_000 if args.quick else 1_000_000)
    expanded = args.expanded or (400 if args.quick else 10_000)
    reps = args.reps or (1 if args.quick else 3)
    latency_records = records if not args.quick else 3_000
    sizes = [
        int(x)
        for x in (args.economy_sizes or ("600,3000" if args.quick else "600,3000,25000,100000"))
        .replace("_", "")
        .split(",")
    ]
    conc = args.concurrency
    out: list[str] = []
    verdicts: list[tuple[str, str, bool]] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    def verdict(name: str, figure: str, met: bool) -> str:
        verdicts.append((name, figure, met))
        return "MET" if met else "NOT MET"

    started = time.perf_counter()
    say(f"# tap-acumatica benchmark{' (--quick)' if args.quick else ''}")
    say()
    say(f"Machine: {machine()}. Load average at start: {load()}.")
    say(
        f"Entity {ENTITY} ({VERSION}), page_size {PAGE_SIZE}, {reps} repetition(s), medians. "
        f"Simulator render workers: {args.render_workers}; simulator costs at their defaults "
        "(tests/simulator/README.md: no index on stamps, whole rows dearer than narrowed)."
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
        a_runs: dict[str, list[Run]] = {}
        if "a" in sections:
            a_runs = {"baseline": [], "tap c=1": [], f"tap c={conc}": []}
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
                "list requests | whole rows | peak RSS MB | ratio vs baseline |"
            )
            say("|---|---|---|---|---|---|---|---|---|")
            for label, runs in a_runs.items():
                _check_count(label, runs, records)
                r = rate(records, runs)
                say(
                    f"| {label} | {r:,.0f} | {median([x.wall for x in runs]):.2f} "
                    f"({', '.join(f'{x.wall:.2f}' for x in runs)}) | "
                    f"{median([x.cpu for x in runs]):.2f} | {median([x.sim_cpu for x in runs]):.2f}"
                    f" | {_list_requests(runs[-1])} | {_whole_rows(runs[-1]):,} | "
                    f"{median([x.rss_kb for x in runs]) / 1024:.0f} | {r / base_rate:.2f} |"
                )
            say()
            ratio_a = rate(records, a_runs["tap c=1"]) / base_rate
            a_met = verdict("(a) throughput c=1", f"{ratio_a:.2f}", ratio_a >= 1.0)
            say(
                f"Target (a) tap >= 1.0 x baseline at the default max_concurrent_requests=1: "
                f"{ratio_a:.2f} -> {a_met}"
            )
            say()

        # (b) ------------------------------------------------------------------------
        if "b" in sections:
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
            say(f"## (b) {latency_records:,} records, {args.latency_ms} ms latency per request")
            say()
            say(
                "| run | records/s (median) | wall s (runs) | CPU s | simulator CPU s | "
                "list requests | max in flight | ratio vs baseline |"
            )
            say("|---|---|---|---|---|---|---|---|")
            for label, runs in (("baseline (sequential)", b_base), (f"tap c={conc}", b_tap)):
                r = rate(latency_records, runs)
                say(
                    f"| {label} | {r:,.0f} | "
                    f"{median([x.wall for x in runs]):.2f} "
                    f"({', '.join(f'{x.wall:.2f}' for x in runs)}) | "
                    f"{median([x.cpu for x in runs]):.2f} | {median([x.sim_cpu for x in runs]):.2f}"
                    f" | {_list_requests(runs[-1])} | "
                    f"{max(x.counters.get('max_in_flight', 0) for x in runs)} | "
                    f"{r / rate(latency_records, b_base):.2f} |"
                )
            say()
            b_met = verdict("(b) 200 ms latency, c=4 vs sequential", f"{b_ratio:.2f}", b_ratio >= 3)
            say(
                f"Target (b) tap >= 3 x sequential baseline with max_concurrent_requests={conc}: "
                f"{b_ratio:.2f} -> {b_met}; max in flight {in_flight} <= {conc}: "
                f"{'yes' if in_flight <= conc else 'NO'}"
            )
            say()

        # (e) ------------------------------------------------------------------------
        if "e" in sections:
            say("## (e) ERP work per change set (first run: every row is a change), page 1000")
            say()
            say(
                "| changed rows | loop: list requests / whole rows | tap c | tap: list requests "
                "(target) | tap: whole rows (target) | tap: narrowed rows | status |"
            )
            say("|---|---|---|---|---|---|---|")
            for n in sizes:
                reuse = n == records and bool(a_runs)
                loop = a_runs["baseline"][-1] if reuse else bench.baseline(n)
                _check_count("baseline", [loop], n)
                for c in sorted({1, conc}):
                    tap = a_runs[f"tap c={c}"][-1] if reuse else bench.tap(n, c)
                    _check_count(f"tap c={c}", [tap], n)
                    req_t = request_target(_list_requests(loop))
                    rows_t = whole_rows_target(n)
                    ok = _list_requests(tap) <= req_t and _whole_rows(tap) <= rows_t
                    status = verdict(
                        f"(e) {n:,} rows c={c}",
                        f"{_list_requests(tap)} requests (<= {req_t:.1f}), "
                        f"{_whole_rows(tap):,} whole rows (<= {rows_t:,.0f})",
                        ok,
                    )
                    say(
                        f"| {n:,} | {_list_requests(loop)} / {_whole_rows(loop):,} | {c} | "
                        f"{_list_requests(tap)} (<= {req_t:.1f}) | {_whole_rows(tap):,} "
                        f"(<= {rows_t:,.0f}) | {_narrowed_rows(tap):,} | {status} |"
                    )
            say()

        # (f) ------------------------------------------------------------------------
        if "f" in sections:
            licence = {
                "licence_requests_per_minute": args.licence_rpm,
                "licence_concurrent_requests": args.licence_cores,
            }
            f_runs: dict[str, list[Run]] = {"baseline": [], "tap c=1": [], f"tap c={conc}": []}
            for _ in range(reps):
                f_runs["baseline"].append(bench.baseline(records, **licence))
                f_runs["tap c=1"].append(bench.tap(records, 1, **licence))
                f_runs[f"tap c={conc}"].append(bench.tap(records, conc, **licence))
            f_base = rate(records, f_runs["baseline"])
            say(
                f"## (f) {records:,} records, licence model on: {args.licence_rpm} "
                f"requests/minute, {args.licence_cores} concurrent requests"
            )
            say()
            say(
                "| run | records/s (median) | wall s (runs) | list requests | requests delayed | "
                "waited for a core | refused (429) | ratio vs baseline |"
            )
            say("|---|---|---|---|---|---|---|---|")
            for label, runs in f_runs.items():
                _check_count(label, runs, records)
                r = rate(records, runs)
                lic = runs[-1].counters.get("licence", {})
                say(
                    f"| {label} | {r:,.0f} | {median([x.wall for x in runs]):.2f} "
                    f"({', '.join(f'{x.wall:.2f}' for x in runs)}) | {_list_requests(runs[-1])} | "
                    f"{lic.get('delayed', 0)} | {lic.get('waited_for_core', 0)} | "
                    f"{lic.get('refused', 0)} | {r / f_base:.2f} |"
                )
            say()
            for c in sorted({1, conc}):
                ratio_f = rate(records, f_runs[f"tap c={c}"]) / f_base
                f_met = verdict(f"(f) licence c={c}", f"{ratio_f:.2f}", ratio_f >= 1)
                say(
                    f"Target (f) tap c={c} >= 1.0 x baseline with the licence model on: "
                    f"{ratio_f:.2f} -> {f_met}"
                )
            say()

        # (c) ------------------------------------------------------------------------
        if "c" in sections:
            small_rss = (
                median([r.rss_kb for r in a_runs["tap c=1"]])
                if a_runs and (records == 100_000 or args.quick)
                else bench.tap(records if args.quick else 100_000, 1).rss_kb
            )
            small_n = records if args.quick else 100_000
            big_run = bench.tap(big, 1)
            _check_count("tap (big)", [big_run], big)
            rss_ratio = big_run.rss_kb / small_rss
            top_run = bench.tap(expanded, 1)
            all_small = bench.tap(expanded // 4, 1, everything=True)
            all_run = bench.tap(expanded, 1, everything=True)
            for label, run, n in (
                ("top-level", top_run, expanded),
                ("every field (small)", all_small, expanded // 4),
                ("every field", all_run, expanded),
            ):
                _check_count(f"tap ({label})", [run], n)
            say("## (c) peak RSS of the tap (max_concurrent_requests=1)")
            say()
            say("| fields | records | peak RSS MB | wall s | records/s | MB served |")
            say("|---|---|---|---|---|---|")
            say(f"| top-level | {small_n:,} | {small_rss / 1024:.0f} | | | |")
            for label, run, n in (
                ("top-level", big_run, big),
                ("top-level", top_run, expanded),
                ("every field, all $expand", all_small, expanded // 4),
                ("every field, all $expand", all_run, expanded),
            ):
                say(
                    f"| {label} | {n:,} | {run.rss_kb / 1024:.0f} | {run.wall:.1f} | "
                    f"{n / run.wall:,.0f} | {run.counters.get('bytes_served', 0) / 1e6:,.0f} |"
                )
            say()
            say(
                f"Target (c) RSS at {big:,} <= 1.2 x at {small_n:,}: {rss_ratio:.2f} -> "
                f"{verdict('(c) RSS flat in N (top-level)', f'{rss_ratio:.2f}', rss_ratio <= 1.2)}"
            )
            all_ratio = all_run.rss_kb / top_run.rss_kb
            say(
                f"Target (c) every field RSS <= 2 x top-level at {expanded:,}: {all_ratio:.2f} -> "
                f"{verdict('(c) RSS every field vs top-level', f'{all_ratio:.2f}', all_ratio <= 2)}"
            )
            flat = all_run.rss_kb / all_small.rss_kb
            flat_met = verdict("(c) RSS flat in N (every field)", f"{flat:.2f}", flat <= 1.2)
            say(
                f"Target (c) every field RSS at {expanded:,} <= 1.2 x at {expanded // 4:,}: "
                f"{flat:.2f} -> {flat_met}"
            )
            say()

        # (d) ------------------------------------------------------------------------
        if "d" in sections:
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
                    bucket.append(
                        (time.perf_counter() - t0, len(json.loads(done.stdout)["streams"]))
                    )
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
    say("## Targets")
    say()
    say("| target | measured | status |")
    say("|---|---|---|")
    for name, figure, met in verdicts:
        say(f"| {name} | {figure} | {'MET' if met else 'NOT MET'} |")
    say()
    say(
        f"{sum(m for _, _, m in verdicts)} of {len(verdicts)} targets met. Total benchmark time "
        f"{time.perf_counter() - started:.0f} s; load average at end: {load()}."
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
