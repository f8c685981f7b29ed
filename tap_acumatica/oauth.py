"""OAuth 2 authenticators (OAuthPassword, OAuth, OAuthImplicit) — not implemented yet."""

from __future__ import annotations

import typing as t

from tap_acumatica.auth import AcumaticaAuth
from tap_acumatica.errors import ConfigError


def build_oauth(config: t.Mapping[str, t.Any]) -> AcumaticaAuth:
    raise ConfigError(f"auth_scheme {config.get('auth_scheme')} is not supported yet.")
