"""Settings: one place for every default, read the same way by the schema and the code."""

from __future__ import annotations

import dataclasses

import pytest

from tap_acumatica.config_schema import CONFIG_SCHEMA
from tap_acumatica.settings import DEFAULTS, Settings

#: No JSON-schema default on purpose: the SDK would write it into the config, where it could
#: not be told from a value the user set, and `url` can imply these (issue 14).
NO_SCHEMA_DEFAULT = {"endpoint_name", "odata_url_style", "user_agent"}


def test_every_schema_default_is_the_settings_default() -> None:
    props = CONFIG_SCHEMA["properties"]
    assert set(props) == {f.name for f in dataclasses.fields(Settings)}
    for name, prop in props.items():
        if name in NO_SCHEMA_DEFAULT or DEFAULTS[name] is None:
            assert "default" not in prop, name
        elif "default" in prop:
            assert prop["default"] == DEFAULTS[name], name
    with_default = {n for n, p in props.items() if "default" in p}
    assert with_default == {
        n
        for n, v in DEFAULTS.items()
        if n not in NO_SCHEMA_DEFAULT and v not in (None, "") and n in props
    }


def test_the_effective_defaults_of_url_implied_settings() -> None:
    settings = Settings.from_config({"url": "https://erp.example.com/"})
    assert settings.endpoint_name == "Default"
    assert settings.odata_url_style == "auto"
    assert settings.user_agent.startswith("tap-acumatica/")


@pytest.mark.parametrize("unset", [None, ""])
def test_unset_text_takes_the_default(unset: str | None) -> None:
    settings = Settings.from_config({"url": "u", "auth_scheme": unset, "schema": unset})
    assert (settings.auth_scheme, settings.schema) == ("Basic", "REST")


def test_zero_is_a_value_not_unset() -> None:
    # settle_seconds 0 means "no margin"; it must not become the default 30.
    settings = Settings.from_config({"url": "u", "settle_seconds": 0, "page_size": None})
    assert settings.settle_seconds == 0
    assert settings.page_size == DEFAULTS["page_size"] == 1000


def test_numbers_are_typed_and_settings_are_frozen() -> None:
    settings = Settings.from_config({"url": "u", "backoff_max_seconds": 60, "max_retries": 3})
    assert isinstance(settings.backoff_max_seconds, float)
    assert settings.max_retries == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.page_size = 5  # type: ignore[misc]
