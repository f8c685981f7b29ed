"""How the tap signs in to Acumatica: one authenticator per ``auth_scheme``.

- :mod:`.base`: the life cycle every authenticator shares (open / apply / reauthenticate /
  close), driven by the run's ``AcumaticaClient``;
- :mod:`.basic`: the contract-based API's login session, and HTTP Basic for OData;
- :mod:`.oauth`: the OAuth 2 Bearer authenticators;
- :mod:`.endpoint`: the OAuth 2 token endpoint (one call, one clear error);
- :mod:`.tokens`: the token file that keeps rotated refresh tokens, and its lock;
- :mod:`.cli`: ``tap-acumatica-auth``, which authorizes the tap once in a browser.

:func:`build_authenticator` is the one place that maps the config to an authenticator.
"""

from __future__ import annotations

from tap_acumatica.auth.base import AcumaticaAuth
from tap_acumatica.auth.basic import HTTPBasic, LoginSession
from tap_acumatica.auth.oauth import OAuthImplicit, OAuthPassword, OAuthRefresh
from tap_acumatica.errors import ConfigError
from tap_acumatica.settings import Settings

__all__ = ["AcumaticaAuth", "build_authenticator"]


def build_authenticator(settings: Settings) -> AcumaticaAuth:
    """The authenticator for ``auth_scheme`` (OData, GI or DAC, has no login session)."""
    scheme = settings.auth_scheme
    if scheme == "Basic":
        if settings.schema in ("OData", "DAC"):
            return HTTPBasic(settings)
        return LoginSession(settings)
    if scheme == "OAuthPassword":
        return OAuthPassword(settings)
    if scheme == "OAuth":
        return OAuthRefresh(settings)
    if scheme == "OAuthImplicit":
        return OAuthImplicit(settings)
    raise ConfigError(f"Unknown auth_scheme {scheme!r}.")
