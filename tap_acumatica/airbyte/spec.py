"""The Airbyte connector specification: the Singer tap's own settings, in Airbyte's dialect.

``connectionSpecification`` is the tap's config schema (:data:`CONFIG_SCHEMA`, whose
defaults come from :class:`~tap_acumatica.settings.Settings`, the one place a default is
written), with what Airbyte expects of a spec:

- JSON Schema draft-07 (what Airbyte's platform and connectors validate with);
- one type per setting (``["string", "null"]`` becomes ``"string"``): Airbyte's form
  renders single types, and a setting left out takes its default either way;
- secrets (:data:`~tap_acumatica.settings.SECRET_SETTINGS`) marked ``airbyte_secret``, so
  the platform stores them as secrets and masks them in its UI and logs;
- settings that only mean something to a Singer target left out
  (``emit_activate_version_messages``: in Airbyte the destination's sync mode decides
  whether rows gone from a full table are removed).
"""

from __future__ import annotations

import copy
import typing as t

from tap_acumatica.config_schema import CONFIG_SCHEMA
from tap_acumatica.settings import SECRET_SETTINGS

#: Singer-only settings (see the module docstring).
SINGER_ONLY = ("emit_activate_version_messages",)


def _single_type(prop: dict[str, t.Any]) -> None:
    kinds = prop.get("type")
    if isinstance(kinds, list):
        kinds = [k for k in kinds if k != "null"]
        prop["type"] = kinds[0] if len(kinds) == 1 else kinds
    for inner in ("items", "additionalProperties"):
        if isinstance(prop.get(inner), dict):
            _single_type(prop[inner])


def connection_specification() -> dict[str, t.Any]:
    """The tap's settings as an Airbyte ``connectionSpecification``."""
    schema = copy.deepcopy(CONFIG_SCHEMA)
    properties: dict[str, dict[str, t.Any]] = schema["properties"]
    for name in SINGER_ONLY:
        properties.pop(name, None)
    for name, prop in properties.items():
        _single_type(prop)
        if name in SECRET_SETTINGS:
            prop["airbyte_secret"] = True
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Acumatica ERP (tap-acumatica)",
        "type": "object",
        "required": list(schema.get("required", [])),
        "additionalProperties": True,
        "properties": properties,
    }
