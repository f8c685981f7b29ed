"""The simulator's OData generic-inquiry service, in-process (HTTP routing is tested elsewhere):
documents well-formed for both families, query options behaving like Acumatica's, and the
traps a tap must survive (unordered results, padded keys, v3/v4 literals, forbidden GIs)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from tests.simulator.odata import ODataService

UTC = timezone.utc
EDMX4 = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM4 = "{http://docs.oasis-open.org/odata/ns/edm}"
EDMX3 = "{http://schemas.microsoft.com/ado/2007/06/edmx}"
EDM3 = "{http://schemas.microsoft.com/ado/2009/11/edm}"
META3 = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
ORDERS = "BI-SalesOrders"
CONTACTS = "Customer Contacts"
ITEMS = "Item Availability Data"
PERIODS = "SalesByCustomerPeriod"
ROOTS = {
    "v4": "http://sim/AcumaticaERP/t/Company/api/odata/gi/",
    "v3": "http://sim/AcumaticaERP/odata/Company/",
}


class Counters:
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    def incr(self, key: str, n: int = 1) -> None:
        self.data[key] = self.data.get(key, 0) + n


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def counters() -> Counters:
    return Counters()


@pytest.fixture
def svc(clock, counters) -> ODataService:
    return ODataService(seed=7, sizes={ORDERS: 257}, counters=counters, clock=clock)


def get(svc: ODataService, family: str, subpath: str, headers=None, **query):
    query = {
        ("$" + k if not k.startswith("@") and k[0].islower() else k): str(v)
        for k, v in query.items()
    }
    status, out_headers, body = svc.handle(
        "GET",
        family,
        "Company",
        subpath,
        query,
        {"Accept": "application/json"} if headers is None else headers,
        service_root=ROOTS[family],
    )
    return status, out_headers, body


def rows(svc, family, subpath, **query) -> list[dict]:
    status, _, body = get(svc, family, subpath, **query)
    assert status == 200, body
    return json.loads(body)["value"]


def error_message(family: str, body: bytes) -> str:
    doc = json.loads(body)
    if family == "v4":
        assert doc["error"]["code"] == ""
        return doc["error"]["message"]
    assert doc["odata.error"]["message"]["lang"] == "en-US"
    return doc["odata.error"]["message"]["value"]


# --- documents --------------------------------------------------------------------------------


def test_service_document_v4(svc, counters):
    status, headers, body = get(svc, "v4", "")
    assert status == 200
    assert headers["OData-Version"] == "4.0"
    doc = json.loads(body)
    assert doc["@odata.context"] == "http://sim/AcumaticaERP/t/Company/api/odata/gi/$metadata"
    names = [e["name"] for e in doc["value"]]
    assert names == svc.inquiry_names() == [CONTACTS, ORDERS, PERIODS, ITEMS]
    assert all(e["kind"] == "EntitySet" and e["url"] == e["name"] for e in doc["value"])
    assert counters.data == {"odata": 1}


def test_service_document_v3(svc):
    status, headers, body = get(svc, "v3", "")
    assert status == 200
    assert headers["DataServiceVersion"] == "3.0;"
    doc = json.loads(body)
    assert doc["odata.metadata"] == "http://sim/AcumaticaERP/odata/Company/$metadata"
    assert [e["name"] for e in doc["value"]] == svc.inquiry_names()


def test_metadata_v4_is_edmx4_like_the_real_fragment(svc, counters):
    status, headers, body = get(svc, "v4", "$metadata")
    assert status == 200
    assert headers["Content-Type"].startswith("application/xml")
    assert counters.data == {"odata_metadata": 1}
    root = ET.fromstring(body)
    assert root.tag == f"{EDMX4}Edmx"
    assert root.get("Version") == "4.0"
    schema = root.find(f"{EDMX4}DataServices/{EDM4}Schema")
    assert schema is not None
    assert schema.get("Namespace") == "GenericInquiry"
    types = {t.get("Name"): t for t in schema.findall(f"{EDM4}EntityType")}
    assert set(types) == {
        "CustomerContacts",
        "BISalesOrders",
        "SalesByCustomerPeriod",
        "ItemAvailabilityData",
    }
    keys = {
        name: [r.get("Name") for r in t.findall(f"{EDM4}Key/{EDM4}PropertyRef")]
        for name, t in types.items()
    }
    assert keys["BISalesOrders"] == ["OrderType", "OrderNbr"]
    assert keys["SalesByCustomerPeriod"] == []  # the key-less (grouped) inquiry
    assert keys["ItemAvailabilityData"] == ["InventoryID", "Warehouse", "Subitem"]
    props = {p.get("Name"): p.get("Type") for p in types["BISalesOrders"]}
    assert {props[n] for n in props if n} >= {
        "Edm.String",
        "Edm.Int16",
        "Edm.Int64",
        "Edm.Decimal",
        "Edm.Double",
        "Edm.Boolean",
        "Edm.Guid",
        "Edm.Date",
        "Edm.DateTimeOffset",
    }
    assert props["LastModifiedOn"] == "Edm.DateTimeOffset"
    container = schema.find(f"{EDM4}EntityContainer")
    assert container is not None
    assert container.get("Name") == "Default"
    sets = {s.get("Name"): s.get("EntityType") for s in container.findall(f"{EDM4}EntitySet")}
    assert sets[CONTACTS] == "GenericInquiry.CustomerContacts"
    assert sets[ORDERS] == "GenericInquiry.BISalesOrders"
    function = schema.find(f"{EDM4}Function")
    assert function is not None
    assert function.get("Name") == ITEMS
    assert [p.get("Name") for p in function.findall(f"{EDM4}Parameter")] == [
        "Warehouse",
        "ItemClass",
    ]
    ret = function.find(f"{EDM4}ReturnType")
    assert ret is not None
    assert ret.get("Type") == "Collection(GenericInquiry.ItemAvailabilityData)"
    fimport = container.find(f"{EDM4}FunctionImport")
    assert fimport is not None
    assert fimport.attrib == {
        "Name": "ItemAvailabilityData_WithParameters",
        "Function": f"GenericInquiry.{ITEMS}",
        "EntitySet": ITEMS,
    }


def test_metadata_v3_is_edmx1(svc):
    status, headers, body = get(svc, "v3", "$metadata")
    assert status == 200
    assert headers["DataServiceVersion"] == "3.0;"
    root = ET.fromstring(body)
    assert root.tag == f"{EDMX3}Edmx"
    assert root.get("Version") == "1.0"
    services = root.find(f"{EDMX3}DataServices")
    assert services is not None
    assert services.get(f"{META3}DataServiceVersion") == "3.0"
    schema = services.find(f"{EDM3}Schema")
    assert schema is not None
    assert schema.get("Namespace") == "GenericInquiry"
    orders = next(
        t for t in schema.findall(f"{EDM3}EntityType") if t.get("Name") == "BISalesOrders"
    )
    types = {p.get("Name"): p.get("Type") for p in orders.findall(f"{EDM3}Property")}
    assert types["LastModifiedOn"] == "Edm.DateTime"
    assert types["OrderDate"] == "Edm.DateTime"  # no Edm.Date in v3
    container = schema.find(f"{EDM3}EntityContainer")
    assert container is not None
    assert container.get(f"{META3}IsDefaultEntityContainer") == "true"
    fimport = container.find(f"{EDM3}FunctionImport")
    assert fimport is not None
    assert fimport.get("EntitySet") == ITEMS
    assert fimport.get("ReturnType") == "Collection(GenericInquiry.ItemAvailabilityData)"
    assert [p.get("Name") for p in fimport.findall(f"{EDM3}Parameter")] == [
        "Warehouse",
        "ItemClass",
    ]


# --- values and formats -----------------------------------------------------------------------


def test_v4_values_and_context(svc):
    status, headers, body = get(svc, "v4", quote(CONTACTS), top=1)
    assert status == 200
    assert "odata.metadata=minimal" in headers["Content-Type"]
    doc = json.loads(body)
    assert doc["@odata.context"].endswith("/$metadata#Customer%20Contacts")
    assert set(doc["value"][0]) == {
        "CustomerID",
        "CustomerName",
        "CustomerClass",
        "Email",
        "Phone1",
        "City",
        "State",
        "PostalCode",
        "AddressLine1",
        "AddressLine2",
        "ContactID",
        "AddressID",
    }
    order = rows(svc, "v4", ORDERS, orderby="OrderNbr", top=1)[0]
    assert isinstance(order["OrderTotal"], float)  # a JSON number (scale kept in the text)
    assert isinstance(order["CuryInfoID"], int)
    assert order["CuryInfoID"] > 2**53
    assert isinstance(order["LineCount"], int)
    assert isinstance(order["Approved"], bool)
    stamp = order["LastModifiedOn"]
    assert stamp.endswith("Z")
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert len(order["OrderDate"]) == 10
    raw = get(svc, "v4", ORDERS, orderby="OrderNbr", top=1)[2].decode()
    total = raw.split('"OrderTotal":')[1].split(",")[0]
    assert len(total.split(".")[1]) == 4  # the column's scale, written as a JSON number


def test_v4_ieee754compatible_writes_decimals_as_strings(svc):
    status, headers, body = get(
        svc,
        "v4",
        ORDERS,
        {"Accept": "application/json;IEEE754Compatible=true"},
        orderby="OrderNbr",
        top=1,
    )
    assert status == 200
    assert "IEEE754Compatible=true" in headers["Content-Type"]
    row = json.loads(body)["value"][0]
    assert isinstance(row["OrderTotal"], str)
    assert len(row["OrderTotal"].split(".")[1]) == 4
    assert isinstance(row["CuryInfoID"], str)


def test_v3_values(svc):
    doc = json.loads(get(svc, "v3", ORDERS, orderby="OrderNbr", top=1, format="json")[2])
    assert doc["odata.metadata"].endswith("/$metadata#BI-SalesOrders")
    row = doc["value"][0]
    assert isinstance(row["OrderTotal"], str)
    assert isinstance(row["CuryInfoID"], str)
    assert "T" in row["LastModifiedOn"]
    assert not row["LastModifiedOn"].endswith("Z")
    assert "+" not in row["LastModifiedOn"]
    assert row["OrderDate"].endswith("T00:00:00")
    item = rows(svc, "v3", ITEMS, orderby="InventoryID,Warehouse", top=1, format="json")[0]
    assert item["QtyOnHand"].endswith(".000000")
    assert len(item["InventoryID"]) == 10
    assert item["InventoryID"].endswith(" ")
    assert item["Warehouse"] == "MAIN      "


def test_v3_without_format_answers_json_with_a_note(svc):
    status, headers, body = get(svc, "v3", ORDERS, headers={}, top=1)
    assert status == 200
    assert "Atom" in headers["X-Simulator-Note"]
    assert json.loads(body)["value"]
    status, _, _ = get(svc, "v3", ORDERS, headers={"Accept": "application/atom+xml"}, top=1)
    assert status == 406
    status, _, _ = get(svc, "v4", ORDERS, format="xml")
    assert status == 406


def test_instance_time_zone_shapes_rendering(clock, counters):
    tz = timezone(timedelta(hours=-5))
    svc = ODataService(seed=7, sizes={ORDERS: 20}, counters=counters, clock=clock, tz=tz)
    v4 = rows(svc, "v4", ORDERS, orderby="OrderNbr")
    v3 = rows(svc, "v3", ORDERS, orderby="OrderNbr", format="json")
    for a, b in zip(v4, v3, strict=True):
        assert a["LastModifiedOn"].endswith("-05:00")
        assert a["LastModifiedOn"].startswith(b["LastModifiedOn"])  # v3 = local wall clock
    # A v3 value fed back as a datetime'…' literal selects the same row.
    stamp = v3[3]["LastModifiedOn"]
    hits = rows(svc, "v3", ORDERS, filter=f"LastModifiedOn eq datetime'{stamp}'", format="json")
    assert v3[3]["OrderNbr"] in {h["OrderNbr"] for h in hits}


# --- paging and ordering ----------------------------------------------------------------------


def test_paging_with_orderby_covers_every_row_once(svc):
    truth = svc.truth(ORDERS)
    assert len(truth) == 257
    seen = []
    skip = 0
    while True:
        page = rows(svc, "v4", ORDERS, orderby="OrderType,OrderNbr desc", top=50, skip=skip)
        seen += [(r["OrderType"], r["OrderNbr"]) for r in page]
        if len(page) < 50:
            break
        skip += 50
    assert len(seen) == len(set(seen)) == 257
    assert seen == sorted(seen, key=lambda k: (k[0], [-ord(c) for c in k[1]]))


def test_order_without_orderby_changes_when_rows_change(svc):
    first = [r["OrderNbr"] for r in rows(svc, "v4", ORDERS)]
    assert first == [r["OrderNbr"] for r in rows(svc, "v4", ORDERS)]  # stable while idle
    assert first != sorted(first)  # not key order
    svc.mutate(ORDERS, update=20, insert=0)
    after = [r["OrderNbr"] for r in rows(svc, "v4", ORDERS)]
    assert sorted(after) == sorted(first)
    assert after != first


def test_orderby_desc_and_nulls_first(svc):
    got = rows(svc, "v4", ORDERS, orderby="DiscountPct", select="DiscountPct,OrderNbr")
    values = [r["DiscountPct"] for r in got]
    nulls = values.count(None)
    assert nulls > 0
    assert values[:nulls] == [None] * nulls
    assert values[nulls:] == sorted(values[nulls:])
    desc = [r["OrderTotal"] for r in rows(svc, "v4", ORDERS, orderby="OrderTotal desc")]
    assert desc == sorted(desc, reverse=True)


# --- $filter / $select ------------------------------------------------------------------------


def test_filter_v4_bare_literals_and_v3_datetime(svc):
    truth = svc.truth(ORDERS)
    stamps = sorted(
        datetime.fromisoformat(r["LastModifiedOn"].replace("Z", "+00:00")) for r in truth
    )
    cut = stamps[len(stamps) // 2]
    expected = sum(1 for s in stamps if s > cut)
    lit4 = cut.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    got4 = rows(svc, "v4", ORDERS, filter=f"LastModifiedOn gt {lit4}", orderby="OrderNbr")
    assert len(got4) == expected
    lit3 = cut.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    got3 = rows(
        svc,
        "v3",
        ORDERS,
        filter=f"LastModifiedOn gt datetime'{lit3}'",
        orderby="OrderNbr",
        format="json",
    )
    assert len(got3) == expected
    date_hits = rows(svc, "v4", ORDERS, filter="OrderDate ge 2025-01-01")
    assert all(r["OrderDate"] >= "2025-01-01" for r in date_hits)


@pytest.mark.parametrize(
    ("family", "text", "message"),
    [
        ("v3", "LastModifiedOn gt datetimeoffset'2025-01-01T00:00:00Z'", "incompatible types"),
        ("v3", "LastModifiedOn gt 2025-01-01T00:00:00Z", "bare literals"),
        ("v4", "LastModifiedOn gt datetime'2025-01-01T00:00:00'", "OData v3 syntax"),
        ("v4", "OrderDate gt 2025-01-01T00:00:00Z", "incompatible types"),
        ("v4", "OrderTotal gt '5'", "incompatible types"),
        ("v4", "Nope eq 1", "Could not find a property named 'Nope'"),
        ("v4", "MarginPct gt 10", "calculated"),
        ("v4", "OrderNbr eq", "Syntax error"),
    ],
)
def test_filter_errors_are_400_with_odata_error_body(svc, family, text, message):
    status, _, body = get(svc, family, ORDERS, filter=text, format="json")
    assert status == 400
    assert message in error_message(family, body)


def test_filter_strings_case_insensitive_and_padding(svc):
    hits = rows(svc, "v4", quote(ITEMS), filter="Warehouse eq 'wholesale'")
    assert hits
    assert all(r["Warehouse"] == "WHOLESALE " for r in hits)
    first = rows(svc, "v4", quote(ITEMS), orderby="InventoryID", top=1)[0]["InventoryID"]
    key = first.rstrip()
    assert rows(svc, "v4", quote(ITEMS), filter=f"InventoryID eq '{key}'")
    assert rows(svc, "v4", quote(CONTACTS), filter="contains(AddressLine1,'''')")


def test_select(svc):
    doc = json.loads(get(svc, "v4", ORDERS, select="OrderNbr, LastModifiedOn", top=2)[2])
    assert doc["@odata.context"].endswith("#BI-SalesOrders(OrderNbr,LastModifiedOn)")
    assert [set(r) for r in doc["value"]] == [{"OrderNbr", "LastModifiedOn"}] * 2
    doc3 = json.loads(get(svc, "v3", ORDERS, select="OrderNbr", top=1, format="json")[2])
    assert doc3["odata.metadata"].endswith("#BI-SalesOrders&$select=OrderNbr")
    status, _, body = get(svc, "v4", ORDERS, select="OrderNbr,Bogus")
    assert status == 400
    assert "Bogus" in error_message("v4", body)
    assert rows(svc, "v4", ORDERS, select="MarginPct", top=1)  # calculated: selectable


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"orderby": "MarginPct"}, 400),
        ({"orderby": "OrderNbr sideways"}, 400),
        ({"orderby": "Nope"}, 400),
        ({"top": "-1"}, 400),
        ({"skip": "x"}, 400),
        ({"expand": "Lines"}, 400),
        ({"count": "true"}, 501),
        ({"inlinecount": "allpages"}, 501),
        ({"search": "x"}, 400),
    ],
)
def test_unsupported_and_invalid_options(svc, query, status):
    assert get(svc, "v4", ORDERS, **query)[0] == status


# --- access, names, parameters ----------------------------------------------------------------


def test_unknown_set_404_forbidden_403(svc):
    status, _, body = get(svc, "v4", "NoSuchInquiry")
    assert status == 404
    assert "NoSuchInquiry" in error_message("v4", body)
    svc.set_forbidden([ORDERS])
    status, _, body = get(svc, "v4", ORDERS)
    assert status == 403
    assert "not accessible" in error_message("v4", body)
    status, _, body = get(svc, "v3", ORDERS, format="json")
    assert status == 403
    assert "not accessible" in error_message("v3", body)
    assert get(svc, "v4", quote(CONTACTS))[0] == 200
    svc.set_forbidden([])
    assert get(svc, "v4", ORDERS)[0] == 200
    with pytest.raises(KeyError):
        svc.set_forbidden(["Nope"])


def test_forbidden_from_constructor(clock, counters):
    svc = ODataService(
        seed=1, sizes=None, counters=counters, clock=clock, forbidden=["ItemAvailabilityData"]
    )
    assert get(svc, "v4", quote(ITEMS))[0] == 403
    assert get(svc, "v4", "ItemAvailabilityData_WithParameters(Warehouse='MAIN')")[0] == 403


def test_names_with_spaces_must_be_percent_encoded_forms(svc):
    encoded = rows(svc, "v4", "Customer%20Contacts")
    assert len(encoded) == 300 == len(svc.truth(CONTACTS))
    assert rows(svc, "v3", "Item%20Availability%20Data", format="json")
    assert get(svc, "v4", "CustomerContacts")[0] == 404  # the type name is not a set


def test_parameterised_inquiry_v4(svc):
    everything = rows(svc, "v4", quote(ITEMS))
    assert len(everything) == 360
    wholesale = rows(svc, "v4", "ItemAvailabilityData_WithParameters(Warehouse='WHOLESALE')")
    assert len(wholesale) == 120
    assert {r["Warehouse"] for r in wholesale} == {"WHOLESALE "}
    encoded = rows(svc, "v4", "ItemAvailabilityData_WithParameters(Warehouse=%27WHOLESALE%27)")
    assert encoded == wholesale
    both = rows(svc, "v4", "ItemAvailabilityData_WithParameters(Warehouse='MAIN',ItemClass='toys')")
    assert both
    assert all(r["ItemClass"] == "TOYS" and r["Warehouse"].strip() == "MAIN" for r in both)
    alias = rows(svc, "v4", "ItemAvailabilityData_WithParameters(Warehouse=@w)", **{"@w": "'MAIN'"})
    assert len(alias) == 120
    assert len(rows(svc, "v4", "ItemAvailabilityData_WithParameters()")) == 360
    _status, _, body = svc.handle(
        "GET",
        "v4",
        "Company",
        "ItemAvailabilityData_WithParameters(Warehouse='MAIN')",
        {"$top": "1"},
        {},
    )
    assert json.loads(body)["@odata.context"].endswith("#Item%20Availability%20Data")
    for bad in (
        "ItemAvailabilityData_WithParameters(Bin='A')",
        "ItemAvailabilityData_WithParameters(Warehouse=MAIN)",
        "ItemAvailabilityData_WithParameters",
    ):
        assert get(svc, "v4", bad)[0] == 400, bad


def test_parameterised_inquiry_v3(svc):
    hits = rows(
        svc, "v3", "ItemAvailabilityData_WithParameters", format="json", Warehouse="'RETAIL'"
    )
    assert len(hits) == 120
    assert {r["Warehouse"] for r in hits} == {"RETAIL    "}
    assert len(rows(svc, "v3", "ItemAvailabilityData_WithParameters", format="json")) == 360


# --- mutation and truth -----------------------------------------------------------------------


def test_mutate_bumps_the_incremental_column(svc, clock):
    before = {r["OrderNbr"]: r for r in svc.truth(ORDERS)}
    clock.now = datetime(2025, 3, 2, 8, 30, 15, 987654, tzinfo=UTC)
    result = svc.mutate(ORDERS, update=5, insert=3)
    assert len(result["updated"]) == 5
    assert len(result["inserted"]) == 3
    after = {r["OrderNbr"]: r for r in svc.truth(ORDERS)}
    assert len(after) == 260
    for key in result["updated"] + result["inserted"]:
        assert set(key) == {"OrderType", "OrderNbr"}
        assert after[key["OrderNbr"]]["LastModifiedOn"] == "2025-03-02T08:30:15.987Z"
    for nbr in set(before) - {k["OrderNbr"] for k in result["updated"]}:
        assert after[nbr] == before[nbr]
    hits = rows(svc, "v4", ORDERS, filter="LastModifiedOn ge 2025-03-02T00:00:00Z")
    assert {r["OrderNbr"] for r in hits} == {
        k["OrderNbr"] for k in result["updated"] + result["inserted"]
    }


def test_mutate_keyless_and_unknown(svc):
    result = svc.mutate(PERIODS, update=2, insert=1)
    assert all(set(k) == {"_row"} for k in result["updated"] + result["inserted"])
    assert len(svc.truth(PERIODS)) == 201
    with pytest.raises(KeyError):
        svc.mutate("Nope", 1, 0)


def test_deterministic_from_seed(clock, counters):
    def make(seed):
        return ODataService(seed=seed, sizes={CONTACTS: 50}, counters=counters, clock=clock)

    assert make(3).truth(CONTACTS) == make(3).truth(CONTACTS)
    assert make(3).truth(CONTACTS) != make(4).truth(CONTACTS)
    assert len(make(3).truth("CustomerContacts")) == 50  # type name accepted by control calls


def test_only_get(svc):
    status, _, _ = svc.handle("POST", "v4", "Company", ORDERS, {}, {})
    assert status == 405


# --- HTTP smoke test through the real simulator process ---------------------------------------


@pytest.mark.simulator(seed=7, odata_sizes={ORDERS: 40})
def test_http_smoke_both_families(sim):
    import base64
    import urllib.error
    import urllib.request

    creds = sim.credentials
    token = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()

    def fetch(path: str) -> tuple[int, bytes]:
        req = urllib.request.Request(
            sim.url + path,
            headers={"Authorization": f"Basic {token}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    tenant = creds["company"]
    status, body = fetch(f"t/{tenant}/api/odata/gi/$metadata")
    assert status == 200
    assert ET.fromstring(body).get("Version") == "4.0"
    status, body = fetch(f"t/{tenant}/api/odata/gi/Customer%20Contacts?$top=3&$orderby=CustomerID")
    assert status == 200
    assert len(json.loads(body)["value"]) == 3
    status, body = fetch(
        f"odata/{tenant}/BI-SalesOrders?$format=json&$orderby=OrderNbr"
        "&$filter=LastModifiedOn%20gt%20datetime'2000-01-01T00:00:00'"
    )
    assert status == 200
    assert len(json.loads(body)["value"]) == 40
    status, body = fetch("odata/$metadata")  # tenant segment omitted
    assert status == 200
    assert ET.fromstring(body).get("Version") == "1.0"
    truth = sim.control.truth_odata(ORDERS)
    assert len(truth) == 40
    changed = sim.control.mutate_odata(ORDERS, update=1, insert=1)
    assert len(changed["inserted"]) == 1
    assert len(sim.control.truth_odata(ORDERS)) == 41
    status, body = fetch(f"t/{tenant}/api/odata/gi/NoSuch")
    assert status == 404
