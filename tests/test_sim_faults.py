"""Fault injection, live mutation, concurrency accounting, OData routing and scale."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.simulator.process import SimulatorProcess

CUSTOMERS = "entity/Default/20.200.001/Customer"
SALES_ORDERS = "entity/Default/20.200.001/SalesOrder"


pytestmark = pytest.mark.simulator(
    sizes={"Customer": 500, "SalesOrder": 100}, versions=["20.200.001"]
)


def login(sim, session: requests.Session) -> int:
    """Sign ``session`` in as admin; the HTTP status of the login."""
    return session.post(
        sim.url + "entity/auth/login",
        json={"name": "admin", "password": sim.credentials["password"]},
    ).status_code


@pytest.fixture
def api(sim):
    session = requests.Session()
    assert login(sim, session) == 204
    return session


def test_429_with_and_without_retry_after(sim, api):
    sim.control.faults(rate_429=1.0, retry_after=3)
    resp = api.get(sim.url + CUSTOMERS)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    sim.control.faults(rate_429=1.0, retry_after=None)
    resp = api.get(sim.url + CUSTOMERS)
    assert resp.status_code == 429
    assert "Retry-After" not in resp.headers
    assert sim.control.counters()["faults_injected"]["429"] == 2


def test_faults_spare_login_and_control_unless_asked(sim):
    sim.control.faults(rate_429=1.0, rate_5xx=1.0, drop_rate=1.0)
    session = requests.Session()
    assert login(sim, session) == 204
    assert sim.control.counters()["requests_by_kind"]["login"] == 1
    sim.control.faults(rate_429=1.0, only_kinds=["login"])
    assert login(sim, session) == 429
    assert session.get(sim.url + CUSTOMERS).status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx(sim, api, status):
    sim.control.faults(rate_5xx=1.0, status_5xx=status)
    resp = api.get(sim.url + CUSTOMERS)
    assert resp.status_code == status
    if status == 500:
        assert resp.json()["exceptionMessage"]


def test_409_long_operation(sim, api):
    sim.control.faults(rate_409=1.0)
    resp = api.get(sim.url + CUSTOMERS)
    assert resp.status_code == 409
    assert "A long operation is running for this screen" in resp.json()["message"]


def test_fault_rates_are_seeded_and_partial(sim, api):
    def statuses():
        sim.control.faults(rate_429=0.3, fault_seed=42)
        return [api.get(sim.url + CUSTOMERS, params={"$top": 1}).status_code for _ in range(40)]

    first, second = statuses(), statuses()
    assert first == second
    assert 2 < first.count(429) < 25


def test_latency(sim, api):
    sim.control.faults(latency_ms=250)
    start = time.monotonic()
    assert api.get(sim.url + CUSTOMERS, params={"$top": 1}).status_code == 200
    assert time.monotonic() - start >= 0.25


def test_drop_closes_the_connection(sim, api):
    sim.control.faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.get(sim.url + CUSTOMERS)
    sim.control.faults()
    assert api.get(sim.url + CUSTOMERS, params={"$top": 1}).status_code == 200
    assert sim.control.counters()["faults_injected"]["drop"] == 1


def test_expire_sessions_is_one_shot(sim, api):
    assert api.get(sim.url + CUSTOMERS, params={"$top": 1}).status_code == 200
    sim.control.faults(expire_sessions=True)
    assert api.get(sim.url + CUSTOMERS).status_code == 401
    assert login(sim, api) == 204
    assert api.get(sim.url + CUSTOMERS, params={"$top": 1}).status_code == 200


def test_optimization_failure_on_lists_only(sim, api):
    sim.control.faults(optimization_failure={"SalesOrder": ["Details"]})
    resp = api.get(sim.url + SALES_ORDERS, params={"$expand": "Details"})
    assert resp.status_code == 500
    body = resp.json()
    assert body["exceptionType"] == ("PX.Api.ContractBased.OptimizedExport.CannotOptimizeException")
    assert body["exceptionMessage"].startswith(
        "Optimization cannot be performed. The following fields cause the error:\r\nDetails."
    )
    assert api.get(sim.url + SALES_ORDERS).status_code == 200
    first = api.get(sim.url + SALES_ORDERS, params={"$top": 1}).json()[0]
    one = api.get(sim.url + SALES_ORDERS + "/" + first["id"], params={"$expand": "Details"})
    assert one.status_code == 200
    assert "Details" in one.json()


def test_live_mutation_changes_data_between_pages(sim, api):
    before = sim.control.truth("Customer")
    sim.control.faults(live_mutation={"entity": "Customer", "every": 2, "update": 3, "insert": 1})
    api.get(sim.url + CUSTOMERS, params={"$top": 10})
    assert len(sim.control.truth("Customer")) == len(before)
    api.get(sim.url + CUSTOMERS, params={"$top": 10, "$skip": 10})
    after = sim.control.truth("Customer")
    assert len(after) == len(before) + 1
    changed = [a for a, b in zip(after, before, strict=False) if a != b]
    assert len(changed) == 3
    assert sim.control.counters()["faults_injected"]["live_mutation"] == 1


def test_max_in_flight_counts_concurrent_data_requests(sim, api):
    sim.control.faults(latency_ms=300)
    cookies = api.cookies.get_dict()
    with ThreadPoolExecutor(4) as pool:
        codes = list(
            pool.map(
                lambda _: (
                    requests.get(
                        sim.url + CUSTOMERS, cookies=cookies, params={"$top": 1}
                    ).status_code
                ),
                range(4),
            )
        )
    assert codes == [200] * 4
    counters = sim.control.counters()
    assert counters["max_in_flight"] >= 3
    assert counters["in_flight"] == 0


def test_counters_by_kind(sim, api):
    api.get(sim.url + CUSTOMERS, params={"$top": 1})
    api.get(sim.url + CUSTOMERS + "/$adHocSchema")
    api.get(sim.url + "entity/Default/20.200.001/swagger.json")
    requests.get(sim.url + "entity")
    kinds = sim.control.counters()["requests_by_kind"]
    assert kinds == {"login": 1, "list": 1, "adhoc": 1, "swagger": 1, "entity_index": 1}


# ---- OData routing ---------------------------------------------------------------------------


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_odata_needs_basic_or_bearer(sim):
    url = sim.url + "t/Company/api/odata/gi/"
    resp = requests.get(url)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    password = sim.credentials["password"]
    assert requests.get(url, headers=basic("admin", "bad")).status_code == 401
    assert requests.get(url, headers=basic("admin", password)).status_code == 200
    assert requests.get(url, headers=basic("admin@Company", password)).status_code == 200
    token = requests.post(
        sim.url + "identity/connect/token",
        data={
            "grant_type": "password",
            "username": "admin",
            "password": password,
            "scope": "api",
            **sim.oauth_client,
        },
    ).json()["access_token"]
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    v3 = requests.get(sim.url + "odata/company/$metadata", headers=basic("admin", password))
    assert v3.status_code == 200
    kinds = sim.control.counters()["requests_by_kind"]
    assert kinds["odata"] == 5
    assert kinds["odata_metadata"] == 1


def test_odata_requests_get_faults_too(sim):
    sim.control.faults(rate_5xx=1.0, status_5xx=503)
    resp = requests.get(
        sim.url + "t/Company/api/odata/gi/", headers=basic("admin", sim.credentials["password"])
    )
    assert resp.status_code == 503


def test_odata_forbidden_via_faults(sim):
    password = sim.credentials["password"]
    sets = requests.get(
        sim.url + "t/Company/api/odata/gi/", headers=basic("admin", password)
    ).json()["value"]
    name = sets[0]["url"]
    sim.control.faults(odata_forbidden=[sets[0]["name"]])
    resp = requests.get(
        sim.url + "t/Company/api/odata/gi/" + name, headers=basic("admin", password)
    )
    assert resp.status_code == 403


# ---- scale ----------------------------------------------------------------------------------


def test_a_million_rows_stay_small_and_fast():
    # Its own process: its peak memory (VmHWM) is what is measured.
    with SimulatorProcess(sizes={"Customer": 1_000_000}, versions=["20.200.001"]) as big:
        session = requests.Session()
        session.post(
            big.url + "entity/auth/login",
            json={"name": "admin", "password": big.credentials["password"]},
        )
        start = time.monotonic()
        first = session.get(big.url + CUSTOMERS, params={"$top": 1000})
        assert first.status_code == 200
        assert len(first.json()) == 1000
        last = session.get(big.url + CUSTOMERS, params={"$top": 1000, "$skip": 999_500}).json()
        assert len(last) == 500
        assert last[-1]["rowNumber"] == 500
        window = session.get(
            big.url + CUSTOMERS,
            params={
                "$filter": "LastModifiedDateTime gt datetimeoffset'2025-06-01T00:00:00Z' and "
                "LastModifiedDateTime le datetimeoffset'2025-06-01T06:00:00Z'"
            },
        ).json()
        assert 100 < len(window) < 2000
        assert time.monotonic() - start < 20
        peak_mb = big.rss_peak_kb() / 1024
        assert peak_mb < 400, peak_mb


def test_bad_body_truncated_and_text(sim, api):
    whole = api.get(sim.url + CUSTOMERS, params={"$top": 5})
    assert whole.status_code == 200
    sim.control.faults(rate_bad_body=1.0)  # default style: truncated
    cut = api.get(sim.url + CUSTOMERS, params={"$top": 5})
    assert cut.status_code == 200
    assert cut.headers["Content-Type"].startswith("application/json")
    assert 0 < len(cut.content) < len(whole.content)
    assert whole.content.startswith(cut.content)
    with pytest.raises(ValueError):
        cut.json()
    sim.control.faults(rate_bad_body=1.0, bad_body="text")
    text = api.get(sim.url + CUSTOMERS)
    assert text.status_code == 200
    assert text.headers["Content-Type"] == "text/plain"
    assert text.text == "Service is starting, please wait."
    assert sim.control.counters()["faults_injected"]["bad_body"] == 2


def test_issued_secrets_lists_every_cookie_value_and_token(sim, api):
    cookie = api.cookies[".ASPXAUTH"]
    session_id = api.cookies["ASP.NET_SessionId"]
    client = sim.oauth_client
    token = requests.post(
        sim.url + "identity/connect/token",
        timeout=10,
        data={
            "grant_type": "password",
            "username": "admin",
            "password": sim.credentials["password"],
            "scope": "api offline_access",
            **client,
        },
    ).json()
    issued = sim.control.issued_secrets()
    for value in (cookie, session_id, token["access_token"], token["refresh_token"]):
        assert value in issued
    sim.control.faults(expire_sessions=True)  # dead sessions are still listed
    assert cookie in sim.control.issued_secrets()
