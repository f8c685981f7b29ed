"""The JSON files a run is handed (config, catalog, state): read once, one clear line per
problem, and the config's secret values redacted from everything printed afterwards.

Shared by the two entry points, ``tap-acumatica`` (Singer) and ``source-acumatica``
(Airbyte): a malformed file otherwise ends in a traceback deep inside the SDK or the
protocol models, and an error raised before the run's client exists must not print a
password either.
"""

from __future__ import annotations

import functools
import json
import typing as t
from pathlib import Path

from tap_acumatica.errors import ConfigError
from tap_acumatica.logs import install_redaction, redact_secrets
from tap_acumatica.settings import SECRET_SETTINGS

_JSON_KINDS: dict[type, str] = {dict: "a JSON object", list: "a JSON array"}


def load_json_file(kind: str, path: str, *, allowed: tuple[type, ...] = (dict,)) -> t.Any:
    """The JSON value in ``path``, or a one-line ConfigError (never echoing the content).

    ``allowed`` are the JSON types the file may hold (an object unless said otherwise).
    """
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
    if not isinstance(data, allowed):
        wanted = " or ".join(_JSON_KINDS[kind_] for kind_ in allowed)
        raise ConfigError(f"The {kind} file {path} must hold {wanted}, not {type(data).__name__}.")
    return data


def redact_config_secrets(config: t.Mapping[str, t.Any]) -> None:
    """Redact the config's secret values from every log line and error from now on."""
    secrets = [str(config[k]) for k in SECRET_SETTINGS if config.get(k) not in (None, "")]
    if secrets:
        install_redaction(functools.partial(redact_secrets, secrets=secrets))
