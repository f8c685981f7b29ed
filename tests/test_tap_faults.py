"""Fault injection (issue 7): a nightly load finishes, loses nothing and never leaks a seat.

Every test drives the real ``tap-acumatica`` CLI (a subprocess, as Meltano runs it) against
the simulator with faults switched on, and asserts the outcome: records lost = 0,
logins == logouts, the exact message a user sees, the exit code. Totals are printed in the
pytest summary by ``tests/conftest.py`` ("fault suite: faults injected=…, runs=…, records
lost=…").
"""

from __future__ import annotations

import http.server
import json
import random
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import typing as t
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests import faultstats, tapkit
from tests.simulator.process import SimulatorProcess, wait_until

# Slow (the fault-injection suite: many full runs with retries and waits).
# `python3 tasks.py test -m "not slow"` skips it; CI runs it.

VERSION = "20.200.001"
SIZE = 600
pytestmark = [
    pytest.mark.slow,
    pytest.mark.simulator(
        sizes={"Customer": SIZE}, default_size=5, versions=[VERSION, "24.200.001"]
    ),
]


# --- helpers ----------------------------------------------------------------------------


FAULTED = {
    "endpoint_version": VERSION,
    "entities": ["Customer"],
    # Not the defaults: hundreds of injected faults, so quick retries (same logic; the
    # default waits are checked on their own) and more of them before giving up;
    # pages of 100 so a few thousand rows make enough requests to be faulted.
    "backoff_factor": 0.01,
    "backoff_max_seconds": 0.2,
    "max_retries": 8,
    "page_size": 100,
}


def run_tap(config: dict[str, t.Any], **kwargs: t.Any) -> tapkit.TapRun:
    faultstats.add(runs=1)
    return tapkit.run_tap(config, **kwargs)


def truth_ids(sim: SimulatorProcess, entity: str = "Customer") -> set[str]:
    return {r["id"] for r in sim.control.truth(entity, version=VERSION)}


def emitted_ids(run: tapkit.TapRun, entity: str = "Customer") -> list[str]:
    return [r["id"] for r in run.records.get(entity, [])]


def wait_until_idle(sim: SimulatorProcess, limit: float = 30.0) -> None:
    """Wait for the simulator to finish answering requests the client gave up on."""
    assert wait_until(lambda: sim.control.counters()["in_flight"] == 0, limit, 0.1), (
        "the simulator never finished its answers"
    )


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(module_sim: SimulatorProcess) -> dict[str, t.Any]:
    faultstats.add(runs=1)
    return tapkit.select(tapkit.discover(tapkit.config_for(module_sim, FAULTED)), ["Customer"])


@pytest.fixture
def fresh(sim: SimulatorProcess, catalog: dict[str, t.Any]) -> t.Iterator[SimulatorProcess]:
    """Clean data, counters and faults (``sim``); counts the faults the test injected."""
    yield sim
    injected = sim.control.counters().get("faults_injected", {})
    faultstats.add(faults_injected=sum(injected.values()))
    sim.control.faults()


# --- retries ------------------------------------------------------------------------------


RECOVERABLE = {
    "429 with Retry-After": {"rate_429": 0.3, "retry_after": 0},
    "429 without Retry-After": {"rate_429": 0.3, "retry_after": None},
    "500 SQL timeout": {"rate_5xx": 0.3, "status_5xx": 500},
    "502 gateway": {"rate_5xx": 0.3, "status_5xx": 502},
    "503 unavailable": {"rate_5xx": 0.3, "status_5xx": 503},
    "409 long operation": {"rate_409": 0.3},
    "connection reset": {"drop_rate": 0.3},
    "truncated JSON": {"rate_bad_body": 0.3, "bad_body": "truncated"},
    "everything at once": {
        "rate_429": 0.1,
        "rate_5xx": 0.1,
        "rate_409": 0.1,
        "drop_rate": 0.1,
        "rate_bad_body": 0.05,
    },
}


@pytest.mark.parametrize("name", sorted(RECOVERABLE))
def test_transient_faults_are_retried_and_lose_nothing(fresh, catalog, name: str) -> None:
    faults = {k: v for k, v in RECOVERABLE[name].items() if v is not None}
    fresh.control.faults(fault_seed=11, only_kinds=["list", "login", "entity_index"], **faults)
    # Pages of 50: the tap reads 600 rows in a census request and about a dozen windows,
    # enough requests for a 30% fault rate to hit several times.
    run = run_tap(tapkit.config_for(fresh, FAULTED, page_size=50), catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    injected = sum(fresh.control.counters()["faults_injected"].values())
    assert injected >= 3, "the faults never hit"
    assert set(emitted_ids(run)) == truth_ids(fresh)
    assert "retry" in run.stderr
    fresh.control.faults()
    tapkit.assert_sessions_closed(fresh)


@pytest.mark.parametrize(
    ("faults", "phrases"),
    [
        (
            {"rate_5xx": 1.0, "status_5xx": 503},
            ["HTTP 503 after 3 attempts", "Service Unavailable"],
        ),
        (
            {"rate_429": 1.0, "retry_after": 0},
            ["HTTP 429 after 3 attempts", "API requests per minute"],
        ),
        ({"rate_409": 1.0}, ["HTTP 409 after 3 attempts", "long operation is running"]),
        ({"drop_rate": 1.0}, ["cannot reach", "after 3 attempts"]),
        ({"rate_bad_body": 1.0, "bad_body": "truncated"}, ["truncated JSON after 3 attempts"]),
        (
            {"rate_bad_body": 1.0, "bad_body": "text"},
            ["not valid JSON after 3 attempts", "Service is starting"],
        ),
    ],
    ids=["503", "429", "409", "reset", "truncated", "text"],
)
def test_persistent_fault_gives_up_with_request_and_reason(fresh, catalog, faults, phrases) -> None:
    fresh.control.faults(only_kinds=["list"], **faults)
    started = time.monotonic()
    run = run_tap(tapkit.config_for(fresh, FAULTED, max_retries=3), catalog=catalog, timeout=60)
    line = tapkit.assert_one_clear_error(run, *phrases)
    assert line.startswith(f"{tapkit.ERROR_PREFIX}Customer"), line  # names the request
    assert time.monotonic() - started < 30  # gave up, did not hang
    fresh.control.faults()
    tapkit.assert_sessions_closed(fresh)


def test_read_timeout_is_retried_then_fails_clearly(fresh, catalog) -> None:
    fresh.control.faults(latency_ms=2500, only_kinds=["list"])
    started = time.monotonic()
    # max_retries 2 and a 1 s request_timeout (defaults 5 and 300): what is tested, quickly.
    run = run_tap(
        tapkit.config_for(fresh, FAULTED, max_retries=2, request_timeout=1),
        catalog=catalog,
        timeout=60,
    )
    tapkit.assert_one_clear_error(run, "Customer", "timed out", "after 2 attempts")
    assert time.monotonic() - started < 20
    assert "retry 1 of 1" in run.stderr
    fresh.control.faults()
    wait_until_idle(fresh)  # the abandoned slow answers still hold their sessions' counters
    tapkit.assert_sessions_closed(fresh)


def test_retry_after_is_honoured(fresh) -> None:
    from tap_acumatica.auth.basic import LoginSession
    from tap_acumatica.errors import AcumaticaAPIError
    from tap_acumatica.http.client import AcumaticaClient
    from tap_acumatica.settings import Settings

    # 2 tries with short waits: the test is about the message, not the waiting.
    config = Settings.from_config(
        tapkit.config_for(fresh, FAULTED, max_retries=2, backoff_factor=0.01)
    )
    client = AcumaticaClient(config, LoginSession(config))
    fresh.control.faults(rate_429=1.0, retry_after=1, only_kinds=["list"])
    url = client.url(f"entity/Default/{VERSION}/Customer")
    started = time.monotonic()
    try:
        with pytest.raises(AcumaticaAPIError) as caught:
            client.get_json(url, params={"$top": 1}, what="Customer probe")
        elapsed = time.monotonic() - started
    finally:
        client.close()
    # backoff_factor alone would wait ~0.01 s: the 1 s is the server's Retry-After.
    assert 1.0 <= elapsed < 5, elapsed
    assert str(caught.value).startswith("Customer probe: HTTP 429 after 2 attempts")
    assert caught.value.status == 429
    fresh.control.faults()
    tapkit.assert_sessions_closed(fresh)


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    from tap_acumatica.auth.basic import LoginSession
    from tap_acumatica.http.client import AcumaticaClient
    from tap_acumatica.settings import Settings

    config = Settings.from_config(
        {
            "url": "http://127.0.0.1:9/",
            "username": "u",
            "password": "p",
            "backoff_factor": 1,
            "backoff_max_seconds": 8,
        }
    )
    waits = []
    for _ in range(2):
        client = AcumaticaClient(config, LoginSession(config))
        gen = client._wait_gen()
        next(gen)
        waits.append([gen.send(RuntimeError()) for _ in range(6)])
        client.close()
    for series in waits:
        for attempt, wait in enumerate(series):
            nominal = min(8, 2**attempt)
            assert nominal / 2 <= wait <= nominal, (attempt, wait)
    assert waits[0] != waits[1], "no jitter"


# --- licence courtesy ---------------------------------------------------------------------


def test_in_flight_requests_never_exceed_max_concurrent_requests(fresh, catalog) -> None:
    # page_size 50: enough requests to overlap; max_concurrent_requests is what is tested.
    fresh.control.faults(latency_ms=60, only_kinds=["list"])
    run = run_tap(
        tapkit.config_for(fresh, FAULTED, max_concurrent_requests=2, page_size=50), catalog=catalog
    )
    assert run.returncode == 0, run.stderr[-2000:]
    counters = fresh.control.counters()
    assert counters["requests_by_kind"]["list"] >= 6
    assert counters["max_in_flight"] <= 2, counters
    assert set(emitted_ids(run)) == truth_ids(fresh)

    fresh.control.reset()
    fresh.control.faults(latency_ms=60, only_kinds=["list"])
    # The default max_concurrent_requests (1), said explicitly; page_size 50 as above.
    run = run_tap(
        tapkit.config_for(fresh, FAULTED, max_concurrent_requests=1, page_size=50), catalog=catalog
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert fresh.control.counters()["max_in_flight"] == 1
    fresh.control.faults()
    tapkit.assert_sessions_closed(fresh)


def test_max_requests_per_minute_limits_the_request_rate(fresh, catalog) -> None:
    per_minute = 150  # one start every 0.4 s
    started = time.monotonic()
    # page_size 100: enough requests for the per-minute cap (what is tested) to pace them.
    run = run_tap(
        tapkit.config_for(fresh, FAULTED, max_requests_per_minute=per_minute, page_size=100),
        catalog=catalog,
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-2000:]
    sent = fresh.control.counters()["requests"]  # login, entity index, lists, logout
    assert sent >= 8
    assert elapsed >= (sent - 1) * 60 / per_minute, (sent, elapsed)
    assert sent / elapsed * 60 <= per_minute * 1.05, (sent, elapsed)
    assert set(emitted_ids(run)) == truth_ids(fresh)


# --- seats ----------------------------------------------------------------------------------


def fill_seats(sim: SimulatorProcess, count: int) -> list[requests.Session]:
    sessions = []
    for _ in range(count):
        other = requests.Session()
        resp = other.post(
            sim.url + "entity/auth/login",
            timeout=10,
            json={"name": sim.credentials["username"], "password": sim.credentials["password"]},
        )
        assert resp.status_code == 204, resp.text
        sessions.append(other)
    return sessions


def free_seats(sim: SimulatorProcess, others: list[requests.Session]) -> None:
    """Log the seat-holding sessions out, then check the tap left none open either."""
    for other in others:
        other.post(sim.url + "entity/auth/logout", timeout=10)
    tapkit.assert_sessions_closed(sim)


SEAT_PHRASES = ("API Login Limit", "10 minutes", "User Types", "Users (SM201010)")


def test_seat_limit_is_explained(fresh, catalog) -> None:
    fresh.control.reset(seat_limit=2)
    others = fill_seats(fresh, 2)
    run = run_tap(tapkit.config_for(fresh, FAULTED), catalog=catalog)
    tapkit.assert_one_clear_error(run, *SEAT_PHRASES, "login_limit_wait_seconds")
    assert fresh.control.counters()["requests_by_kind"]["login"] == 3  # not retried
    free_seats(fresh, others)


def test_seat_limit_wait_gives_up_after_the_configured_time(fresh, catalog) -> None:
    fresh.control.reset(seat_limit=1)
    others = fill_seats(fresh, 1)
    started = time.monotonic()
    run = run_tap(tapkit.config_for(fresh, FAULTED, login_limit_wait_seconds=3), catalog=catalog)
    elapsed = time.monotonic() - started
    tapkit.assert_one_clear_error(
        run, *SEAT_PHRASES, "none came free within login_limit_wait_seconds (3s)"
    )
    assert 3 <= elapsed < 15, elapsed
    assert "waiting up to 3s" in run.stderr
    free_seats(fresh, others)


def test_seat_limit_wait_gets_a_seat_freed_meanwhile(fresh, catalog) -> None:
    fresh.control.reset(seat_limit=2)
    others = fill_seats(fresh, 2)
    with tempfile.TemporaryDirectory() as tmp:
        command = tapkit.tap_command(
            tapkit.config_for(fresh, FAULTED, login_limit_wait_seconds=60),
            Path(tmp),
            catalog=catalog,
        )
        faultstats.add(runs=1)
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tapkit.tap_env()
        )
        # The tap has met the limit (its login was refused) and is still waiting.
        assert wait_until(lambda: fresh.control.counters()["login_failures"] >= 1, 60)
        time.sleep(0.5)
        assert proc.poll() is None, "the tap did not wait for a seat"
        others.pop().post(fresh.url + "entity/auth/logout", timeout=10)
        stdout, stderr = proc.communicate(timeout=120)
    run = tapkit.TapRun(proc.returncode, stdout, stderr)
    tapkit.parse_messages(stdout, run)
    assert run.returncode == 0, stderr[-2000:]
    assert "waiting up to 60s" in stderr
    assert set(emitted_ids(run)) == truth_ids(fresh)
    counters = fresh.control.counters()
    assert counters["login_failures"] >= 1
    others.pop().post(fresh.url + "entity/auth/logout", timeout=10)
    tapkit.assert_sessions_closed(fresh)


# --- sessions: never leaked ------------------------------------------------------------


def test_no_session_leak_after_discovery_and_normal_end(fresh, catalog) -> None:
    faultstats.add(runs=1)
    tapkit.discover(tapkit.config_for(fresh, FAULTED))
    tapkit.assert_sessions_closed(fresh)
    run = run_tap(tapkit.config_for(fresh, FAULTED), catalog=catalog)
    assert run.returncode == 0
    counters = fresh.control.counters()
    assert counters["logins"] == 2
    tapkit.assert_sessions_closed(fresh)


def test_no_session_leak_after_fatal_error_mid_stream(fresh, catalog) -> None:
    fresh.control.faults(latency_ms=40, only_kinds=["list"])
    # page_size 20: the run is still reading when the fault starts; 2 tries: it gives up soon.
    config = tapkit.config_for(fresh, FAULTED, page_size=20, max_retries=2)
    faultstats.add(runs=1)
    with tapkit.Running(config, catalog) as running:
        running.wait_for_records()
        fresh.control.faults(rate_5xx=1.0, status_5xx=502, only_kinds=["list"])
        run = running.finish(60)
    assert run.returncode == 1
    assert "HTTP 502 after 2 attempts" in run.stderr.splitlines()[-1]
    assert "Traceback" not in run.stderr
    fresh.control.faults()
    tapkit.assert_sessions_closed(fresh)


@pytest.mark.parametrize("scheme", ["Basic", "OAuthPassword"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_no_session_leak_after_signal(fresh, catalog, signum: int, scheme: str) -> None:
    fresh.control.faults(latency_ms=40, only_kinds=["list"])
    # page_size 20 and 2 connections: still reading, with requests in flight, at the signal.
    config = tapkit.config_for(fresh, FAULTED, page_size=20, max_concurrent_requests=2)
    if scheme != "Basic":
        config.update(
            auth_scheme=scheme,
            oauth_client_id=fresh.oauth_client["client_id"],
            oauth_client_secret=fresh.oauth_client["client_secret"],
        )
    faultstats.add(runs=1, signals=1)
    with tapkit.Running(config, catalog) as running:
        running.wait_for_records()
        running.proc.send_signal(signum)
        run = running.finish(60)
    assert run.returncode == 128 + signum, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    fresh.control.faults()
    counters = fresh.control.counters()
    if scheme == "Basic":
        tapkit.assert_sessions_closed(fresh)
    else:  # the token's server session is ended by a Bearer logout
        assert counters["bearer_logouts"] >= 1, counters
    assert counters["oauth_sessions_open"] == 0, counters
    assert counters["open_sessions"] == 0, counters


# --- re-authentication ---------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Basic", "OAuthPassword"])
def test_session_or_token_expiry_mid_stream_resumes_on_the_same_page(
    fresh, catalog, scheme: str
) -> None:
    extra: dict[str, t.Any] = {}
    if scheme == "OAuthPassword":
        extra = {
            "auth_scheme": scheme,
            **{
                "oauth_client_id": fresh.oauth_client["client_id"],
                "oauth_client_secret": fresh.oauth_client["client_secret"],
            },
        }
    # page_size 20: still reading when the signal comes.
    config = tapkit.config_for(fresh, FAULTED, page_size=20, **extra)
    fresh.control.faults(latency_ms=30, only_kinds=["list"])
    faultstats.add(runs=1)
    with tapkit.Running(config, catalog) as running:
        running.wait_for_records()
        fresh.control.faults(latency_ms=30, only_kinds=["list"], expire_sessions=True)
        run = running.finish(120)
    assert run.returncode == 0, run.stderr[-2000:]
    ids = emitted_ids(run)
    assert set(ids) == truth_ids(fresh)
    assert len(ids) == len(set(ids)), "records were read again from the start"
    counters = fresh.control.counters()
    if scheme == "Basic":
        assert counters["logins"] == 2  # the first and exactly one re-login
        # The expired session is gone server-side; the live one was logged out.
        assert counters["logouts"] == 1
        assert counters["open_sessions"] == 0
    else:
        assert (
            counters["tokens_issued"].get("password", 0)
            + counters["tokens_issued"].get("refresh_token", 0)
            == 2
        )
        assert counters["oauth_sessions_open"] == 0


# --- kill -9 at random points ---------------------------------------------------------------


def _parse_in_order(stdout: str) -> list[tuple[str, dict[str, t.Any]]]:
    out = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue  # a line cut by SIGKILL
        if isinstance(message, dict) and message.get("type") in ("RECORD", "STATE"):
            out.append((message["type"], message))
    return out


def _stamps(sim: SimulatorProcess) -> dict[str, str]:
    url = f"{sim.url}__control/truth/Customer?version={quote(VERSION)}"
    with urllib.request.urlopen(url, timeout=120) as response:
        rows = json.loads(response.read())
    return {r["id"]: tapkit.utc_text(r["LastModifiedDateTime"]["value"]) for r in rows}


def _kill_after_records(proc: subprocess.Popen, out: Path, target: int | None) -> bool:
    """SIGKILL ``proc`` once ``out`` holds ``target`` RECORD lines; False if it ended first."""
    if target is None:
        return False
    seen = 0
    deadline = time.monotonic() + 120
    with out.open("rb") as reader:
        while proc.poll() is None and time.monotonic() < deadline:
            chunk = reader.read()
            seen += chunk.count(b'"type":"RECORD"')
            if seen >= target:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.005)
    return False


@pytest.mark.simulator(
    sizes={"Customer": 3000},
    default_size=5,
    versions=[VERSION],
    seat_limit=4,
    session_idle_seconds=4,
)
def test_kill_9_at_seeded_random_points_loses_nothing(sim: SimulatorProcess) -> None:
    rng = random.Random(20240607)
    runs_wanted = 20
    # kill -9 leaves the run's session open (nothing can log out of a SIGKILL): with idle
    # sessions expiring after 4 s and 4 seats, later runs meet the API Login Limit and
    # must wait for a seat (login_limit_wait_seconds), as a nightly restart would.
    # page_size 150 and 2 connections: runs long enough to overlap; the seat wait
    # (default 0: fail at once) is what is tested.
    config = tapkit.config_for(
        sim, FAULTED, page_size=150, max_concurrent_requests=2, login_limit_wait_seconds=60
    )
    faultstats.add(runs=1)
    catalog = tapkit.select(tapkit.discover(config), ["Customer"])
    live = {
        "latency_ms": 25,
        "only_kinds": ["list"],
        "live_mutation": {"entity": "Customer", "every": 4, "update": 3, "insert": 1},
    }
    sim.control.faults(**live)
    state: dict[str, t.Any] | None = None
    emitted: dict[str, set[str]] = {}  # id -> stamps of the versions emitted so far
    violations: list[str] = []
    kills = finished_runs = 0
    injected_total = 0
    for number in range(runs_wanted + 1):
        truth = _stamps(sim)
        last = number == runs_wanted
        with tempfile.TemporaryDirectory() as tmp:
            command = tapkit.tap_command(config, Path(tmp), catalog=catalog, state=state)
            out = Path(tmp) / "out"
            target = None if last else rng.randint(1, 300)  # records before kill -9
            with (
                out.open("w") as sink,
                subprocess.Popen(
                    command,
                    stdout=sink,
                    stderr=subprocess.PIPE,
                    env=tapkit.tap_env(),
                ) as proc,
            ):
                if not _kill_after_records(proc, out, target):
                    proc.wait(timeout=120)
                else:
                    kills += 1
                stderr = proc.stderr.read().decode() if proc.stderr else ""
            stdout = out.read_text()
        faultstats.add(runs=1)
        after = _stamps(sim)
        # Records changed while the run read (live mutation) may rightly wait for the
        # next run; the final check below covers them.
        stable = {rid: stamp for rid, stamp in truth.items() if after.get(rid) == stamp}
        if proc.returncode == 0:
            finished_runs += 1
        else:
            assert proc.returncode == -signal.SIGKILL, stderr[-2000:]
        for kind, message in _parse_in_order(stdout):
            if kind == "RECORD":
                record = message["record"]
                emitted.setdefault(record["id"], set()).add(record["LastModifiedDateTime"])
                continue
            state = message["value"]
            bookmark = state["bookmarks"]["Customer"].get("replication_key_value")
            if not bookmark:
                continue
            # Nothing at or below the bookmark may still be missing from the output.
            missing = [
                rid
                for rid, stamp in stable.items()
                if stamp <= bookmark and stamp not in emitted.get(rid, set())
            ]
            if missing:
                violations.append(
                    f"run {number}: bookmark {bookmark} passes "
                    f"{len(missing)} unemitted records, e.g. {missing[:3]}"
                )
        if not last:
            sim.control.mutate("Customer", update=rng.randint(50, 300), insert=rng.randint(0, 10))
        else:
            assert proc.returncode == 0, stderr[-2000:]
        if number == runs_wanted - 1:
            injected = sim.control.counters().get("faults_injected", {})
            injected_total = sum(injected.values())
            sim.control.faults()
            time.sleep(1.05)  # the final run's snapshot must include the last mutation
    final = _stamps(sim)
    lost = [rid for rid, stamp in final.items() if stamp not in emitted.get(rid, set())]
    faultstats.add(kills=kills, records_lost=len(lost), faults_injected=injected_total)
    print(
        f"kill -9: {runs_wanted + 1} runs, {kills} killed, {finished_runs} finished, "
        f"{injected_total} live mutations, {len(final)} records, lost {len(lost)}"
    )
    assert kills >= runs_wanted // 2, "too few runs were killed mid-stream"
    assert not violations, violations[:5]
    assert lost == [], lost[:5]


# --- bad input --------------------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_tls_failure_is_one_line_and_verification_stays_on(fresh, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/AcumaticaERP"
        started = time.monotonic()
        run = run_tap(tapkit.config_for(fresh, FAULTED, url=url), extra=["--discover"], timeout=60)
        tapkit.assert_one_clear_error(run, "TLS/SSL failure", "127.0.0.1", "ca_bundle")
        assert time.monotonic() - started < 20  # not retried: a certificate will not heal
        assert "retry" not in run.stderr
    finally:
        server.shutdown()


def test_disabling_tls_verification_logs_a_warning(fresh) -> None:
    run = run_tap(tapkit.config_for(fresh, FAULTED, verify_ssl=False), extra=["--discover"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "TLS certificate verification is DISABLED" in run.stderr
    quiet = run_tap(tapkit.config_for(fresh, FAULTED), extra=["--discover"])
    assert "DISABLED" not in quiet.stderr


BAD_CONFIG: dict[str, tuple[dict[str, t.Any], list[str]]] = {
    "wrong password": (
        {"password": "Not-The-Passw0rd"},
        ["Invalid credentials", "Check 'username', 'password'"],
    ),
    "wrong tenant": ({"company": "NoSuchTenant"}, ["tenant 'NoSuchTenant' does not exist"]),
    "unreachable host": (
        {"url": "http://127.0.0.1:9/AcumaticaERP", "max_retries": 3},
        [
            "login: cannot reach http://127.0.0.1:9/AcumaticaERP/",
            "Connection refused",
            "after 3 attempts",
        ],
    ),
    "wrong path (HTML login page)": (
        {"url": "{root}/NotAcumatica"},
        ["answered an HTML page", "instance path"],
    ),
    "wrong path (404)": ({"url": "{url}nested/deeper"}, ["HTTP 404", "Check 'url'"]),
    "endpoint version not served": (
        {"endpoint_version": "17.200.001"},
        ["not served", "20.200.001, 24.200.001"],
    ),
    "unknown entity": (
        {"entities": ["Customer", "NoSuchThing"]},
        ["Unknown entity in 'entities': NoSuchThing"],
    ),
    "missing url": ({"url": None}, ["Invalid config", "'url' is a required property"]),
    "url not http": ({"url": "ftp://example.com/x"}, ["must be an http(s) URL"]),
    "wrong type": ({"page_size": "ten"}, ["Invalid config", "page_size"]),
    "invalid start_date": (
        {"start_date": "last tuesday"},
        ["'start_date' is not an ISO 8601 date-time"],
    ),
    "impossible start_date": ({"start_date": "2024-13-45"}, ["start_date"]),
    "negative backoff": ({"backoff_factor": -1}, ["'backoff_factor' must be a number >= 0"]),
    "credentials in url": ({"url": "{userinfo_url}"}, ["must not contain credentials"]),
}


# 'entities' limits discovery; a sync reads the catalog's streams, so "unknown entity" is
# a discovery-time error only.
CASES = [
    (name, mode)
    for mode in ("discover", "sync")
    for name in BAD_CONFIG
    if not (mode == "sync" and name == "unknown entity")
]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_bad_config_is_one_clear_line(fresh, catalog, name: str, mode: str) -> None:
    overrides, phrases = BAD_CONFIG[name]
    root = fresh.url.split("/AcumaticaERP/")[0]
    userinfo = fresh.url.replace("http://", f"http://admin:{fresh.credentials['password']}@")
    resolved = {
        k: v.format(url=fresh.url, root=root, userinfo_url=userinfo) if isinstance(v, str) else v
        for k, v in overrides.items()
    }
    config = tapkit.config_for(fresh, FAULTED, **resolved)
    if overrides.get("url", "") is None:
        config.pop("url", None)
    extra = ["--discover"] if mode == "discover" else []
    started = time.monotonic()
    run = run_tap(config, extra=extra, catalog=catalog if mode == "sync" else None, timeout=60)
    line = tapkit.assert_one_clear_error(run, *phrases)
    assert time.monotonic() - started < 20
    assert fresh.credentials["password"] not in run.stderr + run.stdout
    assert "Not-The-Passw0rd" not in line
    tapkit.assert_sessions_closed(fresh)


def test_server_answering_non_json_at_discovery(fresh) -> None:
    fresh.control.faults(rate_bad_body=1.0, bad_body="text", only_kinds=["entity_index"])
    run = run_tap(tapkit.config_for(fresh, FAULTED, max_retries=2), extra=["--discover"])
    tapkit.assert_one_clear_error(run, "List of endpoints", "not valid JSON after 2 attempts")
    fresh.control.faults()
    tapkit.assert_sessions_closed(fresh)


BAD_FILES: dict[str, tuple[str, str, list[str]]] = {
    "config not JSON": ("config", '{"url": "x",', ["config file", "is not valid JSON", "line 1"]),
    "config a list": ("config", "[1, 2]", ["must hold a JSON object, not list"]),
    "catalog not JSON": ("catalog", '{"streams": [', ["catalog file", "not valid JSON"]),
    "catalog a list": ("catalog", "[]", ["catalog file", "must hold a JSON object"]),
    "catalog without streams": ("catalog", '{"streams": "x"}', ["needs a 'streams' list"]),
    "catalog entry broken": (
        "catalog",
        '{"streams": [{"tap_stream_id": "Customer"}]}',
        ["streams[0] (Customer)", "missing schema"],
    ),
    "state not JSON": ("state", "{bookmarks", ["state file", "not valid JSON"]),
    "state a list": ("state", '["x"]', ["state file", "must hold a JSON object"]),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_malformed_file_is_one_clear_line(fresh, catalog, tmp_path: Path, name: str) -> None:
    which, text, phrases = BAD_FILES[name]
    config = tapkit.config_for(fresh, FAULTED)
    paths = {
        "config": tapkit.write_json(tmp_path, "config.json", config),
        "catalog": tapkit.write_json(tmp_path, "catalog.json", catalog),
        "state": tapkit.write_json(tmp_path, "state.json", {}),
    }
    paths[which].write_text(text)
    command = [
        tapkit.TAP,
        "--config",
        str(paths["config"]),
        "--catalog",
        str(paths["catalog"]),
        "--state",
        str(paths["state"]),
    ]
    faultstats.add(runs=1)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=tapkit.tap_env(), check=False
    )
    run = tapkit.TapRun(done.returncode, done.stdout, done.stderr)
    tapkit.assert_one_clear_error(run, str(paths[which]), *phrases)
    assert fresh.credentials["password"] not in done.stderr
    assert fresh.control.counters()["logins"] == 0  # failed before touching the ERP


# --- secrets ----------------------------------------------------------------------------


def _secret_config(sim: SimulatorProcess, scheme: str) -> dict[str, t.Any]:
    if scheme == "Basic":
        return tapkit.config_for(sim, FAULTED, page_size=50)  # not 100: more requests to log
    return tapkit.config_for(sim, FAULTED, tapkit.oauth_settings(sim, scheme), page_size=50)


@pytest.mark.parametrize("scheme", ["Basic", "OAuthPassword"])
def test_no_secret_in_any_output_at_debug(fresh, scheme: str) -> None:
    config = _secret_config(fresh, scheme)
    faultstats.add(runs=1)
    found = tapkit.run_tap(config, extra=["--discover"], log_level="DEBUG")
    assert found.returncode == 0, found.stderr[-2000:]
    catalog = tapkit.select(json.loads(found.stdout), ["Customer"])
    # Faults make the tap log retries (with response bodies) and sign in again.
    fresh.control.faults(
        rate_429=0.2, retry_after=0, rate_5xx=0.1, fault_seed=3, only_kinds=["list"]
    )
    run = run_tap(config, catalog=catalog, log_level="DEBUG")
    assert run.returncode == 0, run.stderr[-2000:]
    fresh.control.faults(expire_sessions=True)
    again = run_tap(config, catalog=catalog, log_level="DEBUG")
    assert again.returncode == 0, again.stderr[-2000:]
    output = "\n".join(r.stdout + r.stderr for r in (found, run, again))
    assert "DEBUG" in output  # the level really was DEBUG
    issued = fresh.control.issued_secrets()
    assert issued, "the simulator handed out no secrets?"
    secrets = [config["password"], *issued]
    if scheme != "Basic":
        secrets.append(config["oauth_client_secret"])
        assert fresh.control.counters()["tokens_issued"].get("password", 0) >= 2
    leaked = [s for s in secrets if s in output]
    assert leaked == [], f"{len(leaked)} secrets leaked"
    assert ".ASPXAUTH=" not in output
    assert "Bearer " not in output


def test_secret_in_an_error_message_is_redacted(fresh) -> None:
    # The server echoes the tenant name in its error; make that name the password.
    password = fresh.credentials["password"]
    run = run_tap(tapkit.config_for(fresh, FAULTED, company=password), extra=["--discover"])
    line = tapkit.assert_one_clear_error(run, "does not exist")
    assert password not in run.stderr + run.stdout
    assert "'***'" in line


def test_secret_in_a_config_error_is_redacted(fresh, catalog) -> None:
    # A wrong-typed value is quoted by schema validation; it must still not appear.
    run = run_tap(tapkit.config_for(fresh, FAULTED, password=["S3cr3t-In-A-List"]), catalog=catalog)
    tapkit.assert_one_clear_error(run, "Invalid config")
    assert "S3cr3t-In-A-List" not in run.stderr + run.stdout
