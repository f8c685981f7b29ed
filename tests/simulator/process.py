"""Run the simulator in a child process (never in the test process: the GIL would distort
timings and the tap's signal handling) and talk to its control API."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

from .state import DEFAULTS

REPO_ROOT = Path(__file__).resolve().parents[2]


class ControlClient:
    """A small urllib client for ``<url>__control/*``."""

    def __init__(self, url: str) -> None:
        self.base = url.rstrip("/") + "/__control/"
        #: Options ``reset`` overlays on the process's startup options before its own
        #: (those of ``SimulatorProcess.configure``).
        self.configured: dict = {}

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"control {method} {path}: {exc.code} {exc.read()!r}") from exc

    def health(self) -> dict:
        return self._call("GET", "health")

    def counters(self) -> dict:
        return self._call("GET", "counters")

    def requests(self, kind: str | None = None) -> list[dict]:
        """The latest requests the simulator served (oldest first), optionally of one kind."""
        return self._call("GET", "requests" + (f"?kind={quote(kind)}" if kind else ""))

    def issued_secrets(self) -> list[str]:
        """Every cookie value, access/refresh token and authorization code handed out."""
        return self._call("GET", "issued-secrets")

    def clock(self) -> dict:
        return self._call("GET", "clock")

    def truth(
        self,
        entity: str,
        expand: str = "",
        custom: bool = False,
        version: str | None = None,
        archived: bool = False,
    ) -> list[dict]:
        """Every current record; archived ones (option ``archive``) only with ``archived``."""
        params = {"expand": expand, "custom": "1" if custom else ""}
        if archived:
            params["archived"] = "1"
        if version:
            params["version"] = version
        return self._call("GET", f"truth/{quote(entity)}?{urlencode(params)}")

    def mutate(
        self,
        entity: str,
        update: int = 0,
        insert: int = 0,
        version: str | None = None,
        commit_after_seconds: float = 0,
    ) -> dict:
        """Change rows now; with ``commit_after_seconds`` a long transaction (stamped now,
        visible only that much later; inserted ids are known once it commits)."""
        body: dict = {"entity": entity, "update": update, "insert": insert}
        if version:
            body["version"] = version
        if commit_after_seconds:
            body["commit_after_seconds"] = commit_after_seconds
        return self._call("POST", "mutate", body)

    def transactions(self) -> list[dict]:
        """Every REST ``mutate`` transaction: ids, stamp, commit time, committed or not."""
        return self._call("GET", "transactions")

    def delete(self, entity: str, count: int = 1, version: str | None = None) -> dict:
        """Delete ``count`` records of ``entity`` -> {"deleted": [ids]}."""
        body: dict = {"entity": entity, "count": count}
        if version:
            body["version"] = version
        return self._call("POST", "delete", body)

    def faults(self, **config) -> dict:
        """Replace the fault configuration; no arguments clears every fault."""
        return self._call("POST", "faults", config)

    def reset(self, **options) -> dict:
        """Clear all state and run with the startup options, overlaid by the configured
        ones (``SimulatorProcess.configure``), overlaid by ``options``."""
        return self._call("POST", "reset", {**self.configured, **options})

    def truth_odata(self, inquiry: str) -> list[dict]:
        return self._call("GET", f"truth-odata/{quote(inquiry)}")

    def mutate_odata(
        self, inquiry: str, update: int = 0, insert: int = 0, commit_after_seconds: float = 0
    ) -> dict:
        body: dict = {"inquiry": inquiry, "update": update, "insert": insert}
        if commit_after_seconds:
            body["commit_after_seconds"] = commit_after_seconds
        return self._call("POST", "mutate-odata", body)


class SimulatorProcess:
    """``with SimulatorProcess(sizes={"Customer": 3000}) as sim: sim.url, sim.control...``"""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 60, **options
    ) -> None:
        self.host, self.port = host, port
        self.startup_options = dict(options)
        #: The options the simulator runs with (the startup ones, or ``configure``'s).
        self.options = options
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.control: ControlClient
        self._options_file: str | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _option(self, name: str):
        return self.options.get(name) or DEFAULTS[name]

    @property
    def credentials(self) -> dict:
        """Login of the simulated API user (the tenant is the first configured one)."""
        return {
            "username": self._option("username"),
            "password": self._option("password"),
            "company": self._option("tenants")[0],
        }

    @property
    def oauth_client(self) -> dict:
        """The first configured OAuth client: {"client_id", "client_secret"}."""
        client_id, secret = next(iter(self._option("oauth_clients").items()))
        return {"client_id": client_id, "client_secret": secret}

    def configure(self, **options) -> SimulatorProcess:
        """Run on as though started with ``options`` (over the startup ones, which the
        shared test simulator has none of): all state starts afresh (data, counters,
        faults, sessions, transactions) and a later ``control.reset(**more)`` overlays
        ``more`` on these options. Every option can change but the instance path (``url``
        and the control API live under it), and the host and port."""
        path = self.startup_options.get("instance_path", DEFAULTS["instance_path"])
        if str(options.get("instance_path", path)).strip("/") != str(path).strip("/"):
            raise ValueError("instance_path cannot change on a running simulator: start one")
        previous, self.control.configured = self.control.configured, dict(options)
        try:
            self.control.reset()
        except Exception:
            self.control.configured = previous
            raise
        self.options = {**self.startup_options, **options}
        return self

    def start(self) -> SimulatorProcess:
        fd, self._options_file = tempfile.mkstemp(prefix="acumatica-sim-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.startup_options, handle)
        cmd = [
            sys.executable,
            "-m",
            "tests.simulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--options-json",
            self._options_file,
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self._wait_ready()
        self.url = line.split(" ", 2)[2].strip()
        self.control = ControlClient(self.url)
        # Keep draining the pipes so a chatty child can never block on a full pipe.
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=_drain, args=(stream,), daemon=True).start()
        return self

    def _wait_ready(self) -> str:
        assert self.proc is not None
        assert self.proc.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.proc.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(self.startup_timeout)
        line = result[0] if result else ""
        if not line.startswith("SIMULATOR READY "):
            err = ""
            if not line:  # stdout closed: the child is exiting; collect why
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(10)
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()
            self.stop()
            raise RuntimeError(f"simulator did not start: {line!r} {err}")
        return line

    def rss_peak_kb(self) -> int:
        """VmHWM of the child: its peak resident memory."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("VmHWM not found")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._options_file:
            Path(self._options_file).unlink(missing_ok=True)
            self._options_file = None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _drain(stream) -> None:
    try:
        for _ in stream:
            pass
    except (OSError, ValueError):
        pass


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true or timeout (for tests; avoids fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
