"""The typed list decoder gives exactly the records the generic decode + transform gives.

Bodies come from the simulator over HTTP (all fields, details, linked entities, custom
fields, ``note`` as object or string across endpoint versions); the comparison itself is
pure logic.
"""

from __future__ import annotations

import json

import msgspec
import pytest
import requests

from tap_acumatica.http.client import decode_json
from tap_acumatica.rest.metadata import SYSTEM_PROPERTIES, custom_source
from tap_acumatica.rest.records import ListDecoder, compile_schema
from tests import tapkit
from tests.simulator.process import SimulatorProcess

VERSIONS = ["17.200.001", "20.200.001", "24.200.001"]
ENTITIES = ["Customer", "SalesOrder"]


# The tests share one signed-in session (`api`): the simulator keeps its state for the module.
pytestmark = pytest.mark.simulator(
    sizes={"SalesOrder": 120, "Customer": 150}, default_size=5, versions=VERSIONS
)


@pytest.fixture(scope="module")
def api(module_sim: SimulatorProcess):
    session = requests.Session()
    creds = module_sim.credentials
    session.post(
        module_sim.url + "entity/auth/login",
        json={
            "name": creds["username"],
            "password": creds["password"],
            "company": creds["company"],
        },
        timeout=30,
    ).raise_for_status()
    yield session
    session.post(module_sim.url + "entity/auth/logout", timeout=30)


def schemas(sim: SimulatorProcess, version: str) -> dict[str, dict]:
    catalog = tapkit.discover(
        tapkit.config_for(
            sim,
            tapkit.QUICK_RETRIES,
            endpoint_version=version,
            entities=ENTITIES,
            discover_custom_fields=True,
        )
    )
    return {entry["tap_stream_id"]: entry["schema"] for entry in catalog["streams"]}


def both_ways(schema: dict, body: bytes) -> tuple[list, list, ListDecoder]:
    decoder = ListDecoder(schema)
    typed = decoder.decode(body)
    generic = [compile_schema(schema)(row) for row in decode_json(body)]
    return typed, generic, decoder


@pytest.mark.parametrize("version", VERSIONS)
def test_typed_decoding_equals_generic_for_every_shape(module_sim, api, version) -> None:
    for entity, schema in schemas(module_sim, version).items():
        props = schema["properties"]
        customs = [".".join(src) for name in props if (src := custom_source(name))]
        nested = [
            n
            for n, p in props.items()
            if n not in ("files",) and "properties" in (p.get("items") or p)
        ]
        params = {"$custom": ",".join(customs[:1])} if customs else {}
        if nested:
            params["$expand"] = ",".join(nested)
        body = api.get(
            f"{module_sim.url}entity/Default/{version}/{entity}", params=params, timeout=60
        ).content
        typed, generic, decoder = both_ways(schema, body)
        assert decoder.fallbacks == 0, (version, entity)
        assert typed == generic, (version, entity)
        assert len(typed) > 0
        # Decimals stay exact, dates come out normalised, details as typed arrays.
        assert any(isinstance(v, list) for r in typed for v in r.values()) == bool(
            [
                n
                for n in nested
                if props[n].get("type") == "array" or "array" in props[n].get("type", [])
            ]
        )


def test_a_record_of_another_shape_is_decoded_the_generic_way(module_sim, api) -> None:
    schema = schemas(module_sim, "24.200.001")["Customer"]
    rows = json.loads(
        api.get(
            f"{module_sim.url}entity/Default/24.200.001/Customer", params={"$top": 5}, timeout=60
        ).content
    )
    field = next(
        k
        for k, v in rows[2].items()
        if isinstance(v, dict)
        and "value" in v
        and k in schema["properties"]
        and k not in SYSTEM_PROPERTIES
    )
    rows[2][field] = "bare"  # not wrapped: msgspec's declared shape refuses it
    typed, generic, decoder = both_ways(schema, json.dumps(rows).encode())
    assert decoder.fallbacks == 1
    assert typed == generic
    assert typed[2][field] == "bare"


def test_non_list_json_is_returned_and_broken_json_raises(module_sim) -> None:
    schema = {"properties": {"id": {"type": ["string"]}, "Name": {"type": ["string", "null"]}}}
    decoder = ListDecoder(schema)
    error = {"message": "An error has occurred.", "exceptionMessage": "boom"}
    assert decoder.decode(json.dumps(error).encode()) == error
    with pytest.raises(msgspec.DecodeError) as caught:
        decoder.decode(b'[{"id": "a", "Name": {"value": "x"}}, {"id"')
    assert not isinstance(caught.value, msgspec.ValidationError)
    # Absent stays absent; {} and null become null.
    body = b'[{"id": "a"}, {"id": "b", "Name": {}}, {"id": "c", "Name": null}]'
    assert decoder.decode(body) == [
        {"id": "a"},
        {"id": "b", "Name": None},
        {"id": "c", "Name": None},
    ]
