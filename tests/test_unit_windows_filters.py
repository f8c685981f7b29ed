"""Pure logic: window planning, stamps in milliseconds and $filter literals."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from tap_acumatica.datetimes import from_ms, stamp_ms, to_ms, truncate_ms
from tap_acumatica.filters import datetime_literal, window_filter
from tap_acumatica.windows import (
    RESOLUTION,
    Window,
    WindowPlanner,
    plan_windows,
    split_at_quantiles,
)

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)


def ms(n: int) -> dt.datetime:
    return T0 + dt.timedelta(milliseconds=n)


def count_in(window: Window, stamps: list[dt.datetime]) -> int:
    return sum(1 for s in stamps if window.start < s <= window.end)


def test_windows_cover_range_contiguously_and_fit_target() -> None:
    rng = random.Random(3)
    stamps = sorted(ms(rng.randrange(0, 10_000_000)) for _ in range(25_000))
    windows = plan_windows(ms(-1), ms(10_000_000), stamps, target=900)
    assert windows[0].start == ms(-1)
    assert windows[-1].end == ms(10_000_000)
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
    assert sum(count_in(w, stamps) for w in windows) == len(stamps)
    assert all(count_in(w, stamps) <= 900 for w in windows)
    # Not wastefully small either: about len/target windows.
    assert len(windows) <= len(stamps) // 900 * 2 + 2


def test_run_of_equal_stamps_gets_its_own_one_millisecond_window() -> None:
    stamps = sorted([ms(5)] * 50 + [ms(7)] * 3000 + [ms(9)] * 50)
    windows = plan_windows(ms(0), ms(20), stamps, target=100)
    big = [w for w in windows if count_in(w, stamps) > 100]
    assert len(big) == 1
    assert big[0].end == ms(7)
    assert big[0].end - big[0].start == RESOLUTION
    assert not big[0].splittable
    assert sum(count_in(w, stamps) for w in windows) == len(stamps)


@pytest.mark.parametrize("seed", range(8))
def test_planner_fed_part_by_part_plans_what_the_whole_census_plans(seed: int) -> None:
    rng = random.Random(seed)
    stamps = sorted(ms(rng.randrange(0, 50_000)) for _ in range(rng.randrange(0, 6000)))
    stamps += [ms(31_337)] * rng.choice([0, 5, 400, 2500])  # a bulk import on one stamp
    stamps.sort()
    start, end, target = ms(-1), ms(60_000), rng.choice([1, 7, 100, 980])
    cuts = sorted({rng.randrange(0, 60_000) for _ in range(rng.randrange(0, 40))})
    bounds = [start, *(ms(c) for c in cuts), end]
    planner = WindowPlanner(start, end, target)
    planned: list[Window] = []
    for a, b in itertools.pairwise(bounds):
        planned += planner.add(b, [s for s in stamps if a < s <= b])
        # Only stamps not yet planned into a window are kept.
        assert all(s > planner.cursor for s in planner.pending)
    planned += planner.finish()
    assert planner.finish() == []
    assert planned == plan_windows(start, end, stamps, target)


def test_window_split_halves_cover_window() -> None:
    window = Window(ms(0), ms(10))
    first, second = window.split()
    assert first.start == ms(0)
    assert second.end == ms(10)
    assert first.end == second.start
    tiny = Window(ms(0), ms(1))
    assert not tiny.splittable


def test_empty_census_gives_one_window() -> None:
    assert plan_windows(ms(0), ms(10), [], target=5) == [Window(ms(0), ms(10))]


def test_stamps_in_milliseconds_round_trip() -> None:
    assert to_ms(dt.datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert from_ms(to_ms(ms(1234))) == ms(1234)
    assert from_ms(-1) == dt.datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    # Offsets and 1-7 fraction digits as Acumatica sends them; sub-millisecond digits drop.
    assert stamp_ms("2024-01-01T03:00:00.0345678+03:00") == to_ms(ms(34))
    assert stamp_ms("2024-01-01T00:00:00.034") == to_ms(ms(34))  # no offset: UTC
    assert truncate_ms(ms(34) + dt.timedelta(microseconds=999)) == ms(34)


def test_split_at_quantiles_cuts_at_sampled_stamps_into_similar_parts() -> None:
    rng = random.Random(5)
    window = Window(ms(0), ms(1_000_000))
    sample = sorted(to_ms(ms(rng.randrange(1, 1_000_001))) for _ in range(1600))
    parts = split_at_quantiles(window, sample)
    assert parts[0].start == window.start
    assert parts[-1].end == window.end
    assert all(a.end == b.start and a.start < a.end for a, b in itertools.pairwise(parts))
    assert len(parts) == 16
    assert all(to_ms(p.end) in sample for p in parts[:-1])  # cuts are stamp values
    sizes = [sum(1 for v in sample if to_ms(p.start) < v <= to_ms(p.end)) for p in parts]
    assert sum(sizes) == len(sample)
    assert max(sizes) <= 2 * len(sample) // 16


def test_split_at_quantiles_isolates_a_shared_stamp_and_falls_back_to_halving() -> None:
    window = Window(ms(0), ms(100))
    # Every sampled row on one stamp inside the window: one cut, at that stamp.
    parts = split_at_quantiles(window, [to_ms(ms(40))] * 500)
    assert parts == [Window(ms(0), ms(40)), Window(ms(40), ms(100))]
    # ...on the window's end (no quantile cuts inside): the stamp gets a 1 ms window.
    parts = split_at_quantiles(window, [to_ms(ms(100))] * 500)
    assert parts == [Window(ms(0), ms(99)), Window(ms(99), ms(100))]
    # Nothing to cut at inside the window: halve it.
    small = Window(ms(0), ms(2))
    assert split_at_quantiles(small, [to_ms(ms(0))] * 10) == list(small.split())


def test_datetime_literals_carry_utc_explicitly() -> None:
    moment = dt.datetime(
        2024, 7, 15, 13, 31, 28, 402_999, tzinfo=dt.timezone(dt.timedelta(hours=3))
    )
    assert datetime_literal(moment) == "datetimeoffset'2024-07-15T10:31:28.402+00:00'"
    assert datetime_literal(moment, "odata3") == "datetime'2024-07-15T10:31:28.402'"
    assert datetime_literal(moment, "odata4") == "2024-07-15T10:31:28.402Z"
    with pytest.raises(ValueError):
        datetime_literal(moment, "sql")


def test_window_filter() -> None:
    text = window_filter("LastModified", ms(0), ms(1000))
    assert text == (
        "LastModified gt datetimeoffset'2024-01-01T00:00:00.000+00:00' and "
        "LastModified le datetimeoffset'2024-01-01T00:00:01.000+00:00'"
    )
    assert window_filter("X", None, ms(0)).startswith("X le ")
