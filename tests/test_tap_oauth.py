"""OAuth end to end: the real tap CLI and ``tap-acumatica-auth`` against the simulator.

Everything goes through real HTTP (no patching): the tap runs as a subprocess, the tests play
the browser for the helper command (GET the authorize URL, follow its redirect by hand to the
helper's loopback port), and the simulator's counters show which grants were used.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests import tapkit
from tests.simulator.process import SimulatorProcess, wait_until

HELPER = str(Path(sys.executable).parent / "tap-acumatica-auth")
SIZE = 300
#: The simulator's tokens, codes and refresh tokens are 48- or 64-digit hex strings.
HEX_SECRET = re.compile(r"[0-9a-f]{48,}")


pytestmark = pytest.mark.simulator(sizes={"Customer": SIZE})
#: The stream the tests read, from the tap's default endpoint version; no company: the
#: OAuth client's id names the tenant.
CUSTOMERS = {"entities": ["Customer"], "endpoint_version": None, "company": None}


@pytest.fixture(scope="module")
def catalog(module_sim: SimulatorProcess) -> dict[str, t.Any]:
    config = tapkit.config_for(module_sim, entities=["Customer"], endpoint_version=None)
    return tapkit.select(tapkit.discover(config), ["Customer"])


def token_post(sim: SimulatorProcess, **form: str) -> requests.Response:
    return requests.post(sim.url + "identity/connect/token", data=form, timeout=30)


def password_grant(sim: SimulatorProcess) -> dict[str, t.Any]:
    creds, client = sim.credentials, sim.oauth_client
    response = token_post(
        sim,
        grant_type="password",
        username=creds["username"],
        password=creds["password"],
        scope="api offline_access",
        **client,
    )
    assert response.status_code == 200, response.text
    return t.cast("dict[str, t.Any]", response.json())


def refresh_is_rejected(sim: SimulatorProcess, refresh_token: str) -> bool:
    response = token_post(
        sim, grant_type="refresh_token", refresh_token=refresh_token, **sim.oauth_client
    )
    return response.status_code == 400 and response.json().get("error") == "invalid_grant"


def assert_no_secrets(run: tapkit.TapRun, *values: str) -> None:
    """Neither configured secrets nor any simulator token/code appear in the output."""
    not_records = "\n".join(
        line for line in run.stdout.splitlines() if '"type":"RECORD"' not in line.replace(" ", "")
    )
    for text in (run.stderr, not_records):
        for value in values:
            if value:
                assert value not in text
        assert not HEX_SECRET.search(text), HEX_SECRET.search(text)


def all_ids(run: tapkit.TapRun) -> set[str]:
    return {str(r["id"]) for r in run.records.get("Customer", [])}


def truth_ids(sim: SimulatorProcess) -> set[str]:
    return {str(r["id"]) for r in sim.control.truth("Customer")}


# OAuthPassword --------------------------------------------------------------------------------


def test_password_sync_outlives_many_short_tokens(sim, catalog):
    """A sync lasting several token lifetimes completes, refreshing instead of signing in."""
    sim.control.reset(sizes={"Customer": 3000}, token_lifetime_seconds=1)
    sim.control.faults(latency_ms=150)
    # page_size 100 and 2 requests at once, not 1000 and 1: many requests, some in flight
    # together, across several token lifetimes.
    config = tapkit.config_for(
        sim,
        CUSTOMERS,
        tapkit.oauth_settings(sim, "OAuthPassword"),
        page_size=100,
        max_concurrent_requests=2,
    )
    run = tapkit.run_tap(config, catalog=catalog, log_level="DEBUG", timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert all_ids(run) == truth_ids(sim)
    assert run.count("Customer") == 3000
    counters = sim.control.counters()
    assert counters["tokens_issued"].get("password") == 1
    assert counters["tokens_issued"].get("refresh_token", 0) >= 3
    assert counters["token_failures"] == 0
    assert counters["bearer_logouts"] == 1  # one token session, logged out at the end
    assert_no_secrets(run, config["password"], config["oauth_client_secret"])


def test_password_falls_back_to_password_grant_when_refresh_token_dies(sim, catalog):
    """The server forgets every token mid-run: 401, refused refresh, new password grant."""
    sim.control.reset(sizes={"Customer": 3000}, token_lifetime_seconds=30)
    sim.control.faults(latency_ms=100)
    config = tapkit.config_for(  # page_size 100, not 1000: a run of many requests
        sim, CUSTOMERS, tapkit.oauth_settings(sim, "OAuthPassword"), page_size=100
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        command = tapkit.tap_command(config, Path(tmpdir), catalog=catalog)
        err_path = Path(tmpdir) / "stderr.txt"
        with (
            err_path.open("w") as err,
            subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=err, env=tapkit.tap_env()
            ) as proc,
        ):
            assert wait_until(
                lambda: sim.control.counters()["requests_by_kind"].get("list", 0) >= 5, 60
            )
            sim.control.reset(sizes={"Customer": 3000}, token_lifetime_seconds=30)  # tokens gone
            proc.wait(timeout=120)
        stderr = err_path.read_text()
    assert proc.returncode == 0, stderr[-3000:]
    assert "signing in again with the password grant" in stderr
    counters = sim.control.counters()
    assert counters["tokens_issued"].get("password") == 1
    assert counters["token_failures"] == 1  # the one refused refresh, no retry storm


def test_password_grant_errors_are_clear(sim, catalog):
    sim.control.reset()
    bad_secret = tapkit.config_for(
        sim,
        CUSTOMERS,
        tapkit.oauth_settings(sim, "OAuthPassword"),
        oauth_client_secret="wrong-secret-123",
    )
    run = tapkit.run_tap(bad_secret, catalog=catalog, log_level="DEBUG")
    tapkit.assert_one_clear_error(
        run, "invalid_client", "oauth_client_id", "oauth_client_secret", "Connected Application"
    )
    assert_no_secrets(run, "wrong-secret-123", bad_secret["password"])
    assert sim.control.counters()["token_failures"] == 1

    sim.control.reset()
    bad_password = tapkit.config_for(
        sim, CUSTOMERS, tapkit.oauth_settings(sim, "OAuthPassword"), password="not-the-password-42"
    )
    run = tapkit.run_tap(bad_password, catalog=catalog, log_level="DEBUG")
    tapkit.assert_one_clear_error(run, "invalid_grant", "'username'", "'password'")
    assert_no_secrets(run, "not-the-password-42", bad_password["oauth_client_secret"])
    assert sim.control.counters()["token_failures"] == 1


def test_unsupported_grant_message(sim):
    """The simulator has no per-application flows, so the answer to a grant it does not
    support (client_credentials) stands in for "the Connected Application's flow does not
    allow this grant"; it goes through the tap's token call and error mapping over HTTP."""
    from tap_acumatica.auth.oauth import OAuthPassword, TokenRefused, request_token
    from tap_acumatica.http.client import AcumaticaClient
    from tap_acumatica.settings import Settings

    sim.control.reset()
    config = Settings.from_config(
        tapkit.config_for(sim, CUSTOMERS, tapkit.oauth_settings(sim, "OAuthPassword"))
    )
    client = AcumaticaClient(config, OAuthPassword(config))
    with pytest.raises(TokenRefused) as caught:
        request_token(client, "client_credentials", dict(sim.oauth_client))
    client.close()
    assert caught.value.code == "unsupported_grant_type"
    assert "does not allow" in str(caught.value)
    assert "SM303010" in str(caught.value)
    assert sim.oauth_client["client_secret"] not in str(caught.value)


# OAuth (authorization code, runs from a refresh token) ------------------------------------------


def test_refresh_token_rotation_across_two_runs(sim, catalog, tmp_path):
    sim.control.reset(token_lifetime_seconds=1)
    # 300 ms a request: each run lasts a few seconds even though the census-first reader
    # needs only about a dozen requests, so 1-second tokens expire several times per run.
    sim.control.faults(latency_ms=300)
    first = password_grant(sim)["refresh_token"]
    token_file = tmp_path / "tokens.json"
    config = tapkit.config_for(  # page_size 50, not 1000: a run of many requests
        sim,
        CUSTOMERS,
        tapkit.oauth_settings(sim, "OAuth"),
        oauth_refresh_token=first,
        oauth_token_file=str(token_file),
        page_size=50,
    )

    run1 = tapkit.run_tap(config, catalog=catalog, log_level="DEBUG")
    assert run1.returncode == 0, run1.stderr[-3000:]
    assert run1.count("Customer") == SIZE
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    second = json.loads(token_file.read_text())["refresh_token"]
    assert second != first
    assert refresh_is_rejected(sim, first)  # rotation killed the config's token

    run2 = tapkit.run_tap(config, catalog=catalog, log_level="DEBUG")  # same config file
    assert run2.returncode == 0, run2.stderr[-3000:]
    assert run2.count("Customer") == SIZE
    assert "no longer valid" not in run2.stderr  # went straight to the file's token
    third = json.loads(token_file.read_text())["refresh_token"]
    assert third not in (first, second)
    assert refresh_is_rejected(sim, second)

    counters = sim.control.counters()
    assert counters["tokens_issued"].get("password") == 1  # only the test's own grant
    assert counters["tokens_issued"]["refresh_token"] >= 4  # several per run (1 s tokens)
    assert counters["token_failures"] == 2  # the test's two probes, none from the tap
    for run in (run1, run2):
        assert_no_secrets(run, first, second, third, config["oauth_client_secret"])


def test_concurrent_runs_share_one_token_file(sim, catalog, tmp_path):
    """Two runs of one config at once (two schedules overlapping) both finish.

    Each refresh rotates the token and kills the one before, so a run renewing with the
    token it holds would fail once the other run has rotated past it. Refreshes are made
    under a lock on the token file, from the newest token in it.
    """
    sim.control.reset(sizes={"Customer": 2000}, token_lifetime_seconds=1)
    sim.control.faults(latency_ms=60)
    config = tapkit.config_for(
        sim,
        CUSTOMERS,
        tapkit.oauth_settings(sim, "OAuth"),
        oauth_refresh_token=password_grant(sim)["refresh_token"],
        oauth_token_file=str(tmp_path / "tokens.json"),
        page_size=100,  # not 1000: a run of many requests
    )
    procs = []
    for number in range(2):
        workdir = tmp_path / f"run{number}"
        workdir.mkdir()
        command = tapkit.tap_command(config, workdir, catalog=catalog)
        procs.append(
            subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=tapkit.tap_env(),
            )
        )
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        run = tapkit.TapRun(proc.returncode, stdout, stderr)
        tapkit.parse_messages(stdout, run)
        assert run.returncode == 0, stderr[-3000:]
        assert all_ids(run) == truth_ids(sim)
        assert "no longer valid" not in stderr
    counters = sim.control.counters()
    assert counters["tokens_issued"]["refresh_token"] >= 4  # both runs renewed, in turn
    assert counters["token_failures"] == 0


def test_stored_refresh_token_no_longer_valid(sim, catalog, tmp_path):
    sim.control.reset()
    token_file = tmp_path / "tokens.json"
    stale = "ab" * 32
    token_file.write_text(json.dumps({"refresh_token": stale, "issued_at": "2026-01-01"}))
    config = tapkit.config_for(
        sim, CUSTOMERS, tapkit.oauth_settings(sim, "OAuth"), oauth_token_file=str(token_file)
    )
    run = tapkit.run_tap(config, catalog=catalog, log_level="DEBUG")
    tapkit.assert_one_clear_error(run, "no longer valid", str(token_file), "tap-acumatica-auth")
    assert "is no longer valid" in run.stderr  # the warning naming the file
    assert_no_secrets(run, stale, config["oauth_client_secret"])
    assert sim.control.counters()["token_failures"] == 1


def test_oauth_bad_client_is_clear(sim, catalog, tmp_path):
    sim.control.reset()
    config = tapkit.config_for(
        sim,
        CUSTOMERS,
        tapkit.oauth_settings(sim, "OAuth"),
        oauth_refresh_token="cd" * 32,
        oauth_client_secret="nope-nope-nope",
        oauth_token_file=str(tmp_path / "tokens.json"),
    )
    run = tapkit.run_tap(config, catalog=catalog)
    tapkit.assert_one_clear_error(run, "invalid_client")
    assert sim.control.counters()["token_failures"] == 1


# tap-acumatica-auth ------------------------------------------------------------------------------


class Helper:
    """``tap-acumatica-auth`` in a subprocess; ``authorize_url`` is read from its stdout."""

    def __init__(self, config: dict[str, t.Any], workdir: Path, *args: str) -> None:
        path = tapkit.write_json(workdir, "auth-config.json", config)
        self.proc = subprocess.Popen(
            [
                HELPER,
                "--config",
                str(path),
                "--port",
                "0",
                "--no-browser",
                "--timeout",
                "60",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "identity/connect/authorize?" in line:
                self.authorize_url = line.strip()
                break
        else:
            raise AssertionError("".join(self.lines) + self.proc.stderr.read())  # type: ignore[union-attr]

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, "".join(self.lines) + out, err


def browse(url: str) -> str:
    """What a browser does at the authorize endpoint: the user is signed in and consents."""
    response = requests.get(url, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def test_helper_code_flow_then_tap_runs_from_stored_token(sim, catalog, tmp_path):
    sim.control.reset()
    token_file = tmp_path / "tokens.json"
    config = tapkit.config_for(
        sim, CUSTOMERS, tapkit.oauth_settings(sim, "OAuth"), oauth_token_file=str(token_file)
    )
    helper = Helper(config, tmp_path)
    query = dict(parse_qsl(urlsplit(helper.authorize_url).query))
    assert query["response_type"] == "code"
    assert query["redirect_uri"].startswith("http://127.0.0.1:")
    assert query["code_challenge_method"] == "S256"
    location = browse(helper.authorize_url)
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    page = requests.get(location, timeout=30)
    assert page.status_code == 200
    assert "authorization received" in page.text
    returncode, out, err = helper.finish()
    assert returncode == 0, err
    assert str(token_file) in out
    stored = json.loads(token_file.read_text())
    assert stored["refresh_token"]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    for text in (out, err):
        assert code not in text
        assert stored["refresh_token"] not in text
        assert config["oauth_client_secret"] not in text
    assert sim.control.counters()["tokens_issued"] == {"authorization_code": 1}

    run = tapkit.run_tap(config, catalog=catalog, log_level="DEBUG")  # no token in config
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.count("Customer") == SIZE
    assert json.loads(token_file.read_text())["refresh_token"] != stored["refresh_token"]
    assert_no_secrets(run, stored["refresh_token"], config["oauth_client_secret"])


def test_helper_print_token_flag(sim, tmp_path):
    sim.control.reset()
    token_file = tmp_path / "tokens.json"
    config = tapkit.config_for(
        sim, CUSTOMERS, tapkit.oauth_settings(sim, "OAuth"), oauth_token_file=str(token_file)
    )
    helper = Helper(config, tmp_path, "--print-token")
    requests.get(browse(helper.authorize_url), timeout=30)
    returncode, out, err = helper.finish()
    assert returncode == 0, err
    assert json.loads(token_file.read_text())["refresh_token"] in out


def test_helper_rejects_a_forged_redirect(sim, tmp_path):
    sim.control.reset()
    token_file = tmp_path / "tokens.json"
    config = tapkit.config_for(
        sim, CUSTOMERS, tapkit.oauth_settings(sim, "OAuth"), oauth_token_file=str(token_file)
    )
    helper = Helper(config, tmp_path)
    redirect = dict(parse_qsl(urlsplit(helper.authorize_url).query))["redirect_uri"]
    requests.get(redirect, params={"code": "f" * 48, "state": "forged"}, timeout=30)
    returncode, _, err = helper.finish()
    assert returncode == 1
    assert "state" in err
    assert "f" * 48 not in err
    assert not token_file.exists()
    assert sim.control.counters()["tokens_issued"] == {}


def test_helper_implicit_flow_then_tap_uses_access_token(sim, catalog, tmp_path):
    sim.control.reset()
    token_file = tmp_path / "tokens.json"
    config = tapkit.config_for(
        sim,
        CUSTOMERS,
        tapkit.oauth_settings(sim, "OAuthImplicit"),
        oauth_token_file=str(token_file),
    )
    helper = Helper(config, tmp_path, "--flow", "implicit")
    query = dict(parse_qsl(urlsplit(helper.authorize_url).query))
    assert query["response_type"] == "token"
    assert "offline_access" not in query["scope"]
    location = browse(helper.authorize_url)
    callback, _, fragment = location.partition("#")
    access_token = dict(parse_qsl(fragment))["access_token"]
    page = requests.get(callback, timeout=30)  # browsers never send the fragment
    assert page.status_code == 200
    assert "location.hash" in page.text
    posted = requests.post(
        callback,
        data=fragment,
        timeout=30,  # what the page's script does
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200
    returncode, out, err = helper.finish()
    assert returncode == 0, err
    assert access_token not in out + err
    assert json.loads(token_file.read_text())["access_token"] == access_token

    run = tapkit.run_tap(config, catalog=catalog, log_level="DEBUG")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.count("Customer") == SIZE
    counters = sim.control.counters()
    assert counters["tokens_issued"] == {"implicit": 1}
    assert counters["bearer_logouts"] == 1
    assert_no_secrets(run, access_token)


# OAuthImplicit ------------------------------------------------------------------------------------


def test_implicit_expired_token_fails_clearly_without_retrying(sim, catalog):
    sim.control.reset(token_lifetime_seconds=1)
    client = sim.oauth_client
    location = browse(
        sim.url
        + "identity/connect/authorize?"
        + requests.compat.urlencode(
            {
                "client_id": client["client_id"],
                "response_type": "token",
                "scope": "api",
                "redirect_uri": "http://127.0.0.1:9/callback",
                "state": "s",
            }
        )
    )
    access_token = dict(parse_qsl(location.partition("#")[2]))["access_token"]
    time.sleep(1.5)
    config = {
        "url": sim.url,
        "auth_scheme": "OAuthImplicit",
        "entities": ["Customer"],
        "oauth_access_token": access_token,
    }
    before = sim.control.counters()
    run = tapkit.run_tap(config, catalog=catalog, log_level="DEBUG")
    tapkit.assert_one_clear_error(
        run, "expired", "tap-acumatica-auth --flow implicit", "oauth_access_token"
    )
    assert_no_secrets(run, access_token)
    after = sim.control.counters()
    # One data request got its 401; no token call, no second try, no logout with a dead token.
    assert after["requests_by_kind"].get("list", 0) - before["requests_by_kind"].get("list", 0) == 1
    assert after["requests_by_kind"].get("token", 0) == before["requests_by_kind"].get("token", 0)
    assert after["requests_by_kind"].get("logout", 0) == before["requests_by_kind"].get("logout", 0)


def test_default_token_file_location(monkeypatch, tmp_path):
    from tap_acumatica.auth.tokens import default_token_file, token_file_for
    from tap_acumatica.settings import Settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    a = default_token_file("https://erp.example.com/AcumaticaERP", "X@Company")
    b = default_token_file("https://erp.example.com/AcumaticaERP/entity/", "X@Company")
    c = default_token_file("https://erp.example.com/AcumaticaERP", "Y@Company")
    assert a == b != c
    assert a.parent == tmp_path / "tap-acumatica"
    explicit = token_file_for(
        Settings.from_config({"url": "https://x", "oauth_token_file": "~/t.json"})
    )
    assert explicit == Path(os.path.expanduser("~/t.json"))
