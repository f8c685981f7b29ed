"""The OAuth token file and its cross-process lock.

Refresh tokens rotate: each refresh returns a new one and kills the old one, so a run keeps
the newest in a JSON file (written atomically, mode 0600) that the next run reads, and runs
sharing the file refresh one at a time under a lock on it (``<file>.lock``), each from the
newest token in it. ``tap-acumatica-auth`` writes the first token of a chain here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import typing as t
from pathlib import Path

from tap_acumatica.errors import AcumaticaAuthError, ConfigError
from tap_acumatica.settings import Settings
from tap_acumatica.urls import normalize_base_url

#: The console script that authorizes the tap (named in messages that tell users to run it).
HELPER = "tap-acumatica-auth"
#: How long a run waits for another one refreshing from the same token file.
LOCK_TIMEOUT_SECONDS = 300.0

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


def token_sha256(value: str) -> str:
    """SHA-256 (hex) of a token: how the file names the config token a chain descends
    from without storing that token."""
    return hashlib.sha256(value.encode()).hexdigest()


def default_token_file(url: str, client_id: str) -> Path:
    """``$XDG_CONFIG_HOME/tap-acumatica/tokens-<hash of url + client id>.json``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    key = token_sha256(f"{normalize_base_url(url)}|{client_id}")[:16]
    return Path(base) / "tap-acumatica" / f"tokens-{key}.json"


def token_file_for(settings: Settings) -> Path:
    """The token file of this config: ``oauth_token_file`` or the per-instance default."""
    if settings.oauth_token_file:
        return Path(os.path.expanduser(settings.oauth_token_file))
    return default_token_file(settings.url, settings.oauth_client_id)


class TokenStore:
    """The JSON file holding the newest refresh token (and the helper's implicit token).

    Fields: ``url``, ``client_id``, ``refresh_token``, ``issued_at`` (UTC, when the server
    issued it), ``config_token_sha256`` (SHA-256 of the config's ``oauth_refresh_token`` the
    stored chain descends from: while the config still holds that token, the file is newer),
    and for the implicit flow ``access_token``/``access_token_expires_at``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, t.Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"Cannot read the OAuth token file {self.path}: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(
                f"The OAuth token file {self.path} is not valid JSON; delete it and run "
                f"{HELPER} again."
            ) from None
        return data if isinstance(data, dict) else {}

    def check_writable(self) -> None:
        """Fail before a token rotates if its successor could not be saved."""
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the directory of the OAuth token file {self.path}: {exc}. "
                "Set 'oauth_token_file' to a writable path."
            ) from None
        if not os.access(directory, os.W_OK) or (
            self.path.exists() and not os.access(self.path, os.W_OK)
        ):
            raise ConfigError(
                f"The OAuth token file {self.path} is not writable; the rotated refresh token "
                "could not be saved. Set 'oauth_token_file' to a writable path."
            )

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT_SECONDS) -> t.Iterator[None]:
        """Hold an exclusive lock on the token file across processes (``<file>.lock``).

        Runs sharing one token file (schedules that overlap) refresh one at a time, each
        from the newest token in the file; a token used by one run is dead for the other.
        The OS releases the lock if the holder dies, so a killed run cannot wedge the next.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+b") as handle:
            deadline = time.monotonic() + timeout
            while not _try_lock(handle.fileno()):
                if time.monotonic() > deadline:
                    raise AcumaticaAuthError(
                        f"OAuth: another run has held the lock on the token file {self.path} "
                        f"for over {timeout:.0f}s; is a run stuck? Stop it and try again."
                    )
                time.sleep(0.05)
            try:
                yield
            finally:
                _unlock(handle.fileno())

    def save(self, **fields: t.Any) -> None:
        """Merge ``fields`` into the file: temp file (0600) + fsync + atomic rename."""
        data = self.load()
        data.update(fields)
        data = {k: v for k, v in data.items() if v is not None}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
