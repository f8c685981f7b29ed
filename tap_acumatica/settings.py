"""Settings of tap-acumatica: one frozen, typed :class:`Settings`, built once per run.

:class:`Settings` is the only place that knows a default: its field defaults are the
defaults the tap runs with, and the config JSON schema (:mod:`tap_acumatica.config_schema`)
reads its ``default=``s from :data:`DEFAULTS`, so the two cannot drift. A setting left out
(or ``null``, or an empty string for a text setting) takes the default.

The tap builds the run's Settings after the settings the pasted ``url`` implies have joined
the config (see :meth:`tap_acumatica.tap.TapAcumatica._settle_config`), and hands it to the
client, the authenticator, the services and the streams. :func:`validate_config` holds the
checks the JSON schema cannot express.
"""

from __future__ import annotations

import dataclasses
import decimal
import numbers
import typing as t

from tap_acumatica import __version__, urls
from tap_acumatica.datetimes import parse_start_date
from tap_acumatica.errors import ConfigError

AUTH_SCHEMES = ("Basic", "OAuthPassword", "OAuth", "OAuthImplicit")
SCHEMAS = ("REST", "OData", "DAC")
ODATA_URL_STYLES = ("auto", "v4", "legacy")
#: Used when ``endpoint_version`` is not set and the instance serves it (else the highest
#: version it serves; see :class:`tap_acumatica.rest.service.RestService`).
DEFAULT_ENDPOINT_VERSION = "17.200.001"

SECRET_SETTINGS = (
    "password",
    "oauth_client_secret",
    "oauth_refresh_token",
    "oauth_access_token",
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The run's settings, defaults applied (see the module docstring).

    The meaning of each setting is documented once, in the JSON schema
    (:mod:`tap_acumatica.config_schema`; docs/SETTINGS.md's settings table is generated from it).
    """

    url: str = ""
    auth_scheme: str = "Basic"
    username: str = ""
    password: str = ""
    company: str = ""
    branch: str = ""
    locale: str = ""
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    oauth_scope: str = "api offline_access"
    oauth_refresh_token: str = ""
    oauth_access_token: str = ""
    oauth_token_file: str = ""
    schema: str = "REST"
    endpoint_name: str = "Default"  # not in the JSON schema: `url` can imply it
    endpoint_version: str = ""  # "": DEFAULT_ENDPOINT_VERSION if served, else the highest
    entities: list[str] | None = None
    odata_url_style: str = "auto"  # not in the JSON schema: `url` can imply it
    dacs: list[str] | None = None
    detect_deletes: bool = False
    include_archived: bool = True
    inquiries: t.Any = None  # checked where it is used (inquiries/discovery.py)
    inquiry_parameters: t.Any = None
    inquiry_replication_keys: t.Any = None
    discover_custom_fields: bool = False
    custom_fields: t.Mapping[str, list[str]] | None = None
    start_date: str | None = None
    emit_activate_version_messages: bool = False
    page_size: int = 1000
    max_concurrent_requests: int = 1
    max_requests_per_minute: int | None = None
    settle_seconds: float = 30
    progress_interval_seconds: float = 30
    request_timeout: int = 300
    max_retries: int = 5
    backoff_factor: float = 1.0
    backoff_max_seconds: float = 60
    login_limit_wait_seconds: float = 0
    verify_ssl: bool = True
    ca_bundle: str = ""
    user_agent: str = f"tap-acumatica/{__version__}"  # not in the JSON schema (a version)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Settings:
        """Settings of a config dict: unset (missing, null, empty text) means the default."""
        values: dict[str, t.Any] = {}
        for spec in dataclasses.fields(cls):
            value = config.get(spec.name)
            if value is None or (value == "" and isinstance(spec.default, str)):
                continue
            kind = _CONVERT.get(str(spec.type))
            values[spec.name] = kind(value) if kind is not None else value
        return cls(**values)

    def secret_values(self) -> list[str]:
        """The values of the secret settings that are set (to redact from every log line)."""
        return [str(getattr(self, name)) for name in SECRET_SETTINGS if getattr(self, name)]


_CONVERT: dict[str, t.Callable[[t.Any], t.Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "int | None": int,
}

#: Every setting's default, from :class:`Settings` (read by the JSON schema).
DEFAULTS: dict[str, t.Any] = {spec.name: spec.default for spec in dataclasses.fields(Settings)}


def validate_config(config: t.Mapping[str, t.Any]) -> urls.Resolution:
    """Checks the JSON schema cannot express, each with one clear message; returns what
    ``url`` says (the settings it implies), so the tap does not work it out again."""
    if not config.get("url"):
        raise ConfigError("Setting 'url' is required (the Acumatica instance's base URL).")
    settings = Settings.from_config(config)
    scheme = settings.auth_scheme
    if scheme not in AUTH_SCHEMES:
        raise ConfigError(
            f"Setting 'auth_scheme' must be one of {', '.join(AUTH_SCHEMES)}; got {scheme!r}."
        )
    if settings.odata_url_style not in ODATA_URL_STYLES:
        raise ConfigError(
            f"Setting 'odata_url_style' must be one of {', '.join(ODATA_URL_STYLES)}; "
            f"got {settings.odata_url_style!r}."
        )
    if settings.schema not in SCHEMAS:
        raise ConfigError(
            f"Setting 'schema' must be REST, OData or DAC; got {config.get('schema')!r}."
        )
    needed = {
        "Basic": ("username", "password"),
        "OAuthPassword": ("oauth_client_id", "oauth_client_secret", "username", "password"),
        "OAuth": ("oauth_client_id", "oauth_client_secret", "oauth_refresh_token"),
        "OAuthImplicit": ("oauth_access_token",),
    }[scheme]
    missing = [name for name in needed if not config.get(name)]
    if missing and scheme == "OAuth" and not config.get("oauth_refresh_token"):
        # The refresh token may live in the token file written by an earlier run.
        missing = [m for m in missing if m != "oauth_refresh_token"]
    if missing == ["oauth_access_token"] and (
        config.get("oauth_token_file") or config.get("oauth_client_id")
    ):
        # The access token may live in the token file written by `tap-acumatica-auth`.
        missing = []
    if missing:
        raise ConfigError(f"auth_scheme {scheme} needs setting(s): {', '.join(missing)}.")
    for name in (
        "page_size",
        "max_concurrent_requests",
        "request_timeout",
        "max_retries",
        "max_requests_per_minute",
    ):
        value = config.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"Setting {name!r} must be a positive integer; got {value!r}.")
    for name in ("backoff_factor", "backoff_max_seconds", "login_limit_wait_seconds"):
        value = config.get(name)
        number = isinstance(value, numbers.Real | decimal.Decimal) and not isinstance(value, bool)
        if value is not None and (not number or value < 0):
            raise ConfigError(f"Setting {name!r} must be a number >= 0; got {value!r}.")
    parse_start_date(config.get("start_date"))
    return urls.resolve(config)
