"""Run the real ``source-acumatica`` console script and read its Airbyte messages.

As tapkit does for ``tap-acumatica``: the source runs as a subprocess, the way Airbyte's
platform and PyAirbyte run it, so exit codes, signals, stdout and stderr are the real ones.
Every stdout line must parse as an ``AirbyteMessage`` with Airbyte's own models.
"""

from __future__ import annotations

import copy
import decimal
import json
import subprocess
import sys
import tempfile
import typing as t
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from airbyte_protocol.models import AirbyteMessage

from tests import tapkit

SOURCE = str(Path(sys.executable).parent / "source-acumatica")


@dataclass
class SourceRun:
    """The parsed outcome of one ``source-acumatica`` command."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, t.Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, t.Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def records(self) -> dict[str, list[dict[str, t.Any]]]:
        out: dict[str, list[dict[str, t.Any]]] = {}
        for m in self.of("RECORD"):
            out.setdefault(m["record"]["stream"], []).append(m["record"]["data"])
        return out

    def count(self, stream: str) -> int:
        return len(self.records.get(stream, []))

    @property
    def states(self) -> list[dict[str, t.Any]]:
        """The STATE messages, as written."""
        return [m["state"] for m in self.of("STATE")]

    @property
    def final_state(self) -> list[dict[str, t.Any]]:
        """What the platform keeps and passes back with ``--state``: the last STATE of
        each stream."""
        last: dict[str, dict[str, t.Any]] = {}
        for state in self.states:
            last[state["stream"]["stream_descriptor"]["name"]] = state
        return list(last.values())

    def bookmarks(self) -> dict[str, dict[str, t.Any]]:
        return {
            s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"]
            for s in self.final_state
        }

    @property
    def statuses(self) -> list[tuple[str, str]]:
        return [
            (
                m["trace"]["stream_status"]["stream_descriptor"]["name"],
                m["trace"]["stream_status"]["status"],
            )
            for m in self.of("TRACE")
            if m["trace"]["type"] == "STREAM_STATUS"
        ]

    @property
    def errors(self) -> list[dict[str, t.Any]]:
        return [m["trace"]["error"] for m in self.of("TRACE") if m["trace"]["type"] == "ERROR"]

    @property
    def logs(self) -> list[dict[str, t.Any]]:
        return [m["log"] for m in self.of("LOG")]

    @property
    def connection_status(self) -> dict[str, t.Any]:
        [message] = self.of("CONNECTION_STATUS")
        return t.cast("dict[str, t.Any]", message["connectionStatus"])

    @property
    def catalog(self) -> dict[str, t.Any]:
        [message] = self.of("CATALOG")
        return t.cast("dict[str, t.Any]", message["catalog"])


def parse(stdout: str) -> list[dict[str, t.Any]]:
    """Every line of ``stdout`` as a message; each must be a valid ``AirbyteMessage``."""
    messages = []
    for line in stdout.splitlines():
        AirbyteMessage.model_validate_json(line)  # raises on anything but a protocol message
        messages.append(json.loads(line, parse_float=decimal.Decimal))
    return messages


def source_command(
    command: str,
    workdir: Path,
    *,
    config: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
    state: t.Any = None,
) -> list[str]:
    args = [SOURCE, command]
    if config is not None:
        args += ["--config", str(tapkit.write_json(workdir, "config.json", config))]
    if catalog is not None:
        args += ["--catalog", str(tapkit.write_json(workdir, "catalog.json", catalog))]
    if state is not None:
        args += ["--state", str(tapkit.write_json(workdir, "state.json", state))]
    return args


def run_source(
    command: str,
    *,
    config: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
    state: t.Any = None,
    log_level: str = "INFO",
    timeout: float = 300,
) -> SourceRun:
    with tempfile.TemporaryDirectory() as tmp:
        args = source_command(command, Path(tmp), config=config, catalog=catalog, state=state)
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=tapkit.tap_env(log_level),
            check=False,
        )
    return SourceRun(done.returncode, done.stdout, done.stderr, parse(done.stdout))


def discover(config: dict[str, t.Any]) -> dict[str, t.Any]:
    run = run_source("discover", config=config)
    assert run.returncode == 0, (run.errors, run.stderr[-2000:])
    return run.catalog


def configure(
    catalog: dict[str, t.Any],
    streams: t.Collection[str],
    sync_mode: str = "incremental",
    cursor: t.Mapping[str, list[str]] | None = None,
) -> dict[str, t.Any]:
    """A configured catalog of ``streams`` (as the platform writes one): each stream as
    discovered, ``sync_mode``, the default cursor unless ``cursor`` names one."""
    chosen = []
    for stream in catalog["streams"]:
        if stream["name"] not in streams:
            continue
        entry: dict[str, t.Any] = {
            "stream": copy.deepcopy(stream),
            "sync_mode": sync_mode,
            "destination_sync_mode": "append_dedup",
        }
        path = (cursor or {}).get(stream["name"], stream.get("default_cursor_field"))
        if path:
            entry["cursor_field"] = path
        if stream.get("source_defined_primary_key"):
            entry["primary_key"] = stream["source_defined_primary_key"]
        chosen.append(entry)
    assert {c["stream"]["name"] for c in chosen} == set(streams)
    return {"streams": chosen}


def nested_properties(stream: dict[str, t.Any]) -> list[str]:
    """The detail collections and linked entities an Airbyte stream reads (expanded)."""
    return [
        name
        for name, prop in stream["json_schema"]["properties"].items()
        if name != "files"
        and (
            "properties" in prop
            or (isinstance(prop.get("items"), dict) and "properties" in prop["items"])
        )
    ]


def rest_truth(sim: t.Any, stream: dict[str, t.Any], version: str) -> dict[str, dict[str, t.Any]]:
    """The simulator's records of an Airbyte stream, by id, as the tap must emit them:
    values unwrapped, date-times in UTC, decimals exact, with the detail collections and
    linked entities its schema holds (computed independently of the tap)."""
    query = urlencode({"expand": ",".join(nested_properties(stream)), "version": version})
    url = f"{sim.url}__control/truth/{quote(stream['name'])}?{query}"
    with urllib.request.urlopen(url, timeout=120) as response:
        rows = json.loads(response.read(), parse_float=decimal.Decimal)
    dates = tapkit.date_fields_of(stream["json_schema"])
    return {r["id"]: without_row_numbers(tapkit.unwrap(r, dates)) for r in rows}


def without_row_numbers(value: t.Any) -> t.Any:
    """``rowNumber`` is a position in one response, at every level: left out."""
    if isinstance(value, dict):
        return {k: without_row_numbers(v) for k, v in value.items() if k != "rowNumber"}
    if isinstance(value, list):
        return [without_row_numbers(v) for v in value]
    return value
