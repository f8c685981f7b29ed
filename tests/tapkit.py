"""Run the real tap CLI against the simulator and read its Singer output.

Tests drive ``tap-acumatica`` as a subprocess, the way Meltano and schedulers do, so that
signals, exit codes, stderr and logouts are exercised for real.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

TAP = str(Path(sys.executable).parent / "tap-acumatica")


@dataclass
class TapRun:
    """The parsed outcome of one tap run."""

    returncode: int
    stdout: str
    stderr: str
    records: dict[str, list[dict[str, t.Any]]] = field(default_factory=dict)
    schemas: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    states: list[dict[str, t.Any]] = field(default_factory=list)

    @property
    def last_state(self) -> dict[str, t.Any] | None:
        return self.states[-1] if self.states else None

    def count(self, stream: str) -> int:
        return len(self.records.get(stream, []))


def parse_messages(stdout: str, run: TapRun) -> None:
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line, parse_float=decimal.Decimal)
        except ValueError:
            # A line cut by SIGKILL: the target would drop it too.
            continue
        if not isinstance(message, dict):
            continue
        kind = message.get("type")
        if kind == "RECORD":
            run.records.setdefault(message["stream"], []).append(message["record"])
        elif kind == "SCHEMA":
            run.schemas[message["stream"]] = message["schema"]
        elif kind == "STATE":
            run.states.append(message["value"])


def write_json(directory: Path, name: str, data: t.Any) -> Path:
    path = directory / name
    path.write_text(json.dumps(data, default=str))
    return path


def tap_command(
    config: dict[str, t.Any],
    workdir: Path,
    *,
    catalog: dict | None = None,
    state: dict | None = None,
    extra: t.Sequence[str] = (),
) -> list[str]:
    command = [TAP, "--config", str(write_json(workdir, "config.json", config))]
    if catalog is not None:
        command += ["--catalog", str(write_json(workdir, "catalog.json", catalog))]
    if state is not None:
        command += ["--state", str(write_json(workdir, "state.json", state))]
    return [*command, *extra]


def tap_env(log_level: str = "INFO") -> dict[str, str]:
    env = dict(os.environ)
    env["TAP_ACUMATICA_LOGLEVEL"] = log_level
    env["LOGLEVEL"] = log_level
    return env


def run_tap(
    config: dict[str, t.Any],
    *,
    catalog: dict | None = None,
    state: dict | None = None,
    extra: t.Sequence[str] = (),
    timeout: float = 300,
    log_level: str = "INFO",
) -> TapRun:
    with tempfile.TemporaryDirectory() as tmp:
        command = tap_command(config, Path(tmp), catalog=catalog, state=state, extra=extra)
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=tap_env(log_level),
            check=False,
        )
    run = TapRun(done.returncode, done.stdout, done.stderr)
    parse_messages(done.stdout, run)
    return run


def discover(config: dict[str, t.Any]) -> dict[str, t.Any]:
    run = run_tap(config, extra=["--discover"])
    assert run.returncode == 0, run.stderr[-3000:]
    return t.cast("dict[str, t.Any]", json.loads(run.stdout))


def select(
    catalog: dict[str, t.Any],
    streams: t.Collection[str],
    fields: t.Mapping[str, t.Collection[str]] | None = None,
) -> dict[str, t.Any]:
    """A copy of ``catalog`` holding ``streams``, selected (with extra properties like
    ``Details`` selected); the catalog given is left as it was."""
    fields = fields or {}
    chosen = []
    for entry in copy.deepcopy(catalog["streams"]):
        if entry["tap_stream_id"] not in streams:
            continue
        for md in entry["metadata"]:
            if md["breadcrumb"] == [] or (
                len(md["breadcrumb"]) == 2
                and md["breadcrumb"][1] in fields.get(entry["tap_stream_id"], ())
            ):
                md["metadata"]["selected"] = True
        chosen.append(entry)
    missing = set(streams) - {entry["tap_stream_id"] for entry in chosen}
    assert not missing, f"not in the catalog: {sorted(missing)}"
    return {"streams": chosen}


def run_until(
    config: dict[str, t.Any],
    *,
    catalog: dict,
    state: dict | None,
    stop_after_states: int,
    timeout: float = 120,
) -> TapRun:
    """Run the tap and SIGKILL it once it has written ``stop_after_states`` STATE lines."""
    with tempfile.TemporaryDirectory() as tmp:
        command = tap_command(config, Path(tmp), catalog=catalog, state=state)
        out_path = Path(tmp) / "out.jsonl"
        with (
            out_path.open("w") as out,
            subprocess.Popen(
                command, stdout=out, stderr=subprocess.PIPE, text=True, env=tap_env()
            ) as proc,
        ):
            deadline = time.monotonic() + timeout
            killed = False
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
                if out_path.read_text().count('"type":"STATE"') >= stop_after_states:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
            if proc.poll() is None and not killed:
                proc.kill()
            proc.wait()
            stderr = proc.stderr.read() if proc.stderr else ""
        run = TapRun(proc.returncode, out_path.read_text(), stderr)
    parse_messages(run.stdout, run)
    return run


REST_VERSION = "20.200.001"
#: Top-level entities (streams) of each bundled Default swagger (issue 3's figures).
ENTITY_COUNTS = {
    "17.200.001": 81,
    "18.200.001": 105,
    "20.200.001": 105,
    "22.200.001": 119,
    "23.200.001": 117,
    "24.200.001": 119,
}


#: Not the default backoff_factor (1 s): a retried request (an injected fault, a dropped
#: connection) waits ~10 ms instead of seconds; the retry logic is the same, only the waits
#: are shorter (test_tap_faults checks the default's waits).
QUICK_RETRIES: dict[str, t.Any] = {"backoff_factor": 0.01}


def config_for(sim: t.Any, *layers: t.Mapping[str, t.Any], **settings: t.Any) -> dict[str, t.Any]:
    """The tap's config for simulator ``sim``: its url and credentials, otherwise the
    defaults users get, except that REST (no ``schema``, or ``schema="REST"``) names the
    endpoint ``REST_VERSION``. ``layers`` (a module's common settings, ``QUICK_RETRIES``)
    then ``settings`` override, in order; a None value drops the setting
    (``endpoint_version=None``: the tap's default)."""
    config: dict[str, t.Any] = {"url": sim.url, **sim.credentials}
    for layer in (*layers, settings):
        config.update(layer)
    if config.get("schema", "REST") == "REST":
        config.setdefault("endpoint_version", REST_VERSION)
    return {k: v for k, v in config.items() if v is not None}


def oauth_settings(sim: t.Any, scheme: str = "OAuthPassword") -> dict[str, t.Any]:
    """The settings of an OAuth ``scheme`` (a ``config_for`` layer) with ``sim``'s first
    OAuth client; only OAuthPassword keeps the username and password."""
    client = sim.oauth_client
    settings: dict[str, t.Any] = {
        "auth_scheme": scheme,
        "oauth_client_id": client["client_id"],
        "oauth_client_secret": client["client_secret"],
    }
    if scheme != "OAuthPassword":
        settings.update(username=None, password=None)
    return settings


def emitted_by_id(records: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Emitted records by id, without ``rowNumber`` (a position in one response)."""
    out = {}
    for record in records:
        record = dict(record)
        record.pop("rowNumber", None)
        out[record["id"]] = record
    return out


ERROR_PREFIX = "tap-acumatica: error: "


def assert_one_clear_error(run: TapRun, *phrases: str) -> str:
    """Exit code non-zero, exactly one ``tap-acumatica: error:`` line (the last one), no
    traceback, no other line at ERROR level; the line holds every phrase. Returns it."""
    assert run.returncode not in (0, None), run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert len(lines) == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    # No other line at ERROR level (e.g. the SDK's "An unhandled error occurred").
    assert "| ERROR " not in run.stderr, run.stderr[-3000:]
    assert lines[0] == run.stderr.rstrip("\n").splitlines()[-1]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def assert_sessions_closed(sim: t.Any) -> None:
    """Every login was logged out and the simulator holds no session."""
    counters = sim.control.counters()
    assert counters["open_sessions"] == 0, counters
    assert counters["logins"] == counters["logouts"], counters


class Running:
    """A tap subprocess writing to a file in its own temporary directory.

    Use as a context manager: ``wait_for_records()`` blocks until it emits, ``finish()``
    collects the run; leaving the block early (a failed assertion, a timeout) kills the
    tap, so it cannot keep a licence seat on a simulator later tests share.
    """

    def __init__(self, config: dict[str, t.Any], catalog: dict) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        workdir = Path(self._tmp.name)
        self.out = workdir / "out.jsonl"
        self._sink = self.out.open("w")
        self.proc = subprocess.Popen(
            tap_command(config, workdir, catalog=catalog),
            stdout=self._sink,
            stderr=subprocess.PIPE,
            text=True,
            env=tap_env(),
        )

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self._sink.close()
        self._tmp.cleanup()

    def wait_for_records(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while '"RECORD"' not in self.out.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert '"RECORD"' in self.out.read_text(), f"no RECORD within {timeout}s"

    def finish(self, timeout: float = 120) -> TapRun:
        _, stderr = self.proc.communicate(timeout=timeout)
        self._sink.close()
        run = TapRun(self.proc.returncode, self.out.read_text(), stderr or "")
        parse_messages(run.stdout, run)
        return run


# --- ground truth, unwrapped independently of the tap's code ------------------------------

_DT = re.compile(r"^(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def utc_text(value: str) -> str:
    """Simulator date-time -> the tap's fixed UTC format, computed independently."""
    match = _DT.match(value)
    assert match, value
    head, fraction, offset = match.groups()
    offset = "+00:00" if offset in (None, "Z") else offset
    moment = dt.datetime.fromisoformat(f"{head}.{(fraction or '').ljust(6, '0')[:6]}{offset}")
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def unwrap(raw: t.Any, date_fields: t.Collection[str] = ()) -> t.Any:
    """An Acumatica record as the tap should emit it: values unwrapped, `{}` -> None."""
    if isinstance(raw, list):
        return [unwrap(item, date_fields) for item in raw]
    if not isinstance(raw, dict):
        return raw
    out: dict[str, t.Any] = {}
    for key, value in raw.items():
        if key in ("custom", "_links", "error"):
            continue
        if isinstance(value, dict) and (not value or set(value) <= {"value", "error"}):
            inner = value.get("value")
            if key in date_fields and isinstance(inner, str):
                inner = utc_text(inner)
            out[key] = inner
        elif isinstance(value, dict | list) and key != "files":
            out[key] = unwrap(value, date_fields)
        else:
            out[key] = value
    return out


def date_fields_of(schema: dict[str, t.Any]) -> set[str]:
    found: set[str] = set()

    def walk(node: dict[str, t.Any]) -> None:
        for name, prop in node.get("properties", {}).items():
            if prop.get("format") == "date-time":
                found.add(name)
            if "properties" in prop:
                walk(prop)
            if "items" in prop and isinstance(prop["items"], dict):
                walk(prop["items"])

    walk(schema)
    return found
