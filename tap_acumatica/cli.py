"""The ``tap-acumatica`` console entry point: checks its input files, runs the SDK's CLI,
and turns expected errors into one redacted line on stderr and exit code 1.

Kept apart from :mod:`tap_acumatica.tap` (settings and discovery) because it deals with
files and process exit, not with Acumatica.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
import typing as t
from pathlib import Path

from tap_acumatica.errors import AcumaticaError, ConfigError
from tap_acumatica.logs import install_redaction, redact_secrets, redact_text
from tap_acumatica.settings import SECRET_SETTINGS
from tap_acumatica.tap import TapAcumatica


def _option_values(argv: t.Sequence[str], name: str) -> list[str]:
    """Values of ``--name X`` / ``--name=X`` in ``argv`` (click accepts both)."""
    values = []
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(name + "="):
            values.append(arg.split("=", 1)[1])
    return values


def _load_input(kind: str, path: str) -> t.Any:
    """Read one JSON input file, or raise a one-line ConfigError (never echoing content)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"The {kind} file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The {kind} file {path} cannot be read: {exc}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"The {kind} file {path} is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"The {kind} file {path} must hold a JSON object, not {type(data).__name__}."
        )
    return data


def check_input_files(argv: t.Sequence[str]) -> None:
    """Validate --config/--catalog/--state files before the SDK parses them.

    The SDK turns a malformed file into a traceback (JSONDecodeError, or a TypeError deep
    in catalog parsing); a scheduler's log needs one line naming the file and the problem.
    Secret values found in the config are redacted from everything printed afterwards,
    including errors raised before the run's client exists.
    """
    secrets: list[str] = []
    for path in _option_values(argv, "--config"):
        if path == "ENV":
            continue
        config = _load_input("config", path)
        secrets += [str(config[k]) for k in SECRET_SETTINGS if config.get(k) not in (None, "")]
    if secrets:
        install_redaction(functools.partial(redact_secrets, secrets=secrets))
    for path in _option_values(argv, "--state"):
        _load_input("state", path)
    for path in _option_values(argv, "--catalog"):
        catalog = _load_input("catalog", path)
        streams = catalog.get("streams")
        if not isinstance(streams, list):
            raise ConfigError(
                f"The catalog file {path} is not a Singer catalog: it needs a 'streams' list "
                "(run the tap with --discover to produce one)."
            )
        for i, entry in enumerate(streams):
            if not isinstance(entry, dict):
                raise ConfigError(f"The catalog file {path}: streams[{i}] is not an object.")
            missing = [k for k in ("tap_stream_id", "schema") if k not in entry]
            if (
                missing
                or not isinstance(entry.get("schema"), dict)
                or not isinstance(entry.get("metadata", []), list)
            ):
                raise ConfigError(
                    f"The catalog file {path}: streams[{i}] "
                    f"({entry.get('tap_stream_id', '?')}) is not a catalog entry "
                    f"({'missing ' + ', '.join(missing) if missing else 'bad schema/metadata'}"
                    "). Run the tap with --discover to produce a catalog."
                )


def _fail(message: str, code: int) -> t.NoReturn:
    line = " ".join(redact_text(message).split())
    sys.stderr.write(f"tap-acumatica: error: {line}\n")
    sys.stderr.flush()
    sys.exit(code)


def main() -> None:
    """Console entry point: expected errors become one clear line and exit code 1."""
    try:
        check_input_files(sys.argv[1:])
        TapAcumatica.cli()  # click ends with SystemExit
    except AcumaticaError as exc:
        _fail(str(exc), exc.exit_code)
    except Exception as exc:  # a bug: keep the traceback (redacted) for the report
        sys.stderr.write(redact_text(traceback.format_exc()))
        _fail(
            f"unexpected {type(exc).__name__}: {exc} (please report this with the traceback above)",
            1,
        )
