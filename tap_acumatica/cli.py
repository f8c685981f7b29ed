"""The ``tap-acumatica`` console entry point: checks its input files, runs the SDK's CLI,
and turns expected errors into one redacted line on stderr and exit code 1.

Kept apart from :mod:`tap_acumatica.tap` (settings and discovery) because it deals with
files and process exit, not with Acumatica.
"""

from __future__ import annotations

import sys
import traceback
import typing as t

from tap_acumatica.errors import AcumaticaError, ConfigError
from tap_acumatica.inputs import load_json_file, redact_config_secrets
from tap_acumatica.logs import redact_text
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


def check_input_files(argv: t.Sequence[str]) -> None:
    """Validate --config/--catalog/--state files before the SDK parses them.

    The SDK turns a malformed file into a traceback (JSONDecodeError, or a TypeError deep
    in catalog parsing); a scheduler's log needs one line naming the file and the problem.
    Secret values found in the config are redacted from everything printed afterwards,
    including errors raised before the run's client exists.
    """
    for path in _option_values(argv, "--config"):
        if path != "ENV":
            redact_config_secrets(load_json_file("config", path))
    for path in _option_values(argv, "--state"):
        load_json_file("state", path)
    for path in _option_values(argv, "--catalog"):
        catalog = load_json_file("catalog", path)
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
