"""The simulator's delete control call: a deleted record leaves every list and lookup."""

from __future__ import annotations

import pytest
import requests

from tests.simulator.process import SimulatorProcess

VERSION = "20.200.001"


@pytest.mark.simulator(sizes={"Customer": 50}, versions=[VERSION])
def test_deleted_records_are_gone_everywhere(sim: SimulatorProcess) -> None:
    before = sim.control.truth("Customer")
    gone = set(sim.control.delete("Customer", count=4)["deleted"])
    assert len(gone) == 4
    assert gone <= {r["id"] for r in before}
    after = sim.control.truth("Customer")
    assert {r["id"] for r in after} == {r["id"] for r in before} - gone
    with requests.Session() as api:
        creds = sim.credentials
        login = {"name": creds["username"], "password": creds["password"]}
        assert api.post(sim.url + "entity/auth/login", json=login, timeout=30).ok
        url = f"{sim.url}entity/Default/{VERSION}/Customer"
        # Pages, a filtered list and a lookup by id or key: no deleted row anywhere.
        paged = api.get(url, params={"$top": 20, "$skip": 40}, timeout=30).json()
        assert [r["id"] for r in paged] == [r["id"] for r in after[40:60]]
        stamped = api.get(
            url,
            params={"$filter": "LastModifiedDateTime gt datetimeoffset'2000-01-01'"},
            timeout=30,
        ).json()
        assert {r["id"] for r in stamped} == {r["id"] for r in after}
        for record in before:
            if record["id"] in gone:
                assert api.get(f"{url}/{record['id']}", timeout=30).status_code == 404
                key = record["CustomerID"]["value"]
                assert api.get(f"{url}/{key}", timeout=30).status_code == 404
        # Later changes pick live rows only.
        changed = sim.control.mutate("Customer", update=46)
        assert not set(changed["updated"]) & gone
        api.post(sim.url + "entity/auth/logout", timeout=30)
