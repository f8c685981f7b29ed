#!/usr/bin/env python3
"""Developer entry point: needs nothing but Python 3.10+.

    python3 tasks.py demo    # simulator -> tap-acumatica -> target-jsonl, prints counts
    python3 tasks.py test    # lint (ruff), types (mypy) and the whole test suite
    python3 tasks.py bench   # the benchmark (see benchmarks/)

Each command creates (or refreshes) the project's virtual environment in `.venv` and
installs what it needs itself, so it works on a fresh machine and in CI alike.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".tasks-installed"


def _bin(name: str, env_dir: Path = VENV) -> str:
    sub = "Scripts" if os.name == "nt" else "bin"
    return str(env_dir / sub / name)


def _run(*cmd: str, **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def ensure_venv() -> None:
    """Create .venv and install the project with its dev extra when pyproject changed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (VENV / "bin" / "python").exists() and not (VENV / "Scripts").exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _run(_bin("python"), "-m", "pip", "install", "-q", "--upgrade", "pip")
    _run(_bin("python"), "-m", "pip", "install", "-q", "-e", ".[dev]")
    STAMP.write_text(digest)


def cmd_test(args: list[str]) -> None:
    ensure_venv()
    sources = ("tap_acumatica", "tests", "benchmarks", "scripts", "tasks.py")
    _run(_bin("ruff"), "check", *sources)
    _run(_bin("ruff"), "format", "--check", *sources)
    _run(_bin("mypy"))
    _run(_bin("python"), "-m", "pytest", *args)


def cmd_demo(args: list[str]) -> None:
    ensure_venv()
    _run(_bin("python"), "-m", "tests.demo", *args)


def cmd_bench(args: list[str]) -> None:
    ensure_venv()
    _run(_bin("python"), "-m", "benchmarks.run", *args)


COMMANDS = {"test": cmd_test, "demo": cmd_demo, "bench": cmd_bench}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
