"""The simulator's `$filter` parser: the oracle must accept what Acumatica accepts, reject what
it rejects, and evaluate with SQL Server's semantics (case-insensitive strings, local-time
literals without offset, NULL is unknown)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.simulator.filtering import Bound, FilterSyntaxError, parse_filter

UTC = timezone.utc
PLUS3 = timezone(timedelta(hours=3))


def match(text: str, row: dict, dialect: str = "rest", **kw) -> bool:
    return parse_filter(text, dialect=dialect, **kw).matches(row.get)


ROW = {
    "Name": "O'Brien Supplies",
    "Code": "AALEGO500 ",
    "Qty": Decimal("12.50"),
    "Count": 7,
    "Ratio": 0.25,
    "Active": True,
    "Deleted": False,
    "Empty": None,
    "Stamp": datetime(2024, 7, 15, 7, 31, 28, 402000, tzinfo=UTC),
    "Day": date(2024, 12, 31),
    "NoteID": "9d3b1c2e-0000-4000-8000-00000000abcd",
    "custom:Document.UsrFlag": "X",
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("Count eq 7", True),
        ("Count ne 7", False),
        ("Count gt 6", True),
        ("Count gt 7", False),
        ("Count ge 7", True),
        ("Count lt 7", False),
        ("Count le 7", True),
        ("Qty eq 12.5", True),
        ("Qty eq 12.5m", True),
        ("Qty gt 12", True),
        ("Count eq 7.0", True),
        ("Ratio lt 0.3", True),
        ("Ratio eq 0.25d", True),
        ("Count eq 7L", True),
        ("Count gt -1", True),
        ("Active eq true", True),
        ("Deleted eq false", True),
        ("Active", True),
        ("not Deleted", True),
        ("Name eq 'O''Brien Supplies'", True),
        ("Name eq 'o''brien SUPPLIES'", True),  # SQL Server collation: case-insensitive
        ("Name gt 'N'", True),
        ("Name lt 'p'", True),
        ("Code eq 'AALEGO500'", True),  # CHAR padding ignored by '='
        ("Code eq 'aalego500'", True),
    ],
)
def test_operators_and_literals(expr, expected):
    assert match(expr, ROW) is expected


def test_datetimeoffset_with_offset_compares_instants():
    assert match("Stamp eq datetimeoffset'2024-07-15T10:31:28.402+03:00'", ROW)
    assert match("Stamp eq datetimeoffset'2024-07-15T07:31:28.402Z'", ROW)
    assert match("Stamp gt datetimeoffset'2024-07-15T10:31:28.401+03:00'", ROW)
    assert not match("Stamp gt datetimeoffset'2024-07-15T10:31:28.402+03:00'", ROW)
    assert match("Stamp ge datetime'2024-07-15T07:31:28.402Z'", ROW)


def test_literal_without_offset_is_in_instance_time_zone():
    # The quirk: a wall-clock literal is read in the instance's zone, not UTC.
    text = "Stamp eq datetimeoffset'2024-07-15T10:31:28.402'"
    assert match(text, ROW, local_tz=PLUS3)
    assert not match(text, ROW)  # default local_tz = UTC
    assert match("Stamp eq datetimeoffset'2024-07-15T07:31:28.402'", ROW)
    berlin = ZoneInfo("Europe/Berlin")  # +02:00 in July
    assert match("Stamp eq datetime'2024-07-15T09:31:28.402'", ROW, local_tz=berlin)


def test_date_only_literal_is_local_midnight():
    flt = parse_filter("Stamp ge datetimeoffset'2024-12-31'", dialect="rest", local_tz=PLUS3)
    lower, upper = flt.bounds("Stamp")
    assert lower == Bound(datetime(2024, 12, 30, 21, 0, tzinfo=UTC), True)
    assert upper is None
    row = {"Stamp": datetime(2024, 12, 30, 21, 0, tzinfo=UTC)}
    assert flt.matches(row.get)
    assert not flt.matches({"Stamp": datetime(2024, 12, 30, 20, 59, 59, tzinfo=UTC)}.get)


def test_seven_fraction_digits_and_date_values():
    assert match("Stamp eq datetimeoffset'2024-07-15T07:31:28.4020000Z'", ROW)
    assert match("Day eq datetimeoffset'2024-12-31'", ROW)  # date values are local midnight
    assert match("Day lt datetimeoffset'2024-12-31T00:00:01Z'", ROW)


def test_guid_literals():
    assert match("NoteID eq guid'9D3B1C2E-0000-4000-8000-00000000ABCD'", ROW)
    assert match("NoteID eq 9d3b1c2e-0000-4000-8000-00000000abcd", ROW, "odata4")
    assert match(
        "U eq guid'9d3b1c2e-0000-4000-8000-00000000abcd'",
        {"U": uuid.UUID("9d3b1c2e-0000-4000-8000-00000000abcd")},
    )


def test_precedence_and_binds_tighter_than_or():
    row = {"A": 1, "B": 2, "C": 3}
    # A eq 0 or (B eq 2 and C eq 3) -> True; (A eq 0 or B eq 2) and C eq 0 -> False
    assert match("A eq 0 or B eq 2 and C eq 3", row)
    assert match("B eq 2 and C eq 3 or A eq 0", row)
    assert not match("A eq 0 or B eq 2 and C eq 0", row)
    assert match("(A eq 0 or B eq 2) and C eq 3", row)
    assert not match("(A eq 0 or B eq 2) and C eq 0", row)
    assert match("not (A eq 0) and ((B eq 2))", row)
    assert not match("not (A eq 1 or B eq 0)", row)


def test_string_functions():
    assert match("substringof('brien', Name)", ROW)
    assert match("substringof('BRIEN', Name) eq true", ROW)
    assert not match("substringof('zzz', Name)", ROW)
    assert match("startswith(Name, 'o''b')", ROW)
    assert match("endswith(Name,'PLIES')", ROW)
    assert match("not startswith(Name,'X')", ROW)
    assert match("contains(Name,'Supp')", ROW, "odata4")
    assert not match("startswith(Empty,'a')", ROW)
    assert not match("endswith(Code,'500')", ROW)  # LIKE sees the CHAR padding


def test_custom_fields():
    flt = parse_filter("cf.String(f='Document.UsrFlag') eq 'x'", dialect="rest")
    assert flt.fields == frozenset({"custom:Document.UsrFlag"})
    assert flt.matches(ROW.get)
    for ctype in (
        "Decimal",
        "DateTime",
        "Boolean",
        "Int",
        "Long",
        "Short",
        "Byte",
        "Double",
        "Guid",
    ):
        parse_filter(f"cf.{ctype}(f='A.B') eq null", dialect="rest")
    with pytest.raises(FilterSyntaxError, match="custom field type"):
        parse_filter("cf.Money(f='A.B') eq 1", dialect="rest")
    with pytest.raises(FilterSyntaxError, match="REST"):
        parse_filter("cf.String(f='A.B') eq 'x'", dialect="odata3")


def test_null_handling():
    assert match("Empty eq null", ROW)
    assert match("null eq Empty", ROW)
    assert not match("Empty ne null", ROW)
    assert match("Name ne null", ROW)
    assert not match("Empty eq 'x'", ROW)
    assert not match("Empty ne 'x'", ROW)  # SQL: NULL <> 'x' is unknown
    assert not match("Empty gt 0", ROW)
    assert not match("Empty lt datetimeoffset'2024-01-01'", ROW)
    assert not match("Stamp gt null", ROW)


def test_mismatched_types_never_match():
    assert not match("Name eq 5", ROW)
    assert not match("Count eq '7'", ROW)
    assert not match("Stamp gt 5", ROW)


def test_fields_and_literal_kinds():
    flt = parse_filter(
        "Stamp gt datetimeoffset'2024-01-01' and (Name eq 'x' or startswith(Code,'A'))",
        dialect="rest",
    )
    assert flt.fields == frozenset({"Stamp", "Name", "Code"})
    assert flt.literal_kinds == {
        "Stamp": frozenset({"datetimeoffset"}),
        "Name": frozenset({"string"}),
        "Code": frozenset({"string"}),
    }


def test_dialect_literals():
    row = {"D": datetime(2022, 7, 13, 0, 0, tzinfo=UTC), "Day": date(2022, 7, 13)}
    assert match("D eq datetime'2022-07-13T00:00:00'", row, "odata3")
    assert match("D eq 2022-07-13T00:00:00Z", row, "odata4")
    assert match("D eq 2022-07-13T02:00:00.000+02:00", row, "odata4")
    assert match("D lt 2022-07-13T00:00:00.123+00:00", row, "odata4")
    assert match("Day eq 2022-07-13", row, "odata4")
    kinds = parse_filter("Day eq 2022-07-13 and D ge 2022-07-13T00:00:00", dialect="odata4")
    assert kinds.literal_kinds == {"Day": frozenset({"date"}), "D": frozenset({"datetime"})}
    for bad in ("D eq datetime'2022-07-13T00:00:00'", "substringof('a', N)", "Q eq 1.5m"):
        with pytest.raises(FilterSyntaxError):
            parse_filter(bad, dialect="odata4")
    for bad in (
        "D eq 2022-07-13T00:00:00Z",
        "contains(N,'a')",
        "G eq 9d3b1c2e-0000-4000-8000-00000000abcd",
    ):
        with pytest.raises(FilterSyntaxError):
            parse_filter(bad, dialect="odata3")
        with pytest.raises(FilterSyntaxError):
            parse_filter(bad, dialect="rest")


def test_bounds_from_top_level_conjunction():
    t1 = datetime(2024, 1, 1, tzinfo=UTC)
    t2 = datetime(2024, 2, 1, tzinfo=UTC)
    flt = parse_filter(
        "LastModifiedDateTime gt datetimeoffset'2024-01-01T00:00:00Z' and "
        "LastModifiedDateTime le datetimeoffset'2024-02-01T00:00:00Z' and Status eq 'Open'",
        dialect="rest",
    )
    assert flt.bounds("LastModifiedDateTime") == (Bound(t1, False), Bound(t2, True))
    assert flt.bounds("Status") == (Bound("Open", True), Bound("Open", True))
    assert flt.bounds("Other") == (None, None)
    # literal on the left flips the operator
    flt = parse_filter("datetimeoffset'2024-01-01T00:00:00Z' lt S", dialect="rest")
    assert flt.bounds("S") == (Bound(t1, False), None)


def test_bounds_tightest_wins_and_nested_or_is_kept_apart():
    flt = parse_filter(
        "S ge 1 and S gt 5 and S ge 5 and S lt 9 and S le 20 and (A eq 1 or B eq 2)", dialect="rest"
    )
    assert flt.bounds("S") == (Bound(5, False), Bound(9, False))
    assert flt.bounds("A") == (None, None)
    flt = parse_filter("((S ge 3)) and (S le 3 and T eq 1)", dialect="rest")
    assert flt.bounds("S") == (Bound(3, True), Bound(3, True))


@pytest.mark.parametrize(
    "expr",
    [
        "S gt 1 or S lt 9",
        "not (S gt 1)",
        "(S gt 1 and S lt 5) or S eq 7",
        "S ne 4",
        "S eq null",
        "S gt T",
    ],
)
def test_bounds_none_for_or_not_and_non_ranges(expr):
    assert parse_filter(expr, dialect="rest").bounds("S") == (None, None)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty"),
        ("Name eq 'abc", "Unterminated string"),
        ("Name eq", "expected a field"),
        ("(Count eq 1", "expected ')'"),
        ("Count eq 1)", "expected 'and', 'or'"),
        ("Count eq 1 and", "end of input"),
        ("Count equals 1", "expected 'and', 'or'"),
        ("Count eq 1 xor Count eq 2", "expected 'and', 'or'"),
        ("Stamp gt datetimeoffset'2024-13-01'", "Invalid datetimeoffset literal"),
        ("Stamp gt datetimeoffset'yesterday'", "Invalid datetimeoffset literal"),
        ("G eq guid'not-a-guid'", "Invalid guid"),
        ("tolower(Name) eq 'x'", "unknown function 'tolower'"),
        ("startswith(Name)", "takes 2 arguments"),
        ("startswith(Name, 5)", "string arguments"),
        ("Name eq 'x' and 'y'", "not a boolean condition"),
        ("Count eq #", "unexpected"),
        ("and eq 1", "expected a field"),
    ],
)
def test_syntax_errors_have_clear_messages(expr, message):
    with pytest.raises(FilterSyntaxError, match=re.escape(message)):
        parse_filter(expr, dialect="rest")


def test_unknown_dialect_is_a_programming_error():
    with pytest.raises(ValueError, match="dialect"):
        parse_filter("A eq 1", dialect="odata5")


def test_evaluation_is_fast():
    flt = parse_filter(
        "LastModifiedDateTime gt datetimeoffset'2024-01-01T00:00:00+02:00' and "
        "LastModifiedDateTime le datetimeoffset'2024-06-01T00:00:00+02:00' and Status ne 'X'",
        dialect="rest",
    )
    base = datetime(2023, 1, 1, tzinfo=UTC)
    rows = [
        {"LastModifiedDateTime": base + timedelta(hours=i), "Status": "Open"}
        for i in range(100_000)
    ]
    start = time.perf_counter()
    hits = sum(1 for row in rows if flt.matches(row.get))
    elapsed = time.perf_counter() - start
    assert hits == sum(
        1
        for row in rows
        if datetime(2023, 12, 31, 22, tzinfo=UTC)
        < row["LastModifiedDateTime"]
        <= datetime(2024, 5, 31, 22, tzinfo=UTC)
    )
    assert elapsed < 2.0, f"100k rows took {elapsed:.2f}s"
