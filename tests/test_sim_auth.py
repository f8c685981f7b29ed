"""Login sessions, seats, idle expiry and OAuth 2 flows of the simulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.simulator.process import wait_until

FIXTURES = Path(__file__).parent / "fixtures" / "acumatica"
CUSTOMERS = "entity/Default/20.200.001/Customer"


pytestmark = pytest.mark.simulator(default_size=20, versions=["20.200.001", "24.200.001"])


def login(sim, session=None, **overrides):
    session = session or requests.Session()
    body = {
        "name": "admin",
        "password": sim.credentials["password"],
        "tenant": "Company",
        **overrides,
    }
    return session, session.post(sim.url + "entity/auth/login", json=body)


# ---- cookie sessions ---------------------------------------------------------------------------


def test_login_sets_acumatica_cookies_and_data_calls_work(sim):
    session, resp = login(sim)
    assert resp.status_code == 204
    assert resp.content == b""
    cookies = {c.name: c for c in session.cookies}
    assert {".ASPXAUTH", "ASP.NET_SessionId", "CompanyID", "Locale", "UserBranch"} <= set(cookies)
    assert cookies["CompanyID"].value == "Company"
    assert not any(c.secure for c in cookies.values())  # plain http: never "secure"
    raw = resp.raw.headers.getlist("Set-Cookie")
    aspx = next(h for h in raw if h.startswith(".ASPXAUTH="))
    assert "HttpOnly" in aspx
    assert "path=/" in aspx
    assert session.get(sim.url + CUSTOMERS, params={"$top": 1}).status_code == 200
    counters = sim.control.counters()
    assert counters["logins"] == 1
    assert counters["open_sessions"] == 1


def test_form_login_and_company_instead_of_tenant(sim):
    session = requests.Session()
    resp = session.post(
        sim.url + "entity/auth/login",
        data={"name": "admin", "password": sim.credentials["password"], "company": "company"},
    )
    assert resp.status_code == 204
    assert session.get(sim.url + CUSTOMERS).status_code == 200


def test_tenant_and_company_together_is_invalid(sim):
    _s, resp = login(sim, company="Company")
    assert resp.status_code == 400
    assert resp.json()["message"] == "The request is invalid."
    assert sim.control.counters()["login_failures"] == 1


def test_bad_credentials_answer_the_real_500_body(sim):
    _s, resp = login(sim, password="wrong")
    assert resp.status_code == 500
    real = json.loads(
        (FIXTURES / "sample-error-500-login-invalid-credentials-jetbuilt.json").read_text()
    )
    assert resp.json() == real
    assert sim.control.counters()["login_failures"] == 1


def test_unknown_tenant_fails(sim):
    _s, resp = login(sim, tenant="Nope")
    assert resp.status_code == 500
    assert "Nope" in resp.json()["exceptionMessage"]


def test_data_call_without_session_is_401_json(sim):
    resp = requests.get(sim.url + CUSTOMERS)
    assert resp.status_code == 401
    assert resp.json()["message"]
    resp = requests.get(sim.url + CUSTOMERS, cookies={".ASPXAUTH": "forged"})
    assert resp.status_code == 401


def test_logout_ends_the_session_and_expires_cookies(sim):
    session, _ = login(sim)
    resp = session.post(sim.url + "entity/auth/logout")
    assert resp.status_code == 204
    assert ".ASPXAUTH=;" in resp.headers["Set-Cookie"]
    assert "1999" in resp.headers["Set-Cookie"]
    assert ".ASPXAUTH" not in {c.name for c in session.cookies}
    counters = sim.control.counters()
    assert counters["logouts"] == 1
    assert counters["open_sessions"] == 0


def test_logout_with_empty_body_and_no_content_length(sim):
    session, _ = login(sim)
    cookie = session.cookies.get(".ASPXAUTH")
    import http.client

    host, port = urlsplit(sim.url).hostname, urlsplit(sim.url).port
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest("POST", "/AcumaticaERP/entity/auth/logout")
    conn.putheader("Cookie", f".ASPXAUTH={cookie}")
    conn.endheaders()
    assert conn.getresponse().status == 204
    assert session.get(sim.url + CUSTOMERS).status_code == 401


def test_seat_limit_refuses_logins_with_api_login_limit(sim):
    sim.control.reset(seat_limit=2)
    first, _ = login(sim)
    login(sim)
    _s, resp = login(sim)
    assert resp.status_code == 500
    assert "API Login Limit" in resp.json()["exceptionMessage"]
    first.post(sim.url + "entity/auth/logout")
    assert login(sim)[1].status_code == 204
    counters = sim.control.counters()
    assert counters["logins"] == 3
    assert counters["login_failures"] == 1


def test_seat_limit_status_is_configurable(sim):
    sim.control.reset(seat_limit=0, seat_limit_status=429)
    assert login(sim)[1].status_code == 429


def test_idle_session_expires_with_401(sim):
    sim.control.reset(session_idle_seconds=0.3)
    session, _ = login(sim)
    assert session.get(sim.url + CUSTOMERS).status_code == 200
    assert wait_until(lambda: sim.control.counters()["open_sessions"] == 0, timeout=3)
    assert session.get(sim.url + CUSTOMERS).status_code == 401


# ---- OAuth 2 -----------------------------------------------------------------------------------


def token(sim, **form):
    return requests.post(sim.url + "identity/connect/token", data=form)


def password_grant(sim, scope="api offline_access"):
    client = sim.oauth_client
    return token(
        sim,
        grant_type="password",
        username="admin",
        password=sim.credentials["password"],
        scope=scope,
        **client,
    )


def test_password_grant_issues_a_bearer_token(sim):
    resp = password_grant(sim)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "api offline_access"
    assert body["refresh_token"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert requests.get(sim.url + CUSTOMERS, headers=headers).status_code == 200
    assert "refresh_token" not in password_grant(sim, scope="api").json()
    assert sim.control.counters()["tokens_issued"]["password"] == 2


def test_refresh_tokens_rotate_and_the_old_one_dies(sim):
    first = password_grant(sim).json()
    client = sim.oauth_client
    second = token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"], **client)
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    again = token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"], **client)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    third = token(
        sim, grant_type="refresh_token", refresh_token=second.json()["refresh_token"], **client
    )
    assert third.status_code == 200
    assert sim.control.counters()["tokens_issued"]["refresh_token"] == 2


def test_refresh_without_rotation_keeps_the_token(sim):
    sim.control.reset(rotate_refresh_tokens=False)
    first = password_grant(sim).json()
    for _ in range(2):
        resp = token(
            sim,
            grant_type="refresh_token",
            refresh_token=first["refresh_token"],
            **sim.oauth_client,
        )
        assert resp.json()["refresh_token"] == first["refresh_token"]


def authorize(
    sim, response_type: str, redirect: str, state: str, scope: str = "api offline_access"
):
    """The authorize endpoint as a browser reaches it (the redirect is not followed)."""
    return requests.get(
        sim.url + "identity/connect/authorize",
        allow_redirects=False,
        params={
            "response_type": response_type,
            "client_id": sim.oauth_client["client_id"],
            "redirect_uri": redirect,
            "scope": scope,
            "state": state,
        },
    )


def test_authorization_code_flow(sim):
    client = sim.oauth_client
    redirect = "http://127.0.0.1:8765/callback"
    resp = authorize(sim, "code", redirect, "xyz")
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    code = query["code"][0]
    wrong = token(
        sim, grant_type="authorization_code", code=code, redirect_uri="http://elsewhere/", **client
    )
    assert wrong.json()["error"] == "invalid_grant"  # and the code is now spent
    resp = authorize(sim, "code", redirect, "s2")
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    ok = token(sim, grant_type="authorization_code", code=code, redirect_uri=redirect, **client)
    assert ok.status_code == 200
    assert ok.json()["refresh_token"]
    reused = token(sim, grant_type="authorization_code", code=code, redirect_uri=redirect, **client)
    assert reused.json()["error"] == "invalid_grant"


def test_implicit_flow_returns_the_token_in_the_fragment(sim):
    resp = authorize(sim, "token", "http://127.0.0.1:9/cb", "st", scope="api")
    assert resp.status_code == 302
    fragment = parse_qs(urlsplit(resp.headers["Location"]).fragment)
    assert fragment["token_type"] == ["Bearer"]
    assert fragment["state"] == ["st"]
    assert fragment["expires_in"] == ["3600"]
    assert fragment["scope"] == ["api"]
    headers = {"Authorization": f"Bearer {fragment['access_token'][0]}"}
    assert requests.get(sim.url + CUSTOMERS, headers=headers).status_code == 200
    assert sim.control.counters()["tokens_issued"]["implicit"] == 1


def test_authorize_with_unknown_client_is_400(sim):
    resp = requests.get(
        sim.url + "identity/connect/authorize",
        allow_redirects=False,
        params={
            "response_type": "code",
            "client_id": "nobody@Company",
            "redirect_uri": "http://x/",
        },
    )
    assert resp.status_code == 400


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "admin", "password": "bad"}, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
        ({"grant_type": "password"}, "invalid_request"),
    ],
)
def test_token_errors_are_oauth_json(sim, form, error):
    resp = token(sim, **form, **sim.oauth_client)
    assert resp.status_code == 400
    assert resp.json()["error"] == error


def test_invalid_client(sim):
    resp = token(
        sim,
        grant_type="password",
        username="admin",
        password=sim.credentials["password"],
        client_id=sim.oauth_client["client_id"],
        client_secret="wrong",
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_client"}


def test_client_secret_basic_is_accepted(sim):
    client = sim.oauth_client
    resp = requests.post(
        sim.url + "identity/connect/token",
        auth=(client["client_id"], client["client_secret"]),
        data={
            "grant_type": "password",
            "username": "admin",
            "password": sim.credentials["password"],
            "scope": "api",
        },
    )
    assert resp.status_code == 200


def test_expired_or_unknown_token_is_401(sim):
    sim.control.reset(token_lifetime_seconds=0.3)
    access = password_grant(sim).json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    assert requests.get(sim.url + CUSTOMERS, headers=headers).status_code == 200
    time.sleep(0.35)
    resp = requests.get(sim.url + CUSTOMERS, headers=headers)
    assert resp.status_code == 401
    assert "Bearer" in resp.headers["WWW-Authenticate"]
    assert (
        requests.get(sim.url + CUSTOMERS, headers={"Authorization": "Bearer junk"}).status_code
        == 401
    )


def test_bearer_logout_ends_the_token_session(sim):
    access = password_grant(sim).json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    requests.get(sim.url + CUSTOMERS, headers=headers)
    assert sim.control.counters()["oauth_sessions_open"] == 1
    assert requests.post(sim.url + "entity/auth/logout", headers=headers).status_code == 204
    counters = sim.control.counters()
    assert counters["bearer_logouts"] == 1
    assert counters["oauth_sessions_open"] == 0


def test_openid_configuration(sim):
    body = requests.get(sim.url + "identity/.well-known/openid-configuration").json()
    assert body["token_endpoint"] == sim.url + "identity/connect/token"
    assert "client_credentials" not in body["grant_types_supported"]
