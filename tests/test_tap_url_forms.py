"""URLs as users paste them, through the tap CLI against the simulator over real HTTP.

The OData URL Acumatica shows for a tenant (``…/t/<Tenant>/api/odata/gi/``, and the legacy
``…/odata/<Tenant>/``) works as ``url`` with nothing else but credentials; so do a REST
endpoint URL and a page of the web UI. Path segments are matched in any letter case, as
IIS does. (The table of every form is ``test_unit_urls.py``.)
"""

from __future__ import annotations

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

INQUIRY = "Customer Contacts"
TENANT = "Company"


pytestmark = pytest.mark.simulator(seed=5, tenants=[TENANT, "Other"], sizes={"Customer": 30})


def credentials(sim: SimulatorProcess) -> dict[str, str]:
    """User name and password only: the tenant must come from the URL."""
    return {"username": sim.credentials["username"], "password": sim.credentials["password"]}


def info_line(run: tapkit.TapRun) -> str:
    lines = [line for line in run.stderr.splitlines() if "Acumatica instance " in line]
    assert len(lines) == 1, run.stderr[-3000:]
    return lines[0]


def odata_paths(sim: SimulatorProcess) -> list[str]:
    return [r["path"] for r in sim.control.requests() if r["kind"].startswith("odata")]


@pytest.mark.parametrize(
    ("suffix", "family", "prefix"),
    [
        # Exactly what Acumatica shows on the Generic Inquiry screen / in Power BI.
        (f"t/{TENANT}/api/odata/gi/", "v4", f"t/{TENANT}/api/odata/gi/"),
        (f"odata/{TENANT}/", "legacy", f"odata/{TENANT}/"),
        # Any letter case (IIS), and with $metadata after the service URL.
        (f"T/{TENANT}/API/OData/GI/$metadata", "v4", f"t/{TENANT}/api/odata/gi/"),
        (f"OData/{TENANT}/$metadata", "legacy", f"odata/{TENANT}/"),
    ],
)
def test_the_odata_url_acumatica_shows(
    sim: SimulatorProcess, suffix: str, family: str, prefix: str
) -> None:
    config = {
        "url": sim.url + suffix,
        **credentials(sim),
        "schema": "OData",
        "inquiries": [INQUIRY],  # discovery of one inquiry is enough here
    }
    catalog = tapkit.discover(config)
    assert [s["tap_stream_id"] for s in catalog["streams"]] == [INQUIRY]
    sim.control.reset()
    run = tapkit.run_tap(config, catalog=tapkit.select(catalog, [INQUIRY]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.count(INQUIRY) == len(sim.control.truth_odata(INQUIRY))
    line = info_line(run)
    assert f"Acumatica instance {sim.url} " in line
    assert f"company='{TENANT}'" in line
    assert f"odata_url_style='{family}'" in line
    # Every request went to the family the URL names, under the instance root (nothing
    # appended twice, no probing of the other family).
    paths = odata_paths(sim)
    assert paths
    assert all(p.lower().startswith(prefix.lower()) for p in paths), paths
    assert not any(p.lower().count("/odata/") > 1 or "gi/t/" in p.lower() for p in paths), paths


def test_a_rest_endpoint_url_names_the_version(sim: SimulatorProcess) -> None:
    """No endpoint_version set: the URL's (not the tap's default 17.200.001) is used."""
    config = {
        "url": sim.url + "Entity/Default/22.200.001/",
        **credentials(sim),
        "company": TENANT,
        "entities": ["Customer"],
    }
    catalog = tapkit.discover(config)
    sim.control.reset()
    run = tapkit.run_tap(config, catalog=tapkit.select(catalog, ["Customer"]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.count("Customer") == 30
    lists = [r["path"] for r in sim.control.requests(kind="list")]
    assert lists
    assert all(p == "entity/Default/22.200.001/Customer" for p in lists), lists
    assert "endpoint_version='22.200.001'" in info_line(run)
    tapkit.assert_sessions_closed(sim)


def test_a_web_ui_page_names_the_tenant(sim: SimulatorProcess) -> None:
    page = "Main?CompanyID={}&ScreenId=AR303000"
    base = {**credentials(sim), "endpoint_version": "22.200.001", "entities": ["Customer"]}
    run = tapkit.run_tap({**base, "url": sim.url + page.format(TENANT)}, extra=["--discover"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"company='{TENANT}'" in info_line(run)
    # The tenant really is the one sent at login: an unknown one is refused by the server.
    run = tapkit.run_tap({**base, "url": sim.url + page.format("Nope")}, extra=["--discover"])
    tapkit.assert_one_clear_error(run, "Nope")


def test_an_odata_url_with_schema_rest_is_one_error(sim: SimulatorProcess) -> None:
    sim.control.reset()
    run = tapkit.run_tap(
        {"url": sim.url + f"t/{TENANT}/api/odata/gi/", **credentials(sim)}, extra=["--discover"]
    )
    tapkit.assert_one_clear_error(run, "set 'schema' to OData", f"instance root {sim.url}")
    assert sim.control.counters()["requests"] == 0


def test_a_contradiction_is_one_error(sim: SimulatorProcess) -> None:
    sim.control.reset()
    config = {
        "url": sim.url + "odata/Other/",
        **credentials(sim),
        "schema": "OData",
        "company": TENANT,
    }
    run = tapkit.run_tap(config, extra=["--discover"])
    tapkit.assert_one_clear_error(run, f"'company' is '{TENANT}'", "says 'Other'")
    assert sim.control.counters()["requests"] == 0


def test_the_simulator_routes_api_segments_in_any_case(sim: SimulatorProcess) -> None:
    """As IIS does: ``/OData/``, ``/T/…/API/OData/GI/``, ``/Entity/`` reach the same API."""
    import requests

    auth = (sim.credentials["username"], sim.credentials["password"])
    for path in (f"OData/{TENANT}/?$format=json", f"T/{TENANT}/API/OData/GI/"):
        response = requests.get(sim.url + path, auth=auth, timeout=30)
        assert response.status_code == 200, (path, response.text[:300])
        assert "value" in response.json() or "d" in response.json()
    index = requests.get(sim.url + "Entity", timeout=30)
    assert index.status_code == 200
    assert index.json()["endpoints"]
    with requests.Session() as session:
        login = session.post(
            sim.url + "Entity/Auth/Login",
            json={"name": auth[0], "password": auth[1], "tenant": TENANT},
            timeout=30,
        )
        assert login.status_code == 204, login.text[:300]
        listed = session.get(sim.url + "ENTITY/Default/22.200.001/Customer?$top=2", timeout=30)
        assert listed.status_code == 200
        assert len(listed.json()) == 2
        session.post(sim.url + "entity/auth/logout", timeout=30)


def test_a_sync_without_catalog_takes_the_url_settings_too(sim: SimulatorProcess) -> None:
    """Without --catalog the SDK builds the streams inside the tap's constructor: the
    settings from the URL must already be there (one log line, the URL's tenant used)."""
    config = {
        "url": sim.url + f"odata/{TENANT}/",
        **credentials(sim),
        "schema": "OData",
        "inquiries": [INQUIRY],
    }
    sim.control.reset()
    run = tapkit.run_tap(config)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.count(INQUIRY) == len(sim.control.truth_odata(INQUIRY))
    assert "odata_url_style='legacy'" in info_line(run)
    paths = odata_paths(sim)
    assert paths
    assert all(p.startswith(f"odata/{TENANT}/") for p in paths), paths
