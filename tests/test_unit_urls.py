"""Every URL form users paste as ``url``: the instance root and the settings each implies.

Pure unit tests of :mod:`tap_acumatica.urls`; ``test_tap_url_forms.py`` runs a few of these
forms through the tap against the simulator.
"""

from __future__ import annotations

import pytest

from tap_acumatica.errors import ConfigError
from tap_acumatica.settings import validate_config
from tap_acumatica.urls import normalize_base_url, parse_url, resolve

ROOT = "https://erp.example.com/AcumaticaERP/"

# (pasted url, instance root, API it points at, settings it implies)
FORMS = [
    ("https://erp.example.com/AcumaticaERP", ROOT, None, {}),
    ("https://erp.example.com/AcumaticaERP/", ROOT, None, {}),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/", None, {}),
    (ROOT + "entity/", ROOT, "rest", {}),
    (ROOT + "entity/auth/login", ROOT, "rest", {}),
    (
        ROOT + "entity/Default/24.200.001/",
        ROOT,
        "rest",
        {"endpoint_name": "Default", "endpoint_version": "24.200.001"},
    ),
    (
        ROOT + "Entity/MyEndpoint/23.200.001/Customer?$top=5",
        ROOT,
        "rest",
        {"endpoint_name": "MyEndpoint", "endpoint_version": "23.200.001"},
    ),
    (
        ROOT + "entity/Default/24.200.001/swagger.json",
        ROOT,
        "rest",
        {"endpoint_name": "Default", "endpoint_version": "24.200.001"},
    ),
    # The OData URL Acumatica shows for a tenant (Power BI, Excel), and what follows it.
    (
        ROOT + "t/MyCompany/api/odata/gi/",
        ROOT,
        "gi",
        {"company": "MyCompany", "odata_url_style": "v4"},
    ),
    (
        ROOT + "T/My%20Company/API/OData/GI/$metadata",
        ROOT,
        "gi",
        {"company": "My Company", "odata_url_style": "v4"},
    ),
    (
        ROOT + "t/MyCompany/api/odata/gi/Customer%20Contacts",
        ROOT,
        "gi",
        {"company": "MyCompany", "odata_url_style": "v4"},
    ),
    (ROOT + "odata/MyCompany/", ROOT, "gi", {"company": "MyCompany", "odata_url_style": "legacy"}),
    (
        ROOT + "OData/MyCompany/BI-SalesOrders?$format=json",
        ROOT,
        "gi",
        {"company": "MyCompany", "odata_url_style": "legacy"},
    ),
    (ROOT + "odata/$metadata", ROOT, "gi", {"odata_url_style": "legacy"}),  # single tenant
    (ROOT + "odata/", ROOT, "gi", {"odata_url_style": "legacy"}),
    # DAC-based OData (schema DAC).
    (
        ROOT + "t/MyCompany/api/odata/dac/",
        ROOT,
        "dac",
        {"company": "MyCompany", "odata_url_style": "v4"},
    ),
    (
        ROOT + "ODatav4/MyCompany/$metadata",
        ROOT,
        "dac",
        {"company": "MyCompany", "odata_url_style": "legacy"},
    ),
    # Pages of the web UI.
    (ROOT + "Main?CompanyID=MyCompany&ScreenId=AR303000", ROOT, None, {"company": "MyCompany"}),
    (ROOT + "Frames/Login.aspx", ROOT, None, {}),
    (ROOT + "(W(3))/Main?ScreenId=00000000", ROOT, None, {}),
    (ROOT + "Pages/AR/AR303000.aspx", ROOT, None, {}),
    (ROOT + "Main.aspx#top", ROOT, None, {}),
    ("https://erp.example.com/identity/connect/token", "https://erp.example.com/", None, {}),
    # An instance path with an escaped character stays escaped.
    (
        "https://erp.example.com/Acumatica%20ERP/odata/Company/",
        "https://erp.example.com/Acumatica%20ERP/",
        "gi",
        {"company": "Company", "odata_url_style": "legacy"},
    ),
]


@pytest.mark.parametrize(("given", "base", "api", "settings"), FORMS)
def test_url_forms(given: str, base: str, api: str | None, settings: dict[str, str]) -> None:
    parsed = parse_url(given)
    assert (parsed.base, parsed.api, parsed.settings) == (base, api, settings)
    assert normalize_base_url(given) == base


def test_at_least_twelve_url_forms() -> None:
    assert len(FORMS) >= 12


def test_what_follows_an_odata_service_url_names_no_setting() -> None:
    # ($metadata, an inquiry or a DAC after the service root: the same instance and tenant)
    for service, after in (("t/C/api/odata/gi/", "$metadata"), ("odata/C/", "Customer%20Contacts")):
        bare, longer = parse_url(ROOT + service), parse_url(ROOT + service + after)
        assert (longer.base, longer.api, longer.settings) == (bare.base, bare.api, bare.settings)


def config(url: str, **settings: str) -> dict[str, str]:
    return {"url": url, "username": "u", "password": "p", **settings}


def test_settings_taken_from_the_url_unless_set() -> None:
    taken = resolve(config(ROOT + "t/MyCompany/api/odata/gi/", schema="OData")).taken
    assert taken == {"company": "MyCompany", "odata_url_style": "v4"}
    # `auto` yields to the URL; a setting equal to the URL's (any case) is not repeated.
    taken = resolve(
        config(
            ROOT + "odata/MyCompany/", schema="OData", odata_url_style="auto", company="MYCOMPANY"
        )
    ).taken
    assert taken == {"odata_url_style": "legacy"}
    taken = resolve(config(ROOT + "entity/Default/24.200.001/")).taken
    assert taken == {"endpoint_name": "Default", "endpoint_version": "24.200.001"}
    # The endpoint does not matter to OData, nor the URL family to REST.
    assert resolve(config(ROOT + "entity/Default/24.200.001/", schema="OData")).taken == {}
    assert resolve(config(ROOT + "Main?CompanyID=Acme")).taken == {"company": "Acme"}


def test_the_log_line_names_the_base_and_what_was_taken() -> None:
    line = resolve(config(ROOT + "t/MyCompany/api/odata/gi/", schema="OData")).describe()
    assert line.startswith(f"Acumatica instance {ROOT} ")
    assert "company='MyCompany'" in line
    assert "odata_url_style='v4'" in line
    assert resolve(config(ROOT)).describe() == f"Acumatica instance {ROOT}."


@pytest.mark.parametrize(
    ("url", "settings", "phrases"),
    [
        (
            ROOT + "entity/Default/24.200.001/",
            {"endpoint_version": "23.200.001"},
            ["'endpoint_version' is '23.200.001'", "says '24.200.001'"],
        ),
        (ROOT + "entity/Custom/1.0/", {"endpoint_name": "Default"}, ["'endpoint_name'"]),
        (
            ROOT + "t/Other/api/odata/gi/",
            {"schema": "OData", "company": "MyCompany"},
            ["'company' is 'MyCompany'", "says 'Other'"],
        ),
        (
            ROOT + "odata/MyCompany/",
            {"schema": "OData", "odata_url_style": "v4"},
            ["'odata_url_style' is 'v4'", "says 'legacy'"],
        ),
        (ROOT + "Main?CompanyID=A", {"company": "B"}, ["'company' is 'B'"]),
    ],
)
def test_a_contradiction_between_url_and_settings_is_one_error(
    url: str, settings: dict[str, str], phrases: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(config(url, **settings))
    for phrase in phrases:
        assert phrase in str(caught.value)


def test_an_odata_url_with_schema_rest_names_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(config(ROOT + "t/MyCompany/api/odata/gi/"))
    message = str(caught.value)
    assert "set 'schema' to OData" in message
    assert f"instance root {ROOT}" in message


@pytest.mark.parametrize("schema", ["REST", "OData"])
def test_a_dac_url_names_schema_dac(schema: str) -> None:
    with pytest.raises(ConfigError, match="set 'schema' to DAC"):
        resolve(config(ROOT + "t/MyCompany/api/odata/dac/", schema=schema))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/",
        "erp.example.com/AcumaticaERP",
        "https://user:pw@host/",
        ROOT + "t/C/api/odata/",
    ],
)
def test_urls_that_name_no_instance(url: str) -> None:
    with pytest.raises(ConfigError, match="'url'"):
        parse_url(url)
