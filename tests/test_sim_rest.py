"""The simulator's contract-based REST surface, checked against real Acumatica recordings.

Every test talks HTTP to a simulator child process (tests.simulator.process)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

FIXTURES = Path(__file__).parent / "fixtures" / "acumatica"
V20 = "20.200.001"
SIZES = {"Customer": 3000, "SalesOrder": 400, "StockItem": 5000}
DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?[+-]\d\d:\d\d$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


pytestmark = pytest.mark.simulator(sizes=SIZES, seed=11)


@pytest.fixture
def api(sim):
    """A logged-in requests.Session on the simulator (reset for the test by ``sim``)."""
    session = requests.Session()
    resp = session.post(
        sim.url + "entity/auth/login",
        json={"name": "admin", "password": sim.credentials["password"], "tenant": "Company"},
    )
    assert resp.status_code == 204
    yield session
    session.post(sim.url + "entity/auth/logout")


def entity_url(sim, entity: str, version: str = V20) -> str:
    return f"{sim.url}entity/Default/{version}/{entity}"


def swagger_doc(version: str) -> dict:
    raw = gzip.decompress((FIXTURES / f"swagger-Default-{version}.json.gz").read_bytes())
    return json.loads(raw.decode("utf-8-sig"))


def scalar_fields(version: str, definition: str) -> dict[str, str]:
    schema = (
        swagger_doc(version).get("definitions") or swagger_doc(version)["components"]["schemas"]
    )[definition]
    out = {}
    for part in schema.get("allOf", [schema]):
        for name, spec in part.get("properties", {}).items():
            ref = spec.get("$ref", "")
            if ref.endswith("Value") and not ref.endswith("AttributeValue"):
                out[name] = ref.rsplit("/", 1)[-1]
    return out


def parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---- endpoint index, swagger, wrong paths ----------------------------------------------------


def test_entity_index_is_public_and_lists_versions(sim):
    resp = requests.get(sim.url + "entity")
    assert resp.status_code == 200
    body = resp.json()
    assert body["version"]["acumaticaBuildVersion"]
    versions = [e["version"] for e in body["endpoints"]]
    assert versions == [
        "17.200.001",
        "18.200.001",
        "20.200.001",
        "22.200.001",
        "23.200.001",
        "24.200.001",
    ]
    assert body["endpoints"][2] == {
        "name": "Default",
        "version": V20,
        "href": "/AcumaticaERP/entity/Default/20.200.001/",
    }
    assert resp.headers["Date"].endswith("GMT")


@pytest.mark.parametrize(
    "version", ["17.200.001", "18.200.001", "20.200.001", "22.200.001", "23.200.001", "24.200.001"]
)
def test_swagger_is_served_byte_exact(sim, api, version):
    resp = api.get(f"{sim.url}entity/Default/{version}/swagger.json")
    assert resp.status_code == 200
    assert resp.content == gzip.decompress(
        (FIXTURES / f"swagger-Default-{version}.json.gz").read_bytes()
    )


def test_swagger_of_unserved_version_is_404_and_needs_login(sim, api):
    assert api.get(f"{sim.url}entity/Default/25.200.001/swagger.json").status_code == 404
    assert requests.get(f"{sim.url}entity/Default/{V20}/swagger.json").status_code == 401


def test_paths_outside_the_instance_answer_the_login_page(sim):
    root = sim.url.split("/AcumaticaERP/")[0]
    for path in ("/", "/entity", "/entity/Default/20.200.001/Customer"):
        resp = requests.get(root + path)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            resp.json()


def test_query_string_over_the_iis_limit_is_404_15(sim, api):
    long_filter = "CustomerID eq '" + "x" * 2100 + "'"
    resp = api.get(entity_url(sim, "Customer"), params={"$filter": long_filter})
    assert resp.status_code == 404
    assert "404.15" in resp.text
    assert resp.headers["Content-Type"].startswith("text/html")


# ---- record shape vs the real recordings ------------------------------------------------------


# Fields the swagger declares but the recorded 2023 instance did not return (features switched
# off on that site: e.g. Customer.ShippingBranch, SalesOrder VAT totals). The simulator returns
# every swagger field, so the check is: real keys <= simulated keys <= real keys | swagger fields.
@pytest.mark.parametrize("entity", ["Customer", "SalesOrder", "StockItem"])
def test_record_shape_matches_real_response(sim, api, entity):
    sample = json.loads(
        (FIXTURES / f"sample-{entity}-list-top1-Default-{V20}-jetbuilt.json").read_text()
    )[0]
    resp = api.get(entity_url(sim, entity), params={"$top": 50})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    records = resp.json()
    assert len(records) == 50
    swagger = scalar_fields(V20, entity)
    for number, record in enumerate(records, 1):
        keys = set(record)
        assert set(sample) <= keys
        assert keys <= set(sample) | set(swagger) | {"files"}
        assert record["rowNumber"] == number
        assert UUID.match(record["id"])
        assert isinstance(record["note"], dict)
        assert set(record["note"]) == {"value"}
        assert record["custom"] == {}
        names = [k for k in record if k not in ("id", "rowNumber", "note", "custom", "files")]
        assert names == sorted(names, key=str.lower)  # Acumatica's order, as in the sample
        assert list(record)[:3] == ["id", "rowNumber", "note"]
        for name in names:
            wrapper = record[name]
            assert wrapper == {} or set(wrapper) == {"value"}, (name, wrapper)
            if wrapper:
                _check_type(swagger[name], wrapper["value"], name)
        if "files" in record:
            assert {"id", "filename", "href"} == set(record["files"][0])
    assert any("files" in r for r in records)  # some records have attachments
    assert any(r[n] == {} for r in records for n in r if n in swagger)  # and empty fields


def _check_type(value_type: str, value, name: str) -> None:
    if value_type in ("StringValue",):
        assert isinstance(value, str), name
    elif value_type == "DecimalValue":
        assert isinstance(value, float | int), name
    elif value_type == "DateTimeValue":
        assert DT.match(value), (name, value)
    elif value_type == "BooleanValue":
        assert isinstance(value, bool), name
    elif value_type in ("IntValue", "ShortValue", "LongValue", "ByteValue"):
        assert type(value) is int, name
    elif value_type == "GuidValue":
        assert UUID.match(value), name


def test_detail_lines_match_the_real_sales_order_details(sim, api):
    sample = json.loads(
        (FIXTURES / f"sample-SalesOrder-put-expand-Details-Default-{V20}-jetbuilt.json").read_text()
    )
    records = api.get(entity_url(sim, "SalesOrder"), params={"$expand": "Details"}).json()
    lines = [line for r in records for line in r["Details"]]
    assert lines
    real_line = sample["Details"][0]
    swagger = scalar_fields(V20, "SalesOrderDetail")
    for line in lines:
        assert set(real_line) <= set(line) <= set(real_line) | set(swagger)
        assert line["note"] is None
        assert line["custom"] == {}
        assert list(line)[:3] == ["id", "rowNumber", "note"]
        # LastModifiedDate on the lines is a StringValue: "12/14/2023 19:57:08"
        assert re.match(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d$", line["LastModifiedDate"]["value"])
    assert all("Allocations" not in line for line in lines)


def test_decimals_keep_four_places_and_big_values_on_the_wire(sim, api):
    text = api.get(entity_url(sim, "SalesOrder"), params={"$top": 400}).text
    assert re.search(r'"value":-?\d+\.\d{4}[,}]', text)
    assert "12345678901234.5678" in text or "-98765432109876.5432" in text


def test_date_times_use_varying_offsets_and_trimmed_fractions(sim):
    records = sim.control.truth("Customer", version=V20)
    stamps = [r["LastModifiedDateTime"]["value"] for r in records]
    assert all(DT.match(s) for s in stamps)
    offsets = {s[-6:] for s in stamps}
    assert len(offsets) >= 4
    assert any(re.search(r"\.\d\d[+-]", s) for s in stamps)  # .34 style
    assert any(re.search(r":\d\d[+-]", s) for s in stamps)  # no fraction at all
    lo, hi = min(map(parse_dt, stamps)), max(map(parse_dt, stamps))
    assert lo >= datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert hi <= datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_stamp_field_names_per_version(sim, api):
    so = api.get(entity_url(sim, "SalesOrder"), params={"$top": 1}).json()[0]
    assert "LastModified" in so
    assert "LastModifiedDateTime" not in so
    old = api.get(entity_url(sim, "StockItem", "23.200.001"), params={"$top": 1}).json()[0]
    assert "LastModified" in old
    assert "LastModifiedDateTime" not in old
    new = api.get(entity_url(sim, "StockItem", "24.200.001"), params={"$top": 1}).json()[0]
    assert new["LastModified"] == new["LastModifiedDateTime"] or (
        parse_dt(new["LastModified"]["value"]) == parse_dt(new["LastModifiedDateTime"]["value"])
    )


def test_bulk_import_groups_share_one_stamp(sim):
    records = sim.control.truth("StockItem", version="24.200.001")
    counts: dict[datetime, int] = {}
    for r in records:
        instant = parse_dt(r["LastModifiedDateTime"]["value"])
        counts[instant] = counts.get(instant, 0) + 1
    assert max(counts.values()) > 1000
    assert sum(1 for c in counts.values() if 1 < c < 100) > 3


def test_note_is_a_bare_string_in_contract_v3(sim, api):
    record = api.get(entity_url(sim, "Customer", "17.200.001"), params={"$top": 1}).json()[0]
    assert record["note"] == ""


# ---- paging, options ---------------------------------------------------------------------------


def test_paging_covers_every_row_exactly_once_in_truth_order(sim, api):
    truth_ids = [r["id"] for r in sim.control.truth("Customer", version=V20)]
    assert len(truth_ids) == SIZES["Customer"]
    seen = []
    for skip in range(0, 3001, 700):
        page = api.get(entity_url(sim, "Customer"), params={"$top": 700, "$skip": skip}).json()
        seen += [r["id"] for r in page]
    assert seen == truth_ids
    assert len(api.get(entity_url(sim, "Customer")).json()) == SIZES["Customer"]  # no $top: all


def test_order_is_not_by_stamp(sim):
    stamps = [
        parse_dt(r["LastModifiedDateTime"]["value"])
        for r in sim.control.truth("Customer", version=V20)
    ]
    assert stamps != sorted(stamps)


@pytest.mark.parametrize(
    "params",
    [
        {"$orderby": "CustomerID"},
        {"$count": "true"},
        {"$top": "abc"},
        {"$skip": "-1"},
        {"$select": "NoSuchField"},
        {"$expand": "NoSuchDetail"},
        {"$custom": "BAccount.NoSuchField"},
        {"$filter": "NoSuchField eq 'x'"},
        {"$filter": "CustomerID eq"},
    ],
)
def test_invalid_options_are_400(sim, api, params):
    resp = api.get(entity_url(sim, "Customer"), params=params)
    assert resp.status_code == 400
    assert resp.json()["message"] == "The request is invalid."


def test_select_keeps_system_keys_and_named_fields(sim, api):
    records = api.get(
        entity_url(sim, "Customer"),
        params={"$select": "CustomerID,LastModifiedDateTime", "$top": 30},
    ).json()
    for r in records:
        assert set(r) - {"files"} == {
            "id",
            "rowNumber",
            "note",
            "custom",
            "CustomerID",
            "LastModifiedDateTime",
        }


def test_expand_is_needed_for_details_and_linked_entities(sim, api):
    plain = api.get(entity_url(sim, "Customer"), params={"$top": 5}).json()
    assert all("MainContact" not in r and "Contacts" not in r for r in plain)
    expanded = api.get(
        entity_url(sim, "Customer"),
        params={"$top": 20, "$expand": "MainContact,Contacts,Attributes"},
    ).json()
    for r in expanded:
        assert isinstance(r["MainContact"], dict)
        assert UUID.match(r["MainContact"]["id"])
        assert isinstance(r["Contacts"], list)
        assert isinstance(r["Attributes"], list)
    assert any(r["Attributes"] for r in expanded)
    nested = api.get(
        entity_url(sim, "SalesOrder"),
        params={"$expand": "Details/Allocations", "$select": "OrderNbr,Details/InventoryID"},
    ).json()
    lines = [line for r in nested for line in r["Details"]]
    assert lines
    assert all("Allocations" in line for line in lines)
    assert all(
        set(line) == {"id", "rowNumber", "note", "custom", "InventoryID", "Allocations"}
        for line in lines
    )


def test_custom_fields_and_adhoc_schema(sim, api):
    schema = api.get(entity_url(sim, "Customer") + "/$adHocSchema").json()
    customs = schema["custom"]
    fields = [
        (view, name, spec["type"])
        for view, items in customs.items()
        for name, spec in items.items()
    ]
    types = {t for _v, _n, t in fields}
    assert {
        "CustomStringField",
        "CustomDecimalField",
        "CustomDateTimeField",
        "CustomBooleanField",
        "CustomIntField",
        "CustomGuidField",
    } <= types
    assert all(spec["value"] is None for items in customs.values() for spec in items.values())
    wanted = ",".join(f"{v}.{n}" for v, n, _t in fields)
    records = api.get(entity_url(sim, "Customer"), params={"$top": 40, "$custom": wanted}).json()
    for r in records:
        for view, name, ctype in fields:
            assert r["custom"][view][name]["type"] == ctype
            assert set(r["custom"][view][name]) == {"type", "value"}
    assert any(r["custom"][v][n]["value"] is not None for r in records for v, n, _ in fields)


def test_get_by_id_and_unknown_id(sim, api):
    truth = sim.control.truth("Customer", expand="MainContact", version=V20)
    wanted = truth[123]
    got = api.get(
        entity_url(sim, "Customer") + "/" + wanted["id"], params={"$expand": "MainContact"}
    ).json()
    assert got == {**wanted, "rowNumber": 1}
    assert (
        api.get(entity_url(sim, "Customer") + "/00000000-0000-0000-0000-000000000000").status_code
        == 404
    )
    by_key = api.get(entity_url(sim, "Customer") + "/" + wanted["CustomerID"]["value"]).json()
    assert by_key["id"] == wanted["id"]


def test_gzip_only_when_asked(sim, api):
    plain = api.get(
        entity_url(sim, "Customer"), params={"$top": 20}, headers={"Accept-Encoding": "identity"}
    )
    assert "Content-Encoding" not in plain.headers
    zipped = api.get(
        entity_url(sim, "Customer"), params={"$top": 20}, headers={"Accept-Encoding": "gzip"}
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.json() == plain.json()


# ---- filters and mutations ---------------------------------------------------------------------


def _stamps(sim, entity="Customer", field="LastModifiedDateTime"):
    return {r["id"]: parse_dt(r[field]["value"]) for r in sim.control.truth(entity, version=V20)}


def test_filter_on_stamp_with_offset_without_offset_and_date_only(sim, api):
    stamps = _stamps(sim)
    pivot = sorted(stamps.values())[len(stamps) // 2]
    local = pivot.astimezone(timezone(timedelta(hours=3)))
    literal = local.isoformat(timespec="milliseconds")
    got = api.get(
        entity_url(sim, "Customer"),
        params={"$filter": f"LastModifiedDateTime gt datetimeoffset'{literal}'"},
    ).json()
    assert {r["id"] for r in got} == {i for i, s in stamps.items() if s > pivot}
    naive = pivot.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")
    got = api.get(
        entity_url(sim, "Customer"),
        params={"$filter": f"LastModifiedDateTime le datetimeoffset'{naive}'"},
    ).json()
    assert {r["id"] for r in got} == {i for i, s in stamps.items() if s <= pivot}
    day = pivot.date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    got = api.get(
        entity_url(sim, "Customer"),
        params={
            "$filter": f"LastModifiedDateTime ge datetimeoffset'{day.isoformat()}' and "
            f"LastModifiedDateTime lt datetimeoffset'{day + timedelta(days=1)}'"
        },
    ).json()
    assert {r["id"] for r in got} == {
        i for i, s in stamps.items() if midnight <= s < midnight + timedelta(days=1)
    }
    # rows come back in row order, with rowNumber restarting at 1
    order = [r["id"] for r in sim.control.truth("Customer", version=V20)]
    ids = [r["id"] for r in got]
    assert ids == [i for i in order if i in set(ids)]


def test_filter_window_with_top_and_a_non_stamp_condition(sim, api):
    stamps = _stamps(sim)
    lo, hi = sorted(stamps.values())[100], sorted(stamps.values())[2000]
    flt = (
        f"LastModifiedDateTime gt datetimeoffset'{lo.isoformat()}' and "
        f"LastModifiedDateTime le datetimeoffset'{hi.isoformat()}'"
    )
    everything = api.get(entity_url(sim, "Customer"), params={"$filter": flt}).json()
    first = api.get(entity_url(sim, "Customer"), params={"$filter": flt, "$top": 101}).json()
    assert [r["id"] for r in first] == [r["id"] for r in everything[:101]]
    assert [r["rowNumber"] for r in first] == list(range(1, 102))
    target = everything[5]["CustomerID"]["value"]
    one = api.get(
        entity_url(sim, "Customer"), params={"$filter": f"{flt} and CustomerID eq '{target}'"}
    ).json()
    assert [r["id"] for r in one] == [everything[5]["id"]]


def test_mutate_bumps_stamps_visible_through_filters(sim, api):
    before = _stamps(sim)
    newest = max(before.values())
    clock = sim.control.clock()
    result = sim.control.mutate("Customer", update=7, insert=3)
    assert len(result["updated"]) == 7
    assert len(result["inserted"]) == 3
    got = api.get(
        entity_url(sim, "Customer"),
        params={"$filter": f"LastModifiedDateTime gt datetimeoffset'{newest.isoformat()}'"},
    ).json()
    assert {r["id"] for r in got} == set(result["updated"]) | set(result["inserted"])
    for r in got:
        stamp = parse_dt(r["LastModifiedDateTime"]["value"])
        assert abs(stamp - parse_dt(clock["now"])) < timedelta(seconds=30)
        assert stamp.microsecond % 1000 == 0
    after = _stamps(sim)
    assert len(after) == len(before) + 3
    unchanged = set(before) - set(result["updated"])
    assert all(after[i] == before[i] for i in unchanged)
    assert list(after)[-3:] == result["inserted"]  # inserts go to the end of the row order


@pytest.mark.parametrize(
    "version", ["17.200.001", "18.200.001", "20.200.001", "22.200.001", "23.200.001", "24.200.001"]
)
def test_every_top_level_entity_lists_with_everything_expanded(sim, api, version):
    doc = swagger_doc(version)
    schemas = doc.get("definitions") or doc["components"]["schemas"]
    entities = [
        p.strip("/") for p, ops in doc["paths"].items() if "/" not in p.strip("/") and "get" in ops
    ]
    assert len(entities) > 80
    for entity in entities:
        props = {}
        for part in schemas[entity].get("allOf", [schemas[entity]]):
            props.update(part.get("properties", {}))
        expandable = [
            n
            for n, spec in props.items()
            if spec.get("type") == "array" or not spec.get("$ref", "Value").endswith("Value")
        ]
        resp = api.get(
            entity_url(sim, entity, version), params={"$top": 2, "$expand": ",".join(expandable)}
        )
        assert resp.status_code == 200, (entity, resp.text[:300])
        records = resp.json()
        assert len(records) == 2
        for name in expandable:
            assert name in records[0], (entity, name)


def test_render_workers_answer_byte_identical_bodies(sim, api) -> None:
    """``render_workers`` (the benchmark's multi-core server) changes who renders, not what."""
    url = sim.url + f"entity/Default/{V20}/SalesOrder"
    rows = api.get(url, params={"$top": 200}).json()
    key = next(k for k in rows[0] if k.startswith("LastModified"))
    middle = sorted(r[key]["value"] for r in rows)[100]
    custom = next(
        f"{view}.{name}"
        for view, fields in api.get(url + "/$adHocSchema").json()["custom"].items()
        for name in fields
    )
    queries = [
        {"$top": 50, "$skip": 20},
        {"$expand": "Details", "$filter": f"{key} le datetimeoffset'{middle}'"},
        {"$select": f"OrderNbr,{key}", "$top": 5, "$custom": custom},
    ]

    def bodies() -> list[bytes]:
        out = []
        for params in queries:
            for encoding in ("gzip", "identity"):
                resp = api.get(
                    url, params=params, headers={"Accept-Encoding": encoding}, stream=True
                )
                assert resp.status_code == 200, resp.text
                raw = resp.raw.read()
                if resp.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                out.append(raw)
        return out

    in_process = bodies()
    sim.control.reset(render_workers=2)
    try:
        api.post(
            sim.url + "entity/auth/login",
            json={"name": "admin", "password": sim.credentials["password"], "tenant": "Company"},
        )
        assert bodies() == in_process
        # Changed and inserted rows (versions, stamps) too: the worker's page equals the
        # ground truth, which the server renders in-process.
        sim.control.mutate("SalesOrder", update=30, insert=3)
        listed = api.get(url, headers={"Accept-Encoding": "identity"}).content
        truth = requests.get(
            f"{sim.url}__control/truth/SalesOrder", params={"version": V20}, timeout=60
        ).content
        assert listed == truth
        assert sim.control.counters()["pages_rendered_by_workers"] == len(queries) * 2 + 1
    finally:
        sim.control.reset()
